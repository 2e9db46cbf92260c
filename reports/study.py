"""Rendering the funding-carry study: row documents (JSON, CSV), the rich table, and a
self-contained HTML page with plotly charts (APR next to the naive figure, cumulative P&L
per strategy), plotly.js inlined so the page opens offline, each chart also as its own page
under plots/. The charts get their figures as exact decimal strings (money never passes
through float; the browser reads the text)."""

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from rich.table import Table

from arbflow.connectors.captures.funding_study_data import CAVEATS
from arbflow.operators.study.carry import StrategyResult, StudyParams
from arbflow.reports import page

CENT: Final = Decimal("0.01")
FRACTION: Final = Decimal("0.00000001")
MAX_POINTS: Final = 500  # per line in a chart
PALETTE: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")
DASHES: Final = ("solid", "dash", "dot")
SHORT: Final = {"cash-and-carry": "carry", "funding spread": "spread", "naive": "naive"}
STRATEGY_ORDER: Final = {"cash-and-carry": 0, "funding spread": 1, "naive": 2}


@dataclass(frozen=True, slots=True)
class Row:
    """One result with the data set it came from and that data set's venue caveats."""

    dataset: str
    kind: str
    result: StrategyResult

    @property
    def legs(self) -> str:
        """`binance`, a pair `binance/bybit`, or for a naive row the venue and its contract."""
        if self.result.strategy == "naive":
            return f"{self.result.venues[0]} {self.result.symbols[0]}"
        return "/".join(self.result.venues)

    def caveats(self) -> list[str]:
        return [text for (kind, venue), text in CAVEATS.items()
                if kind == self.kind and venue is not None and venue in self.result.venues]


def sort_rows(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.dataset, STRATEGY_ORDER[r.result.strategy], r.result.asset, r.legs))


def day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _q(value: Decimal | None, step: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(step, rounding=ROUND_HALF_EVEN)


def document(row: Row) -> dict[str, Any]:
    """The JSON/CSV form of a row: fractions to 1e-8, USD to cents (half-even)."""
    r = row.result
    return {
        "dataset": row.dataset, "strategy": r.strategy, "asset": r.asset, "venues": row.legs,
        "symbols": " / ".join(r.symbols), "start": day(r.start_ms), "end": day(r.end_ms), "steps": r.steps,
        "apr": _q(r.apr, FRACTION), "naive_apr": _q(r.naive_apr, FRACTION),
        "max_drawdown": _q(r.max_drawdown, FRACTION),
        "turnover_per_year": _q(r.turnover, CENT), "round_trips": r.round_trips,
        "time_in_market": _q(r.time_in_market, FRACTION), "funding_usd": _q(r.funding, CENT),
        "basis_pnl_usd": _q(r.basis_pnl, CENT), "fees_usd": _q(r.fees, CENT), "net_pnl_usd": _q(r.net_pnl, CENT),
        "traded_notional_usd": _q(r.traded_notional, CENT),
        "exits": [f"{reason}: {count}" for reason, count in Counter(d.reason for d in r.decisions
                                                                     if d.action == "exit").most_common()],
        "flags": list(r.flags), "caveats": row.caveats(),
    }


def params_document(params: StudyParams) -> dict[str, Any]:
    rule = params.strategy
    return {"notional_usd": params.notional, "entry_margin_bps": rule.entry_margin_bps,
            "exit_carry_8h": rule.exit_carry_8h, "holding_lookback_intervals": rule.holding_lookback_intervals,
            "min_holding_intervals": rule.min_holding_intervals, "max_holding_intervals": rule.max_holding_intervals,
            "default_holding_intervals": rule.default_holding_intervals,
            "basis_stop": params.basis_stop, "basis_stop_intervals": params.basis_stop_intervals,
            "basis_reentry": params.basis_reentry, "carry_window_intervals": rule.carry_window_intervals,
            "rebalance_drift": rule.rebalance_drift}


def csv_text(rows: Sequence[Row]) -> str:
    """One line per row; list fields joined with "; ", Decimals as their exact strings."""
    out = io.StringIO()
    documents = [document(r) for r in rows]
    fields = list(documents[0]) if documents else ["dataset", "strategy", "asset", "venues"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for doc in documents:
        writer.writerow({k: "; ".join(v) if isinstance(v, list) else "" if v is None else str(v)
                         for k, v in doc.items()})
    return out.getvalue()


def percent(value: Decimal | None, places: str = "0.01") -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal(places), rounding=ROUND_HALF_EVEN)} %"


