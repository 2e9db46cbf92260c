"""The README's paper-trading recipe, step by step as a user types it, after a `make run`:
the bundled capture and the funding history replayed (topics now full, their last funding
record 2024-08-09 08:00, later than the market to come), then `arbflow trade --mode paper
--no-recovery` waiting at the end of md.*, then `arbflow replay
fixtures/two-venue-market.jsonl --publish-only --speed 10`, and `arbflow dashboard --once`
shows the trade. Then an older replay into the same running trader: refused as late, and
said so in the trader's output within seconds (issue 17 item 1)."""

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from arbflow.model.config import Config
from tests.conftest import REPO, slice_of_bundled
from tests.integration.test_trade_cli import ARBFLOW, _dashboard, _interrupt

pytestmark = [pytest.mark.integration, pytest.mark.under_load]
MARKET = REPO / "fixtures" / "two-venue-market.jsonl"
FUNDING = REPO / "fixtures" / "funding" / "binance_website_funding_BTCUSDT_perp_2019-09-10_2024-08-09.utc.csv.gz"


def _env(config: Config, kafka_bootstrap: str, redis_url: str) -> dict[str, str]:
    """The test's own topics and keys; otherwise the environment the README's recipe sets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    return {**env, "KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix,
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix}


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ARBFLOW, *args], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _wait_for(done: Callable[[], bool], trader: subprocess.Popen[str], limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and trader.poll() is None and not done():
        time.sleep(0.5)


def test_the_readme_paper_trading_recipe_trades_after_make_run(config: Config, kafka_bootstrap: str,
                                                               redis_url: str, tmp_path: Path) -> None:
    env = _env(config, kafka_bootstrap, redis_url)
    # make run (on a slice of the capture, to keep it short): funding history + tickers, through the flow
    funding = tmp_path / "binance-btc-funding.jsonl.gz"
    _run("convert", "funding", str(FUNDING), "--out", str(funding), env=env)
    capture = slice_of_bundled(tmp_path / "capture.jsonl", 2_000)
    _run("replay", str(capture), str(funding), env={**env, "ARBFLOW_SIGNALS__FUNDING_SILENT_AFTER_S": "0"})
    # the recipe
    recipe = {**env, "ARBFLOW_SCANNER__MIN_SCORE": "0"}
    log = tmp_path / "trade.log"
    with log.open("w") as sink:
        trader = subprocess.Popen([ARBFLOW, "trade", "--mode", "paper", "--no-recovery", "--metrics-port", "0"],
                                  env=recipe, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(lambda: "paper trading md.*" in log.read_text(), trader)
        assert "reading what is published from now on" in log.read_text(), log.read_text()
        published = _run("replay", str(MARKET), "--publish-only", "--speed", "10", env=recipe)
        assert "md.ticker 80" in published.stderr and "md.funding 2" in published.stderr
        screen = ""

        def traded() -> bool:
            nonlocal screen
            screen = _dashboard(recipe)
            return "Active positions (1)" in screen

        _wait_for(traded, trader)
        assert trader.poll() is None, log.read_text()
        assert "Active positions (1)" in screen and "no portfolio state" not in screen, screen + log.read_text()
        assert "LATE_RECORD" not in log.read_text()  # nothing of make run was read first
        # an older stream into the same running trader: refused, and said so within seconds
        _run("replay", str(capture), "--publish-only", env=recipe)
        _wait_for(lambda: "LATE_RECORD" in log.read_text(), trader, limit_s=60)
        text = log.read_text()
        assert "records in the last 5 s (sent to dlq.<topic>): LATE_RECORD" in text, text
        assert "(md.ticker " in text and "the stream went back in time" in text, text
    finally:
        _interrupt(trader)
    assert trader.returncode == 0 and "stopped" in log.read_text(), log.read_text()
