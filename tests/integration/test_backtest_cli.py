"""`arbflow backtest` as a user runs it, over the first three days of the bundled 8 h bar
history (sliced here), against the session's real broker and redis-server."""

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from arbflow.model.config import Config
from tests.conftest import REPO

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
HISTORY = REPO / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"


def _first_rows(path: Path, rows: int) -> Path:
    with gzip.open(HISTORY, "rt", encoding="utf-8") as source:
        kept = [source.readline() for _ in range(rows + 1)]  # the header and `rows` rows
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("".join(kept))
    return path


def test_backtest_replays_bars_through_the_desks_and_prints_its_assumptions(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    # 180 rows = 10 bar opens (2023-01-01 00:00 → 01-04 00:00) × 18 instruments (3 venues × BTC, ETH ×
    # spot, linear, inverse): 180 quotes and 10 × 12 perp settlements.
    history = _first_rows(tmp_path / "head_utc.csv.gz", 180)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix,
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix,
            "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-")}
    out = tmp_path / "out"
    result = subprocess.run([ARBFLOW, "backtest", str(history), "--out", str(out)], env=env, capture_output=True,
                            text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "assumed half-spread h: 1 bps" in result.stdout
    assert "assumed depth per side: 250000 USD" in result.stdout
    assert "assumed fees binance (bps maker / taker): spot 10 / 10, perp 2 / 5" in result.stdout
    assert "assumed order style: taker: both legs marketable IOCs" in result.stdout
    assert "backtest: 300 records, wall time" in result.stderr
    assert "entries the desks refused: " in result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["published"] == {"md.ticker": 180, "md.funding": 120}
    assert summary["rejects"] == []
    assert summary["trading"]["enabled"] is True
    assert summary["assumptions"]["half-spread h"] == "1 bps"
    # the funding-silence rule is off: no leg is called stale for speaking once per 8 h
    assert "STALE_FUNDING" not in summary["opportunities"]
    # one scan per close, once all its quotes are in: no leg is judged on the quote of the close before
    # (VENUE_STALE); 9 closes scanned (the last one has no later record) × 2 assets × the candidates
    assert "VENUE_STALE" not in summary["opportunities"] and summary["opportunities"]
    page = (out / "report.html").read_text()
    assert "<h1>arbflow backtest</h1>" in page and "<h2>Assumptions</h2>" in page
    assert (out / "bars.jsonl.gz").is_file()


def test_backtest_brief_prints_the_engines_result_before_and_after_the_split(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    history = _first_rows(tmp_path / "head_utc.csv.gz", 180)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix + "brief.",
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix + "brief.",
            "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-")}
    result = subprocess.run([ARBFLOW, "backtest", str(history), "--split", "2023-01-02", "--brief"], env=env,
                            capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "Records per topic" not in result.stdout  # brief: not the summary's tables
    assert "the engine's result on 20000 USD (trades held at constant notional)" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith(("│ whole run", "│ before", "│ from"))]
    assert [row.split("│")[1].strip() for row in rows] == ["whole run", "before 2023-01-02", "from 2023-01-02"]
    assert "net P&L " in result.stdout and " USD on 20000 USD; " in result.stdout


def test_backtest_without_out_keeps_its_dead_letters_next_to_the_file(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    # The converted bars live in a scratch directory deleted at the end; the dead letters used to go there too.
    history = _first_rows(tmp_path / "head_utc.csv.gz", 180)
    with gzip.open(history, "rt", encoding="utf-8") as source:
        lines = source.read().splitlines(keepends=True)
    assert lines[2].split(",")[5] == "perp_linear"  # binance BTCUSDT at 2023-01-01 00:00, rate 0.0001
    lines[2] = lines[2].rsplit(",", 1)[0] + ",1e50\n"
    with gzip.open(history, "wt", encoding="utf-8") as out:
        out.write("".join(lines))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "160",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix + "dead.",
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix + "dead.",
            "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-")}
    result = subprocess.run([ARBFLOW, "backtest", str(history), "--json"], env=env, capture_output=True, text=True,
                            timeout=180, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    dead_letters = tmp_path / "head_utc.rejected.jsonl"
    assert f"dead letters: {dead_letters}" in result.stderr
    [dead] = [json.loads(line) for line in dead_letters.read_text().splitlines()]
    assert (dead["source"], dead["reason"]) == ("head_utc.csv.gz:3", "IMPOSSIBLE_RATE")
    # every good row still backtested: the refused row writes neither its quote nor its settlement
    assert json.loads(result.stdout)["published"] == {"md.ticker": 179, "md.funding": 119}
