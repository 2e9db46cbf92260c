"""`arbflow trade --mode paper` as a user runs it: a long-running process tailing md.*,
fed by `arbflow replay --publish-only`, watched with `arbflow dashboard --once`."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from arbflow.model.config import Config
from tests.markets import two_venue_market as _market

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")


def _env(config: Config, kafka_bootstrap: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    return {**env, "KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix + "trade.",
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix + "trade.",
            "ARBFLOW_RECOVERY__DIR": str(Path(tempfile.mkdtemp(prefix="arbflow-recovery-"))),
            # a ticker-only market: the soft metrics score a neutral 0.5, so the gate is lowered
            "ARBFLOW_SCANNER__MIN_SCORE": "0", "ARBFLOW_SIGNALS__FUNDING_SILENT_AFTER_S": "0"}


def _interrupt(trader: subprocess.Popen[str]) -> None:
    """Ctrl-C as a user would; killed only if it does not stop within 30 s."""
    trader.send_signal(signal.SIGINT)
    try:
        trader.wait(timeout=30)
    except subprocess.TimeoutExpired:
        trader.kill()
        trader.wait()


def _dashboard(env: dict[str, str]) -> str:
    result = subprocess.run([ARBFLOW, "dashboard", "--once"], env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.under_load
def test_paper_trading_a_replayed_market_shows_on_the_dashboard(config: Config, kafka_bootstrap: str,
                                                                 redis_url: str, tmp_path: Path) -> None:
    env = _env(config, kafka_bootstrap, redis_url)
    assert "no portfolio state" in _dashboard(env)
    log = tmp_path / "trade.log"
    with log.open("w") as sink:
        trader = subprocess.Popen([ARBFLOW, "trade", "--mode", "paper", "--from-beginning", "--metrics-port", "0"],
                                  env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        published = subprocess.run([ARBFLOW, "replay", str(_market(tmp_path / "market.jsonl")), "--publish-only"],
                                   env=env, capture_output=True, text=True, timeout=120, check=False)
        assert published.returncode == 0, published.stderr
        assert "md.ticker 80" in published.stderr and "md.funding 2" in published.stderr
        deadline, screen = time.monotonic() + 90, ""
        while time.monotonic() < deadline and trader.poll() is None:
            screen = _dashboard(env)
            if "Active positions (1)" in screen:
                break
            time.sleep(1)
        assert trader.poll() is None, log.read_text()
        assert "no portfolio state" not in screen, screen
        assert "Active positions (1)" in screen and "no active position" not in screen, screen
        assert "open notional $" in screen and "paper trading md.*" in log.read_text()
    finally:
        _interrupt(trader)
    assert trader.returncode == 0 and "stopped" in log.read_text(), log.read_text()  # a clean stop on SIGINT


def test_replay_reports_its_progress_in_plain_lines_when_not_a_terminal(config: Config, kafka_bootstrap: str,
                                                                       redis_url: str, tmp_path: Path) -> None:
    env = _env(config, kafka_bootstrap, redis_url)
    result = subprocess.run([ARBFLOW, "replay", str(_market(tmp_path / "market.jsonl")), "--no-trade"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "replaying 1 file(s), 85 lines …" in lines and "publishing: 85 records to go" in lines
    done = next(i for i, line in enumerate(lines) if line.startswith("publishing: done, 85 records in"))
    assert lines[done + 1] == "running the dataflow over 85 records …"  # the phase ends before the flow runs
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr  # no bar, no escape codes in a log


def test_live_mode_refuses_to_start_without_venues_keys_or_confirmation(config: Config, kafka_bootstrap: str,
                                                                        redis_url: str) -> None:
    env = _env(config, kafka_bootstrap, redis_url)

    def run(*args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ARBFLOW, "trade", "--mode", "live", "--metrics-port", "0", *args],
                              env={**env, **(extra or {})}, capture_output=True, text=True, timeout=60, check=False,
                              stdin=subprocess.DEVNULL)

    no_venues = run()
    assert no_venues.returncode == 2 and "--venues" in no_venues.stderr
    unknown = run("--venues", "binance,nasdaq")
    assert unknown.returncode == 2 and "no live gateway for nasdaq" in unknown.stderr
    no_keys = run("--venues", "binance")
    assert no_keys.returncode == 2 and "ARBFLOW_BINANCE_API_KEY" in no_keys.stderr
    keys = {"ARBFLOW_BINANCE_API_KEY": "k-not-shown", "ARBFLOW_BINANCE_SECRET": "s-not-shown"}
    unconfirmed = run("--venues", "binance", extra=keys)
    assert unconfirmed.returncode == 2 and "--confirm-live" in unconfirmed.stderr
    assert "k-not-shown" not in unconfirmed.stderr + no_keys.stderr and "s-not-shown" not in unconfirmed.stderr


def test_live_mode_reconciles_with_the_venue_trades_and_stops_cleanly(config: Config, kafka_bootstrap: str,
                                                                      redis_url: str, tmp_path: Path) -> None:
    from tests.stubs.server import StubServer
    from tests.stubs.trading import API_KEY, SECRET, BinanceFutures

    env = {**_env(config, kafka_bootstrap, redis_url), "ARBFLOW_BINANCE_API_KEY": API_KEY,
           "ARBFLOW_BINANCE_SECRET": SECRET}
    log = tmp_path / "live.log"
    with StubServer(BinanceFutures()) as stub:
        overrides = [f"--endpoint=binance.{path}={url}" for path, url in stub.endpoints.items()]
        with log.open("w") as sink:
            trader = subprocess.Popen([ARBFLOW, "trade", "--mode", "live", "--venues", "binance", "--confirm-live",
                                       "--metrics-port", "0", *overrides], env=env, stdout=sink,
                                      stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and trader.poll() is None and "gateway reconciled" not in log.read_text():
                time.sleep(0.3)
            assert "LIVE trading on binance: gateway reconciled" in log.read_text(), log.read_text()
            # reconciliation swept the venue's open orders (signed with the key) before any order
            assert ("GET", "/fapi/v1/openOrders") in {(m, path) for m, path, _ in stub.venue.requests}
        finally:
            _interrupt(trader)
    text = log.read_text()
    assert trader.returncode == 0 and "stopped" in text, text
    assert SECRET not in text


def _orders(config: Config, kafka_bootstrap: str) -> int:
    from arbflow.connectors import kafka

    topic = config.kafka.topic_prefix + "trade." + "exec.order"
    return sum(1 for _ in kafka.read_topic(kafka_bootstrap, topic))


def _trade_until(env: dict[str, str], log: Path, done: Callable[[], bool], *args: str) -> str:
    with log.open("w") as sink:
        trader = subprocess.Popen([ARBFLOW, "trade", "--mode", "paper", "--from-beginning", "--metrics-port", "0",
                                   *args], env=env, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and trader.poll() is None and not done():
            time.sleep(0.5)
        time.sleep(2)  # past a snapshot (interval 0.5 s below)
    finally:
        _interrupt(trader)
    assert trader.returncode == 0, log.read_text()
    return log.read_text()


def test_a_restarted_trader_resumes_from_its_snapshot_instead_of_trading_the_history_again(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = {**_env(config, kafka_bootstrap, redis_url), "ARBFLOW_RECOVERY__SNAPSHOT_INTERVAL_S": "0.5"}
    published = subprocess.run([ARBFLOW, "replay", str(_market(tmp_path / "market.jsonl")), "--publish-only"],
                               env=env, capture_output=True, text=True, timeout=120, check=False)
    assert published.returncode == 0, published.stderr
    first = _trade_until(env, tmp_path / "1.log", lambda: _orders(config, kafka_bootstrap) > 0)
    assert "recovery: snapshots every 0.5 s" in first
    orders = _orders(config, kafka_bootstrap)
    assert orders > 0
    # --from-beginning again, but the snapshot holds the input offsets and the desks' state:
    # nothing of the history is traded a second time
    started = time.monotonic()
    _trade_until(env, tmp_path / "2.log", lambda: time.monotonic() - started > 8)  # ample for this market
    assert _orders(config, kafka_bootstrap) == orders
    # the check bites: without recovery the same command trades the history again
    _trade_until(env, tmp_path / "3.log", lambda: _orders(config, kafka_bootstrap) > orders, "--no-recovery")
    assert _orders(config, kafka_bootstrap) > orders


def test_cluster_options_go_together(config: Config, kafka_bootstrap: str, redis_url: str) -> None:
    env = _env(config, kafka_bootstrap, redis_url)
    for args, message in ((["--process-id", "0"], "go together"),
                          (["--process-id", "2", "--addresses", "a:1;b:1"], "not an index")):
        result = subprocess.run([ARBFLOW, "scan", "--metrics-port", "0", *args], env=env, capture_output=True,
                                text=True, timeout=60, check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
