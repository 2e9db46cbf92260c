"""`arbflow trade` prints its status line as an operator reads it: JSON log lines on stderr
(`--log-format json`) from the `arbflow.status` component with records/s, lag, rejects by
reason, open trades and health — fed by `arbflow replay --publish-only`; the same file
published a second time goes back in time and the line turns into a WARNING naming
LATE_RECORD. Every `--status-every` (0.5 s here, 10 s by default)."""

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arbflow.model.config import Config
from tests.integration.test_trade_cli import ARBFLOW, _env, _interrupt
from tests.markets import two_venue_market

pytestmark = pytest.mark.integration


def _status_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for text in log.read_text().splitlines():
        if text.startswith("{"):
            line = json.loads(text)
            if line["logger"] == "arbflow.status":
                lines.append(line)
    return lines


def _wait_for(log: Path, trader: subprocess.Popen[str], found: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and trader.poll() is None:
        match = next((line for line in _status_lines(log) if found(line)), None)
        if match is not None:
            return match
        time.sleep(0.3)
    raise AssertionError(f"no such status line; the log:\n{log.read_text()}")


def _publish(env: dict[str, str], market: Path, *, again: bool = False) -> None:
    """`replay --publish-only`; `again`: a second copy on purpose (a re-run publishes nothing twice)."""
    published = subprocess.run([ARBFLOW, "replay", str(market), "--publish-only", *(["--again"] if again else [])],
                               env=env, capture_output=True, text=True, timeout=120, check=False)
    assert published.returncode == 0, published.stderr


def test_trade_reports_rate_lag_rejects_and_open_trades_in_json_status_lines(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = {**_env(config, kafka_bootstrap, redis_url), "ARBFLOW_SIGNALS__LATE_TOLERANCE_MS": "1000"}
    market, log = two_venue_market(tmp_path / "market.jsonl"), tmp_path / "trade.log"
    with log.open("w") as sink:
        trader = subprocess.Popen([ARBFLOW, "--log-format", "json", "trade", "--mode", "paper", "--from-beginning",
                                   "--metrics-port", "0", "--status-every", "0.5"], env=env, stdout=sink,
                                  stderr=subprocess.STDOUT, text=True)
    try:
        _publish(env, market)
        traded = _wait_for(log, trader, lambda line: "open trades 1," in line["msg"])
        assert traded["msg"].startswith("trade: ") and " records/s (" in traded["msg"] and ", lag " in traded["msg"]
        assert "margin health " in traded["msg"] and "stale venues " in traded["msg"]
        assert traded["ts"].endswith("Z") and isinstance(traded["ts_ms"], int)
        _publish(env, market, again=True)  # the same records again: behind the desks' stream time
        late = _wait_for(log, trader, lambda line: "LATE_RECORD" in line["msg"])
        assert late["level"] == "WARNING" and "rejects LATE_RECORD " in late["msg"]
    finally:
        _interrupt(trader)
    assert trader.returncode == 0, log.read_text()
    assert _status_lines(log)[-1]["msg"].startswith("trade: ")  # the last window, logged on the way out
