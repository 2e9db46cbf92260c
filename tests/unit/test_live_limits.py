"""The live gateway's order bucket, limits and credentials (sinks/gateway/limits.py,
sinks/gateway/credentials.py) — no venue involved."""

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from arbflow.model.errors import ConfigError
from arbflow.sinks.gateway.credentials import Credentials, credentials, make_exchange
from arbflow.sinks.gateway.limits import LiveLimits, OrderBucket, Timer
from tests.integration.live_venue_support import ManualTimer


def bucket(rate: str, reserve: int) -> tuple[OrderBucket, ManualTimer]:
    manual = ManualTimer()
    limits = LiveLimits(max_order_notional=Decimal(1), max_venue_notional=Decimal(1), orders_per_s=Decimal(rate),
                        exit_reserve=reserve)
    return OrderBucket(limits, Timer(now=manual.now, sleep=manual.sleep)), manual


def test_entries_leave_the_reserve_to_exits_and_wait_for_refill() -> None:
    # 4 orders/s, reserve 2: capacity 4. Two entries take 4 → 2; exits then go while ≥ 1 token
    # is there (2 → 0); an entry needs 1 + reserve = 3 tokens and waits 3 / 4 = 0.75 s.
    limiter, manual = bucket("4", 2)

    async def run() -> None:
        await limiter.take(reserved=False)
        await limiter.take(reserved=False)
        assert manual.sleeps == []
        await limiter.take(reserved=True)  # 2 → 1: the reserve serves the exit at once
        await limiter.take(reserved=True)  # 1 → 0
        assert manual.sleeps == []
        await limiter.take(reserved=False)  # needs 3 from 0: (3 − 0) / 4 s

    asyncio.run(run())
    assert manual.sleeps == [pytest.approx(0.75)]


def test_a_slow_rate_still_holds_one_token_plus_the_reserve() -> None:
    # 0.5 orders/s with reserve 1: capacity max(0.5, 2) = 2, so an entry can go at once
    limiter, manual = bucket("0.5", 1)

    async def run() -> None:
        await limiter.take(reserved=False)  # 2 → 1
        await limiter.take(reserved=True)  # 1 → 0
        await limiter.take(reserved=True)  # needs 1: 1 / 0.5 = 2 s

    asyncio.run(run())
    assert manual.sleeps == [pytest.approx(2.0)]


@pytest.mark.parametrize("field,value", [("max_order_notional", Decimal(0)), ("orders_per_s", Decimal(-1)),
                                         ("exit_reserve", -1)])
def test_limits_refuse_values_that_cannot_work(field: str, value: object) -> None:
    good: dict[str, object] = {"max_order_notional": Decimal(1), "max_venue_notional": Decimal(1),
                               "orders_per_s": Decimal(1), "exit_reserve": 0}
    with pytest.raises(ConfigError):
        LiveLimits(**{**good, field: value})  # type: ignore[arg-type]


def test_credentials_come_from_the_environment_or_secret_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "okx_secret"
    secret_file.write_text("s3cret-from-file\n")
    env = {"ARBFLOW_OKX_API_KEY": "key-1", "ARBFLOW_OKX_SECRET_FILE": str(secret_file),
           "ARBFLOW_OKX_PASSWORD": "pass-phrase"}
    found = credentials("okx", env)
    assert (found.api_key, found.secret, found.password) == ("key-1", "s3cret-from-file", "pass-phrase")
    assert "key-1" not in repr(found) and "s3cret" not in repr(found) and "pass-phrase" not in str(found)


def test_missing_or_doubly_set_credentials_are_config_errors_without_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        credentials("binance", {"ARBFLOW_BINANCE_API_KEY": "visible-key"})
    assert missing.value.key == "ARBFLOW_BINANCE_SECRET" and "visible-key" not in str(missing.value)
    (tmp_path / "k").write_text("file-key")
    with pytest.raises(ConfigError) as both:
        credentials("binance", {"ARBFLOW_BINANCE_API_KEY": "env-key", "ARBFLOW_BINANCE_API_KEY_FILE":
                                str(tmp_path / "k"), "ARBFLOW_BINANCE_SECRET": "x"})
    assert "env-key" not in str(both.value) and "file-key" not in str(both.value)


def test_redact_hides_keys_and_request_signatures() -> None:
    creds = Credentials("AKEY123", "SSECRET456", "PPASS")
    text = ("GET https://x/fapi/v1/order?symbol=BTCUSDT&signature=abcdef0123 {'X-MBX-APIKEY': 'AKEY123'} "
            "SSECRET456 PPASS")
    redacted = creds.redact(text)
    assert "AKEY123" not in redacted and "SSECRET456" not in redacted and "PPASS" not in redacted
    assert "abcdef0123" not in redacted and "signature=***" in redacted and "symbol=BTCUSDT" in redacted


def test_make_exchange_refuses_an_endpoint_path_ccxt_does_not_have() -> None:
    with pytest.raises(ConfigError, match=r"api\.fapiPrivat"):
        make_exchange("binance", Credentials("k", "s"), {"api.fapiPrivat": "http://127.0.0.1:1"})
