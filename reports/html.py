"""`report.html`: one self-contained page (plotly with its JavaScript inlined, opens
offline) answering what a replay found, from the records the run published.

Sections: the run (data, period, configuration), records and rejects, opportunities over
time by outcome, funding APR per venue over time, basis with its 5-minute median and the
Basis-at-Risk / 1st-percentile lines, venue latency (raw and clock-corrected), alerts, and
the trading sections (summary metrics exactly as in summary.json, equity and drawdown, PnL
decomposition, trades) — which say plainly when the run had no execution stage or no
trades, instead of drawing empty charts.
"""

import html
import json
import statistics
from bisect import bisect_left, insort
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from arbflow.model import codec
from arbflow.model.config import StrategyConfig
from arbflow.model.execution import PairTrade
from arbflow.model.market import FundingRate
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.model.signals import BasisPoint, LatencyReading, Opportunity
from arbflow.reports import page

MEDIAN_WINDOW_MS = 300_000
YEAR_MS = 365 * 86_400_000


@dataclass(slots=True, kw_only=True)
class ReportInputs:
    """Everything the page shows; records as published on their topics."""

    title: str
    files: list[str]
    summary: dict[str, Any]
    config: dict[str, Any]
    basis: list[BasisPoint] = field(default_factory=list)
    latency: list[LatencyReading] = field(default_factory=list)
    opportunities: list[Opportunity] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    trades: list[PairTrade] = field(default_factory=list)
    portfolio: list[PortfolioState] = field(default_factory=list)
    funding: list[FundingRate] = field(default_factory=list)
    execution: bool = False
    assumptions: list[tuple[str, str]] = field(default_factory=list)  # (what, value): a backtest's quote model


def _time(ts: int) -> datetime:
    return datetime.fromtimestamp(ts / 1000, tz=UTC)


def _rolling_median(points: list[BasisPoint]) -> list[float]:
    window: deque[tuple[int, float]] = deque()
    ordered: list[float] = []
    out = []
    for point in points:
        value = float(point.basis_bps)
        window.append((point.ts, value))
        insort(ordered, value)
        while window[0][0] <= point.ts - MEDIAN_WINDOW_MS:
            ordered.pop(bisect_left(ordered, window.popleft()[1]))
        out.append(statistics.median(ordered))
    return out


def _stop_bps(config: dict[str, Any]) -> float:
    """The basis-at-risk level the run used ([strategy] basis_stop_bps; the default without one)."""
    section = config.get("strategy")
    value = section.get("basis_stop_bps") if isinstance(section, dict) else None
    return float(value if value is not None else StrategyConfig().basis_stop_bps)


def _basis_figure(points: list[BasisPoint], stop_bps: float) -> go.Figure:
    figure = page.figure("Spot–perp basis (bps) with its 5-minute median", "bps")
    series: dict[tuple[str, str], list[BasisPoint]] = defaultdict(list)
    for point in points:
        series[(point.asset, point.venue)].append(point)
    for (asset, venue), rows in sorted(series.items()):
        times = [_time(p.ts) for p in rows]
        figure.add_trace(go.Scattergl(x=times, y=[float(p.basis_bps) for p in rows], mode="lines",
                                      name=f"{asset} {venue}", line={"width": 1}, opacity=0.5))
        figure.add_trace(go.Scattergl(x=times, y=_rolling_median(rows), mode="lines",
                                      name=f"{asset} {venue} 5-min median", line={"width": 2}))
        values = sorted(float(p.basis_bps) for p in rows)
        p01 = values[int(0.01 * (len(values) - 1))]
        figure.add_hline(y=p01, line_dash="dot", annotation_text=f"{asset} 1st percentile {p01:.2f}")
    figure.add_hline(y=stop_bps, line_dash="dash", line_color="red", annotation_text=f"Basis-at-Risk {stop_bps:g} bps")
    return figure


def _outcome_figure(opportunities: list[Opportunity]) -> go.Figure:
    figure = page.figure("Opportunities per minute by outcome", "candidates")
    per_minute: dict[str, Counter[datetime]] = defaultdict(Counter)
    for o in opportunities:
        per_minute[o.reason or "ACCEPTED"][_time(o.ts - o.ts % 60_000)] += 1
    for outcome, counts in sorted(per_minute.items()):
        minutes = sorted(counts)
        figure.add_trace(go.Bar(x=minutes, y=[counts[m] for m in minutes], name=outcome))
    figure.update_layout(barmode="stack")
    return figure


