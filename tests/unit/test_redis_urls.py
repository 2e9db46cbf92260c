"""Redis with a password and TLS: every Redis client arbflow opens gets the configured URL
unchanged (redis-py reads `rediss://`, the user and password and the query options from it),
and an error names the server with the password masked. The constructor is replaced by a
recorder (our wiring is tested, no service is mocked)."""

from collections.abc import Callable
from typing import Any

import pytest
import redis

from arbflow.connectors.feeds import redis_compat
from arbflow.connectors.infra import redis_server
from arbflow.model.errors import ServiceUnavailable
from arbflow.sinks import redis_client
from arbflow.sinks.redis_feed import SignalRedisSink

URL = "rediss://arb:redis-pw-1d2e@cache.example:6380/2?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem"


class Opened(Exception):
    """Raised by the recording `from_url`: the URL has been captured."""


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []

    def from_url(url: str, **kwargs: Any) -> Any:
        seen.append(url)
        raise Opened

    monkeypatch.setattr(redis.Redis, "from_url", from_url)
    return seen


SITES: dict[str, Callable[[], Any]] = {
    "sinks.redis_client.connect": lambda: redis_client.connect(URL, 1.0),
    "redis_server.answers_ping": lambda: redis_server.answers_ping(URL, 1.0),
    "the flow's Redis sink": lambda: SignalRedisSink(URL, key_prefix="", timeout_s=1.0).build("s", 0, 1),
    "ingest from Redis": lambda: redis_compat.connect(URL, 1.0),
}


@pytest.mark.parametrize("site", sorted(SITES))
def test_every_redis_client_gets_the_url_unchanged(site: str, opened: list[str]) -> None:
    with pytest.raises(Opened):
        SITES[site]()
    assert opened == [URL]


def test_redis_py_reads_tls_user_and_password_from_the_url() -> None:
    client = redis.Redis.from_url(URL)
    kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is redis.SSLConnection
    assert (kwargs["username"], kwargs["password"], kwargs["host"], kwargs["port"], kwargs["db"]) == (
        "arb", "redis-pw-1d2e", "cache.example", 6380, 2)
    assert kwargs["ssl_cert_reqs"] == "required" and kwargs["ssl_ca_certs"] == "/etc/ca.pem"
    client.close()


def test_a_redis_that_does_not_answer_is_named_without_its_password() -> None:
    with pytest.raises(ServiceUnavailable) as error:
        redis_client.connect("redis://:redis-pw-8b8b@127.0.0.1:1/0", 0.5)
    assert "redis-pw-8b8b" not in str(error.value) and "redis://:***@127.0.0.1:1/0" in str(error.value)
