"""Shared fixtures: a real Tansu broker and a real redis-server on free ports for the
session, and per-test configurations with unique topic and key prefixes."""

import decimal
import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from confluent_kafka.admin import AdminClient

from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.model.config import Config, parse_config

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "fixtures" / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"


@pytest.fixture(autouse=True)
def fresh_decimal_context() -> Iterator[None]:
    """Each test starts with Python's default decimal context. ccxt's `decimal_to_precision`
    changes the calling thread's context for good (ROUND_HALF_UP, an Underflow trap); after a
    test that ran ccxt in this thread, exact expectations of later tests would otherwise
    depend on the test order. (The dataflow steps fix their own context: flows/stateful.py.)"""
    decimal.setcontext(decimal.Context())
    yield


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def kafka_bootstrap(services_dir: Path) -> Iterator[str]:
    """A Tansu broker (memory storage) for the whole session, stopped at the end."""
    port = process.free_port()
    tansu.start(services_dir, port, timeout_s=30)
    yield f"127.0.0.1:{port}"
    process.stop(services_dir, tansu.NAME, grace_s=2.0)


@pytest.fixture(scope="session")
def redis_url(services_dir: Path) -> Iterator[str]:
    """A redis-server of our own (never the machine's 6379), stopped at the end."""
    port = process.free_port()
    redis_server.start(services_dir, port, timeout_s=30)
    yield f"redis://127.0.0.1:{port}/0"
    process.stop(services_dir, redis_server.NAME)


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


@pytest.fixture
def config(kafka_bootstrap: str, redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Config]:
    """A config pointing at the session services with unique topic/key prefixes; the
    test's topics and keys are deleted afterwards."""
    cfg = parse_config({"kafka": {"topic_prefix": prefix, "partitions": 4},
                        "redis": {"key_prefix": prefix},
                        "infra": {"state_dir": str(tmp_path / "state")}},
                       {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url})
    yield cfg
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=10).values():
            future.result(timeout=10)


def slice_of_bundled(path: Path, lines: int, extra: list[bytes] | None = None) -> Path:
    """The first `lines` lines of the bundled replay file (plus `extra` raw lines) as a
    new replay file."""
    kept = []
    with gzip.open(BUNDLED, "rb") as handle:
        for _ in range(lines):
            kept.append(handle.readline())
    kept += [line.rstrip(b"\n") + b"\n" for line in extra or []]
    path.write_bytes(b"".join(kept))
    return path


BAR_HISTORY = REPO / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"


def bars_before(path: Path, end_ms: int) -> Path:
    """The bundled 8 h bar history's rows opening before `end_ms`, with its header, as a new
    .csv.gz at `path`."""
    with gzip.open(BAR_HISTORY, "rt", encoding="utf-8") as source, gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(source.readline())
        for line in source:
            if int(line.split(",", 1)[0]) < end_ms:
                out.write(line)
    return path


COMPOSE_FILE = REPO / "docker-compose.kafka.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    """docker-compose.kafka.yml, parsed."""
    import yaml

    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict)
    return document
