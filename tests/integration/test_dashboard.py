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


def test_the_dashboard_shows_the_whole_portfolio_when_one_desk_of_two_has_reported(config: Config,
                                                                                 redis_url: str) -> None:
    from decimal import Decimal as D

    from prometheus_client import REGISTRY

    from arbflow.model.portfolio import PortfolioState

    prefix = config.redis.key_prefix
    client = connect(redis_url, 2)
    # An earlier run's desk under the same prefix, for an asset no longer configured: not counted.
    SignalWriter(client, prefix).write([PortfolioState(
        starting_capital=D(5_000), available=D(5_000), open_notional=D(0), realised_pnl=D(0), unrealised_pnl=D(0),
        cumulative_pnl=D(0), open_positions=0, closed_trades=0, win_count=0, loss_count=0, leg_out_count=0,
        leg_out_loss=D(0), asset="DOGE", ts=T - 1)])
    # The BTC desk of a 20,000 USD portfolio of two desks has 5,495 USD open; ETH has not reported.
    btc = PortfolioState(starting_capital=D(10_000), available=D(4_505), open_notional=D(5_495), realised_pnl=D(0),
                         unrealised_pnl=D(0), cumulative_pnl=D(0), open_positions=1, closed_trades=0, win_count=0,
                         loss_count=0, leg_out_count=0, leg_out_loss=D(0), margin_health=D("0.8"),
                         liquidation_distance=D("0.35"), asset="BTC", ts=T)
    SignalWriter(client, prefix, desks={"BTC": D(10_000), "ETH": D(10_000)}).write([btc])
    client.close()
    screen = _screen(_env(redis_url, prefix))
    # available 4,505 + 10,000; utilisation 5,495 / 20,000 = 27.475 % (one desk alone read 4,505 and 54.9 %)
    assert "14,505.00" in screen and "20,000.00" in screen and "27.5%" in screen
    assert "2 (1 reported, the rest hold their capital)" in screen
    assert REGISTRY.get_sample_value("arbflow_portfolio_available_usd") == 14_505.0
    assert REGISTRY.get_sample_value("arbflow_desk_margin_health", {"asset": "BTC"}) == 0.8
    assert REGISTRY.get_sample_value("arbflow_desk_margin_health", {"asset": "ETH"}) == 1.0
    assert REGISTRY.get_sample_value("arbflow_desk_liquidation_distance", {"asset": "BTC"}) == 0.35