def table(rows: Sequence[Row], title: str) -> Table:
    """The terminal table: strategy, data set, venue/pair, period, APR, naive APR, max DD,
    turnover, round trips, time in market."""
    out = Table(title=title, title_justify="left")
    for name in ("strategy", "data set", "venue/pair", "asset", "period", "APR", "naive APR", "max DD",
                 "turnover/yr", "round trips", "in market"):
        out.add_column(name, justify="left" if name in ("strategy", "data set", "venue/pair", "asset", "period")
                       else "right")
    for row in rows:
        r = row.result
        traded = r.strategy != "naive"
        out.add_row(r.strategy, row.dataset, row.legs, r.asset, f"{day(r.start_ms)} → {day(r.end_ms)}",
                    percent(r.apr), percent(r.naive_apr), percent(r.max_drawdown) if traded else "–",
                    f"{r.turnover.quantize(Decimal('0.1'))}×" if traded else "–",
                    str(r.round_trips) if traded else "–", percent(r.time_in_market, "0.1") if traded else "–")
    return out


# -- charts ---------------------------------------------------------------------------------


def _thin(points: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    step = max(1, -(-len(points) // MAX_POINTS))
    kept = list(points[::step])
    if points and kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _text(value: Decimal | None, step: Decimal) -> str | None:
    """A chart coordinate as exact decimal text (plotly.js reads numeric strings as numbers)."""
    return None if value is None else str(value.quantize(step, rounding=ROUND_HALF_EVEN))


def line_chart(title: str, lines: Sequence[tuple[str, Sequence[tuple[int, Decimal]]]], *,
               unit: str = "USD") -> go.Figure | None:
    """Cumulative P&L lines over time (USD to the cent); the legend lists each line's last
    value. None when no line has a point."""
    kept = [(label, _thin(points)) for label, points in lines if points]
    if not kept:
        return None
    chart = page.figure(title, unit, height=max(380, 120 + 20 * len(kept)))
    for index, (label, points) in enumerate(kept):
        chart.add_trace(go.Scatter(
            x=[datetime.fromtimestamp(t / 1000, tz=UTC) for t, _ in points], y=[_text(v, CENT) for _, v in points],
            mode="lines", name=f"{label}: {points[-1][1].quantize(Decimal(1)):,}",
            line={"color": PALETTE[index % len(PALETTE)], "dash": DASHES[(index // len(PALETTE)) % len(DASHES)],
                  "width": 1.3},
            hovertemplate=f"{html.escape(label)}<br>%{{x|%Y-%m-%d %H:%M}}<br>%{{y:,.2f}} {unit}<extra></extra>"))
    chart.add_hline(y=0, line_color="#888", line_width=1)
    chart.update_layout(yaxis={"type": "linear"}, legend={"orientation": "v"})
    return chart


def bar_chart(title: str, bars: Sequence[tuple[str, Decimal | None, Decimal]]) -> go.Figure | None:
    """Per row the study's APR (green, red below zero) beside the naive APR (grey),
    horizontal, in %. None when there is no row."""
    if not bars:
        return None
    labels = [label for label, _, _ in bars]
    chart = page.figure(f"{title} (colour: study APR, grey: naive)", "", height=max(300, 110 + 30 * len(bars)))
    chart.add_trace(go.Bar(
        y=labels, x=[_text(naive * 100, CENT) for _, _, naive in bars], orientation="h", name="naive APR",
        marker_color="#bbb", text=[percent(naive) for _, _, naive in bars], textposition="outside",
        hovertemplate="%{y}: naive %{text}<extra></extra>"))
    chart.add_trace(go.Bar(
        y=labels, x=[None if apr is None else _text(apr * 100, CENT) for _, apr, _ in bars], orientation="h",
        name="study APR", marker_color=["#2ca02c" if apr is not None and apr >= 0 else "#d62728" for _, apr, _ in bars],
        text=["" if apr is None else percent(apr) for _, apr, _ in bars], textposition="outside",
        hovertemplate="%{y}: study %{text}<extra></extra>"))
    chart.update_layout(barmode="group", xaxis={"type": "linear", "ticksuffix": " %", "title": "APR"},
                        yaxis={"type": "category", "autorange": "reversed"})
    return chart


def charts(rows: Sequence[Row], notional: Decimal) -> list[tuple[str, go.Figure]]:
    """(file stem, figure) for each chart: APR bars per data set, P&L lines per data set,
    strategy and asset."""
    out: list[tuple[str, go.Figure]] = []
    for dataset in dict.fromkeys(r.dataset for r in rows):
        mine = [r for r in rows if r.dataset == dataset]
        stem = dataset.replace(" ", "").replace("#", "-")
        bars = bar_chart(f"{dataset}: APR after fees and rules vs naive",
                         [(f"{SHORT[r.result.strategy]} {r.result.asset} {r.legs}", r.result.apr, r.result.naive_apr)
                          for r in mine])
        if bars is not None:
            out.append((f"{stem}-apr", bars))
        for strategy in ("cash-and-carry", "funding spread"):
            for asset in dict.fromkeys(r.result.asset for r in mine if r.result.strategy == strategy):
                lines = [(r.legs, r.result.curve) for r in mine
                         if r.result.strategy == strategy and r.result.asset == asset]
                chart = line_chart(f"{dataset}: {strategy} {asset}, cumulative net P&L "
                                   f"(USD on {notional:,} per leg)", lines)
                if chart is not None:
                    out.append((f"{stem}-{strategy.replace(' ', '-')}-{asset}", chart))
    return out


def write_plots(directory: Path, figures: Sequence[tuple[str, go.Figure]]) -> None:
    """Each chart as its own page, `<stem>.html`, beside one shared plotly.min.js (offline)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stem, chart in figures:
        chart.write_html(directory / f"{stem}.html", include_plotlyjs="directory", div_id=stem)


STYLE: Final = page.STYLE + ("body{max-width:none}table{font-size:12px}td{white-space:nowrap}"
                             "td:nth-child(-n+5),td:last-child{text-align:left}"
                             "td:last-child{white-space:normal;min-width:320px}")
HEAD: Final = ("strategy", "data set", "venue/pair", "asset", "period", "APR", "naive APR", "max DD", "turnover/yr",
               "round trips", "in market", "funding", "basis", "fees", "net", "flags")


def _cells(row: Row) -> tuple[str, ...]:
    d, r = document(row), row.result
    traded = r.strategy != "naive"
    return (r.strategy, row.dataset, row.legs, r.asset, f"{d['start']} → {d['end']}", percent(r.apr),
            percent(r.naive_apr), percent(r.max_drawdown) if traded else "–",
            f"{d['turnover_per_year']}×" if traded else "–", str(r.round_trips) if traded else "–",
            percent(r.time_in_market, "0.1") if traded else "–", f"{d['funding_usd']:,}",
            f"{d['basis_pnl_usd']:,}", f"{d['fees_usd']:,}", f"{d['net_pnl_usd']:,}",
            "; ".join(r.flags + tuple(row.caveats())))


def html_page(rows: Sequence[Row], params: StudyParams, datasets: Sequence[dict[str, Any]],
              figures: Sequence[tuple[str, go.Figure]]) -> str:
    """The self-contained page: rules, data sets and caveats, the table, the charts."""
    rules = params_document(params)
    sets = "".join(f"<li><b>{html.escape(d['name'])}</b> ({html.escape(', '.join(d['files']))}): "
                   + "; ".join(html.escape(c) for c in d["caveats"]) + "</li>" for d in datasets)
    shown = page.Figures()
    body = f"""<h1>Funding-carry study</h1>
<p>Notional {rules['notional_usd']:,} USD per leg (APR is on one leg's notional). The desks' carry rule:
enter when the 8h carry × H + spread − the taker round trip &gt; {rules['entry_margin_bps']} bps (H from the
settled carry runs, {rules['min_holding_intervals']}–{rules['max_holding_intervals']} intervals, default
{rules['default_holding_intervals']}), exit when &lt; {percent(rules['exit_carry_8h'], '0.0001')}; basis stop below
{percent(rules['basis_stop'], '0.0001')} for {rules['basis_stop_intervals']} bars, re-entry at or above
{percent(rules['basis_reentry'], '0.0001')}. Taker fees on every fill, no slippage. The naive APR is
the mean 8h funding × 3 × 365 (pairs: mean |spread| × 3 × 365). See docs/study.md.</p>
<h2>Data sets</h2><ul>{sets}</ul>
<h2>Results</h2>{page.table((_cells(row) for row in rows), HEAD)}
<h2>Charts</h2>{''.join(shown.html(chart, div_id=stem) for stem, chart in figures)}
"""
    return page.page("arbflow funding-carry study", body, style=STYLE) + "\n"