def _latency_figure(readings: list[LatencyReading]) -> go.Figure:
    figure = page.figure("Venue latency: clock-corrected 10 s mean (ms); the raw mean and the removed clock offset "
                     "are in the hover", "ms")
    by_venue: dict[str, list[LatencyReading]] = defaultdict(list)
    for reading in readings:
        by_venue[reading.venue].append(reading)
    for venue, rows in sorted(by_venue.items()):
        figure.add_trace(go.Scatter(
            x=[_time(r.ts) for r in rows], y=[r.corrected_mean_ms for r in rows], name=f"{venue} corrected",
            customdata=[(r.raw_mean_ms, r.offset_ms, r.offset_source) for r in rows],
            hovertemplate="%{y:.1f} ms corrected<br>raw %{customdata[0]:.1f} ms<br>offset %{customdata[1]:.0f} ms "
                          "(%{customdata[2]})"))
    figure.add_hline(y=200, line_dash="dash", line_color="red", annotation_text="stale above 200 ms")
    return figure


def _funding_figure(records: list[FundingRate]) -> go.Figure:
    figure = page.figure("Funding APR per venue and perp (rate × year ÷ interval, %)", "% per year")
    by_leg: dict[tuple[str, str], list[FundingRate]] = defaultdict(list)
    for record in records:
        if record.interval_ms > 0:
            by_leg[(record.venue, record.symbol)].append(record)
    for (venue, symbol), rows in sorted(by_leg.items()):
        rows.sort(key=lambda r: r.ts_local)
        figure.add_trace(go.Scatter(x=[_time(r.ts_local) for r in rows],
                                    y=[float(r.rate) * YEAR_MS / r.interval_ms * 100 for r in rows],
                                    mode="lines", name=f"{venue} {symbol}", line_shape="hv"))
    return figure


def _equity_figure(states: list[PortfolioState]) -> go.Figure:
    figure = page.figure("Equity: realised + unrealised PnL summed over the desks (USD), and its drawdown", "USD")
    latest: dict[str, Decimal] = {}
    times, totals = [], []
    for state in sorted(states, key=lambda s: s.ts):
        latest[state.asset or ""] = state.realised_pnl + state.unrealised_pnl
        times.append(_time(state.ts))
        totals.append(float(sum(latest.values(), Decimal(0))))
    figure.add_trace(go.Scatter(x=times, y=totals, mode="lines", name="equity", line_shape="hv"))
    peak, drawdown = float("-inf"), []
    for total in totals:
        peak = max(peak, total)
        drawdown.append(total - peak)
    figure.add_trace(go.Scatter(x=times, y=drawdown, mode="lines", name="drawdown", line_shape="hv"))
    return figure


def _pct(value: str | None, places: int = 2) -> str:
    return "-" if value is None else f"{Decimal(value) * 100:.{places}f} %"


