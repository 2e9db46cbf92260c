"""`arbflow infra up|down|status`: bring the Kafka and Redis that arbflow needs up, once.

Kafka: `kafka.bootstrap` (or `KAFKA_BOOTSTRAP`) points at an external cluster; when unset
the embedded Tansu broker is started on `infra.kafka_port` (0 = a free port; a busy
configured port that is not ours falls back to a free one). Redis: `redis.url` (or
`REDIS_URL`) points at an external server; when unset a redis-server is started on
`infra.redis_port` the same way. Idempotent: a service we already run is reused; `down`
stops only processes we started (pid file and executable must both match).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.model.config import Config
from arbflow.model.errors import ServiceUnavailable
from arbflow.model.secrets import mask_url

Origin = Literal["external", "embedded"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """Where one service is and whether it answers."""

    name: str
    origin: Origin
    address: str
    running: bool
    pid: int | None = None
    started_now: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoints:
    """The Kafka bootstrap and Redis URL every other command connects to."""

    kafka: Service
    redis: Service

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.address

    @property
    def redis_url(self) -> str:
        return self.redis.address


def _state_dir(config: Config) -> Path:
    return Path(config.infra.state_dir)


def _choose_port(configured: int) -> int:
    if configured == 0 or process.port_open(configured):
        return process.free_port()
    return configured


def _kafka_up(config: Config) -> Service:
    timeout = config.kafka.connect_timeout_s
    if config.kafka.bootstrap:
        if not tansu.answers_kafka(config.kafka.bootstrap, timeout, config.kafka.client):
            raise ServiceUnavailable(f"Kafka at {config.kafka.bootstrap} did not answer within {timeout:g} s "
                                     "(kafka.bootstrap / KAFKA_BOOTSTRAP)")
        return Service(name="kafka", origin="external", address=config.kafka.bootstrap, running=True)
    state = _state_dir(config)
    owned = process.read_owned(state, tansu.NAME)
    if owned is not None:
        address = f"127.0.0.1:{owned.port}"
        process.wait_until(lambda: tansu.answers_kafka(address, client=config.kafka.client),
                           timeout_s=config.infra.startup_timeout_s, what=f"the running Tansu broker on {address}")
        return Service(name="kafka", origin="embedded", address=address, running=True, pid=owned.pid)
    port = _choose_port(config.infra.kafka_port)
    owned = tansu.start(state, port, config.infra.startup_timeout_s, config.kafka.client)
    return Service(name="kafka", origin="embedded", address=f"127.0.0.1:{port}", running=True, pid=owned.pid,
                   started_now=True)


def _redis_up(config: Config) -> Service:
    timeout = config.redis.connect_timeout_s
    if config.redis.url:
        if not redis_server.answers_ping(config.redis.url, timeout):
            raise ServiceUnavailable(f"Redis at {mask_url(config.redis.url)} did not answer within {timeout:g} s "
                                     "(redis.url / REDIS_URL)")
        return Service(name="redis", origin="external", address=config.redis.url, running=True)
    state = _state_dir(config)
    owned = process.read_owned(state, redis_server.NAME)
    if owned is not None:
        url = f"redis://127.0.0.1:{owned.port}/0"
        if redis_server.answers_ping(url, timeout):
            return Service(name="redis", origin="embedded", address=url, running=True, pid=owned.pid)
        process.stop(state, redis_server.NAME)
    port = _choose_port(config.infra.redis_port)
    owned = redis_server.start(state, port, config.infra.startup_timeout_s)
    return Service(name="redis", origin="embedded", address=f"redis://127.0.0.1:{port}/0", running=True,
                   pid=owned.pid, started_now=True)


def up(config: Config) -> Endpoints:
    """Make sure Kafka and Redis are reachable, starting the embedded ones if needed."""
    return Endpoints(kafka=_kafka_up(config), redis=_redis_up(config))


def status(config: Config) -> Endpoints:
    """Where the services are and whether they answer; starts and stops nothing."""
    state = _state_dir(config)
    services = []
    for name, external, owned_name, probe, address_of in (
        ("kafka", config.kafka.bootstrap, tansu.NAME,
         lambda a: tansu.answers_kafka(a, config.kafka.connect_timeout_s, config.kafka.client),
         lambda p: f"127.0.0.1:{p}"),
        ("redis", config.redis.url, redis_server.NAME,
         lambda a: redis_server.answers_ping(a, config.redis.connect_timeout_s), lambda p: f"redis://127.0.0.1:{p}/0"),
    ):
        if external:
            services.append(Service(name=name, origin="external", address=external, running=probe(external)))
            continue
        owned = process.read_owned(state, owned_name)
        if owned is None:
            services.append(Service(name=name, origin="embedded", address="-", running=False))
        else:
            address = address_of(owned.port)
            services.append(Service(name=name, origin="embedded", address=address, running=probe(address),
                                    pid=owned.pid))
    return Endpoints(kafka=services[0], redis=services[1])


def down(config: Config) -> list[str]:
    """Stop the embedded services we started; returns the names of those stopped."""
    state = _state_dir(config)
    # Tansu keeps memory only and waits for connected clients on SIGTERM: 2 s is plenty.
    stopped = [tansu.NAME] if process.stop(state, tansu.NAME, grace_s=2.0) else []
    return stopped + ([redis_server.NAME] if process.stop(state, redis_server.NAME) else [])


def require(config: Config) -> Endpoints:
    """The endpoints of running services, or `ServiceUnavailable` telling what to run."""
    found = status(config)
    for service in (found.kafka, found.redis):
        if not service.running:
            hint = "check the address" if service.origin == "external" else "run `arbflow infra up`"
            raise ServiceUnavailable(f"{service.name} is not reachable ({service.origin} {service.address}); {hint}")
    return found
