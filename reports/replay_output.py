"""What `arbflow replay --out DIR` writes: the files of `reports.output_files.REPLAY_OUTPUTS` —
summary.json, report.html (the page of `reports.html`), trades.jsonl and trades.csv (the last
state of each trade), orders.jsonl (every order event) and portfolio.json (each desk's final
ledger and the totals)."""

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from arbflow.flows.replay import ReplaySummary
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.reports.configuration import plain, redacted
from arbflow.reports.html import ReportInputs, write_report
from arbflow.reports.output_files import ORDERS, PORTFOLIO, REPORT, SUMMARY, TRADES_CSV, TRADES_JSONL

TRADE_COLUMNS: Final = (
    "trade_id", "asset", "status", "long_venue", "long_symbol", "short_venue", "short_symbol", "qty", "notional",
    "entry_time", "entry_long_px", "entry_short_px", "entry_spread_bps", "exit_time", "exit_long_px",
    "exit_short_px", "exit_reason", "basis_pnl", "funding_pnl", "fees", "slippage", "leg_outs", "leg_out_cost",
    "realised_pnl", "projected_profit")


def write_outputs(out_dir: Path, config: Config, files: tuple[Path, ...], summary: ReplaySummary,
                  document: dict[str, Any], *, title: str = "arbflow replay",
                  assumptions: list[tuple[str, str]] | None = None) -> Path:
    """Every file of a replay into `out_dir` (created); returns the report's path. A backtest
    names itself in `title` and lists its quote model's `assumptions` on the page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / SUMMARY).write_bytes(codec.dumps(document))
    write_trading_files(out_dir, summary)
    return write_replay_report(out_dir, config, files, summary, document, title=title, assumptions=assumptions)


def write_replay_report(out_dir: Path, config: Config, files: tuple[Path, ...], summary: ReplaySummary,
                        document: dict[str, Any], *, title: str = "arbflow replay",
                        assumptions: list[tuple[str, str]] | None = None) -> Path:
    """report.html from the records the run read back (`document` is summary.json's content)."""
    outputs = summary.outputs
    return write_report(out_dir / REPORT, ReportInputs(
        title=title, files=[str(f) for f in files], summary=document, config=redacted(plain(config)),
        assumptions=list(assumptions or ()),
        basis=outputs.get(topics.SIGNAL_BASIS, []), latency=outputs.get(topics.SIGNAL_LATENCY, []),
        opportunities=outputs.get(topics.ARB_OPPORTUNITY, []), alerts=outputs.get(topics.RISK_ALERT, []),
        trades=summary.final_trades(), portfolio=outputs.get(topics.PORTFOLIO_STATE, []),
        funding=outputs.get(topics.MD_FUNDING, []),
        execution=bool(document.get("trading", {}).get("enabled"))))


def _iso(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat(timespec="milliseconds")


def write_trading_files(out_dir: Path, summary: ReplaySummary) -> None:
    """trades.jsonl and trades.csv (the last state of each trade; CSV money as exact decimal
    strings, times ISO-8601 UTC), orders.jsonl (every order event) and portfolio.json (each
    desk's final ledger and the totals)."""
    trades = summary.final_trades()
    (out_dir / TRADES_JSONL).write_bytes(b"".join(codec.encode(t) + b"\n" for t in trades))
    with (out_dir / TRADES_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for t in trades:
            row = {name: getattr(t, name, None) for name in TRADE_COLUMNS}
            row |= {"entry_time": _iso(t.ts_entry), "exit_time": _iso(t.ts_exit), "leg_outs": len(t.leg_outs)}
            writer.writerow({k: "" if v is None else str(v) for k, v in row.items()})
    orders = summary.outputs.get(topics.EXEC_ORDER, [])
    (out_dir / ORDERS).write_bytes(b"".join(codec.encode(o) + b"\n" for o in orders))
    portfolio = {"totals": summary.trading_json(), "desks": [codec.loads(codec.encode(d))
                                                             for d in summary.final_portfolios()]}
    (out_dir / PORTFOLIO).write_bytes(codec.dumps(portfolio))
