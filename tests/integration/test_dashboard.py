"""`arbflow dashboard --once` run as a user would, asserting on what is on the screen."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from arbflow.connectors.infra.process import free_port
from arbflow.model.config import Config
from arbflow.model.signals import LatencyReading
from arbflow.sinks.redis_client import connect
from arbflow.sinks.redis_feed import SignalWriter
from tests.integration.test_redis_feed import T, _opportunity

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")


def _screen(env: dict[str, str]) -> str:
    result = subprocess.run([ARBFLOW, "dashboard", "--once"], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _env(redis_url: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    return {**env, "REDIS_URL": redis_url, "ARBFLOW_REDIS__KEY_PREFIX": prefix, "COLUMNS": "160"}


def test_the_dashboard_shows_opportunities_venues_and_the_portfolio_state(config: Config, redis_url: str) -> None:
    client = connect(redis_url, 2)
    SignalWriter(client, config.redis.key_prefix).write([
        _opportunity("okx", 90, T),
        LatencyReading(venue="okx", raw_mean_ms=35.5, corrected_mean_ms=12.5, offset_ms=23.0, offset_source="poll",
                       samples=50, stale=False, ts=T)])
    client.close()
    screen = _screen(_env(redis_url, config.redis.key_prefix))
    assert "Top opportunities" in screen and "okx BTC/USDT:USDT" in screen and "90" in screen
    assert "Venues" in screen and "12.5" in screen
    assert "no portfolio state" in screen


def test_the_dashboard_says_when_redis_is_unreachable() -> None:
    screen = _screen(_env(f"redis://127.0.0.1:{free_port()}/0", "x."))
    assert "Redis unreachable" in screen