def _performance_rows(perf: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary metrics, exactly the figures of summary.json's trading.performance."""
    def usd(value: str | None) -> str:
        return "-" if value is None else f"{Decimal(value):,.2f}"

    days = perf["period_ms"] / 86_400_000
    sharpe = perf["sharpe"]
    return [("period", f"{days:.2f} days"), ("starting capital (USD)", usd(perf["starting_capital"])),
            ("net P&L (USD)", usd(perf["net_pnl"])),
            ("final equity (USD)", usd(perf["final_equity"])), ("return", _pct(perf["total_return"], 3)),
            ("APR", _pct(perf["apr"]) if perf["apr"] is not None else "- (period under one day)"),
            ("Sharpe (daily, annualised)", "- (under three days)" if sharpe is None else f"{sharpe:.2f}"),
            ("max drawdown", f"{usd(perf['max_drawdown'])} USD ({_pct(perf['max_drawdown_frac'], 3)})"),
            ("utilisation (time-weighted)", _pct(perf["utilisation"])),
            ("trades / closed", f"{perf['trades']} / {perf['closed']}"), ("win rate", _pct(perf["win_rate"], 0)),
            ("average profit per closed trade (USD)", usd(perf["average_profit"])),
            ("leg-out rate (trades with a leg-out)", _pct(perf["leg_out_rate"], 0)),
            ("leg-out cost (USD)", usd(perf["leg_out_cost"]))]


def _trading(inputs: ReportInputs, figures: page.Figures) -> str:
    trades = sorted(inputs.trades, key=lambda t: t.ts_entry)
    metrics = _performance_rows(inputs.summary["trading"]["performance"])
    decomposition = [(f"{t.asset} {t.long_venue}→{t.short_venue}", t.trade_id, f"{t.basis_pnl:.4f}",
                      f"{t.funding_pnl:.4f}", f"{-t.fees:.4f}", f"{-t.slippage:.4f}", f"{-t.leg_out_cost:.4f}",
                      f"{t.realised_pnl:.4f}") for t in trades]
    rows = [(t.trade_id, t.status, _time(t.ts_entry).isoformat(), "" if t.ts_exit is None else
             _time(t.ts_exit).isoformat(), t.exit_reason or "", f"{t.notional:.2f}",
             "" if t.entry_spread_bps is None else f"{t.entry_spread_bps:.2f}", len(t.leg_outs),
             f"{t.realised_pnl:.4f}") for t in trades]
    html_parts = ["<h2>Trading</h2>", page.table(metrics, ("metric", "value")),
                  figures.html(_equity_figure(inputs.portfolio)),
                  "<h3>PnL decomposition per trade (USD)</h3>",
                  page.table(decomposition, ("pair", "trade", "basis", "funding", "fees", "slippage", "leg-out",
                                             "total")),
                  "<h3>Trades</h3>",
                  page.table(rows, ("trade", "status", "entry", "exit", "exit reason", "notional", "entry spread bps",
                                "leg-outs", "PnL"))]
    return "".join(html_parts)


def render(inputs: ReportInputs) -> str:
    """The whole page as one HTML string (plotly.js inlined once)."""
    parts: list[str] = []
    charts = [("Opportunities", _outcome_figure(inputs.opportunities), bool(inputs.opportunities)),
              ("Funding", _funding_figure(inputs.funding), any(r.interval_ms > 0 for r in inputs.funding)),
              ("Basis", _basis_figure(inputs.basis, _stop_bps(inputs.config)), bool(inputs.basis)),
              ("Latency", _latency_figure(inputs.latency), bool(inputs.latency))]
    figures = page.Figures()
    summary = inputs.summary
    parts.append(f"<h1>{html.escape(inputs.title)}</h1>")
    first, last = summary.get("first_ts"), summary.get("last_ts")
    period = f"{_time(first).isoformat()} → {_time(last).isoformat()}" if first and last else "no data"
    parts.append(f"<p>Data: {html.escape(', '.join(inputs.files))}<br>Period (event time, UTC): {period}</p>")
    if inputs.assumptions:
        parts.append("<h2>Assumptions</h2>" + page.table(inputs.assumptions, ("assumption", "value")))
    parts.append("<h2>Records</h2>" + page.table(
        sorted((t, summary.get("published", {}).get(t, 0), summary.get("produced", {}).get(t, 0))
               for t in set(summary.get("published", {})) | set(summary.get("produced", {}))),
        ("topic", "published", "produced by the flow")))
    rejects = summary.get("rejects", [])
    parts.append("<h2>Rejected records</h2>" + (
        page.table(((r["topic"], r["reason"], r["count"]) for r in rejects), ("topic", "reason", "count"))
        if rejects else "<p>None.</p>"))
    outcomes = summary.get("opportunities", {})
    parts.append("<h2>Opportunities by outcome</h2>" + (
        page.table(sorted(outcomes.items(), key=lambda kv: -kv[1]), ("outcome", "count")) if outcomes
        else "<p>No candidate was scanned.</p>"))
    for title, figure, has_data in charts:
        parts.append(f"<h2>{title}</h2>")
        if not has_data:
            parts.append("<p>No data in this run.</p>")
            continue
        parts.append(figures.html(figure))
    parts.append("<h2>Alerts</h2>" + (
        page.table(((_time(a.ts).isoformat(), a.severity, a.code, a.venue or "", a.asset or "", a.message)
                    for a in inputs.alerts), ("time", "severity", "code", "venue", "asset", "message"))
        if inputs.alerts else "<p>None.</p>"))
    if not inputs.execution:
        parts.append("<h2>Trading</h2><p>This run had no execution stage: no equity curve, PnL decomposition or "
                     "trade table to show.</p>")
    elif not inputs.trades:
        parts.append("<h2>Trading</h2><p>The paper execution desks ran and entered no trade: every candidate was "
                     "refused by the scanner (see the outcomes above) or by the desk (counted by reason in "
                     "<code>arbflow_entries_denied_total</code>).</p>")
    else:
        parts.append(_trading(inputs, figures))
    pretty = json.dumps(codec.loads(codec.dumps(inputs.config)), indent=2)
    parts.append("<h2>Configuration</h2><pre>" + html.escape(pretty) + "</pre>")
    return page.page(inputs.title, "".join(parts))


def write_report(path: Path, inputs: ReportInputs) -> Path:
    """Write `report.html` (self-contained) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(inputs), encoding="utf-8")
    return path
