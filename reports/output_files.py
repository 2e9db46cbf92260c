"""The files `arbflow replay --out DIR` (and `arbflow backtest --out DIR`) write, by name, with
what each holds: the one table the writers (`reports.replay_output`) take their names from and
the commands' `--help` lists (a test checks that the run writes exactly these).
Importing it costs nothing (no flow, no plotly), so the command line can build its help from it."""

from typing import Final

SUMMARY: Final = "summary.json"
REPORT: Final = "report.html"
TRADES_JSONL: Final = "trades.jsonl"
TRADES_CSV: Final = "trades.csv"
ORDERS: Final = "orders.jsonl"
PORTFOLIO: Final = "portfolio.json"

REPLAY_OUTPUTS: Final[dict[str, str]] = {
    SUMMARY: "the summary, as --json prints it",
    REPORT: "a self-contained page with the charts that opens offline",
    TRADES_JSONL: "the last state of each trade, one JSON record a line",
    TRADES_CSV: "the same trades as CSV: exact decimal strings, ISO-8601 UTC times",
    ORDERS: "every order event",
    PORTFOLIO: "each desk's final ledger and the totals",
}
BACKTEST_BARS: Final = "bars.jsonl.gz"  # `arbflow backtest --out` also keeps the converted replay file


def listed(outputs: dict[str, str] = REPLAY_OUTPUTS) -> str:
    """`summary.json (the summary, …), report.html (…), …` for a help text."""
    return ", ".join(f"{name} ({meaning})" for name, meaning in outputs.items())
