"""Rendering the funding-carry study: row documents (JSON, CSV), the rich table, and a
self-contained HTML page with inline SVG charts (cumulative P&L per strategy, APR next to
the naive figure) — written by this module, no plotting library and no JavaScript, so the
page opens offline anywhere. Pixel positions are computed in Decimal (money never passes
through float)."""

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from rich.table import Table

from arbflow.connectors.captures.funding_study_data import CAVEATS
from arbflow.operators.study.carry import StrategyResult, StudyParams

CENT: Final = Decimal("0.01")
FRACTION: Final = Decimal("0.00000001")
MAX_POINTS: Final = 500  # per line in a chart
PALETTE: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf")
DASHES: Final = ("", "6 3", "2 2")
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
    return {"notional_usd": params.notional, "entry_8h": params.entry_8h, "exit_8h": params.exit_8h,
            "basis_stop": params.basis_stop, "basis_stop_intervals": params.basis_stop_intervals,
            "basis_reentry": params.basis_reentry, "signal_window": params.signal_window}


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


# -- SVG ------------------------------------------------------------------------------------


def _px(value: Decimal, low: Decimal, high: Decimal, start: int, length: int) -> Decimal:
    span = high - low or Decimal(1)
    return (Decimal(start) + (value - low) / span * length).quantize(Decimal("0.1"))


def _thin(points: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    step = max(1, -(-len(points) // MAX_POINTS))
    kept = list(points[::step])
    if points and kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def _nice_ticks(low: Decimal, high: Decimal, count: int = 5) -> list[Decimal]:
    span = high - low or Decimal(1)
    raw = span / count
    magnitude = Decimal(10) ** raw.adjusted()
    step = next(m * magnitude for m in (Decimal(1), Decimal(2), Decimal(5), Decimal(10)) if m * magnitude >= raw)
    tick = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks = []
    while tick <= high:
        if tick >= low:
            ticks.append(tick)
        tick += step
    return ticks


def line_chart(title: str, lines: Sequence[tuple[str, Sequence[tuple[int, Decimal]]]], *,
               width: int = 920, unit: str = "USD") -> str:
    """Cumulative P&L lines over time; the legend lists each line's last value."""
    lines = [(label, _thin(points)) for label, points in lines if points]
    if not lines:
        return ""
    height = max(300, 40 + 13 * len(lines))
    left, right, top, bottom = 70, 200, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    t0 = min(p[0][0] for _, p in lines)
    t1 = max(p[-1][0] for _, p in lines)
    values = [v for _, points in lines for _, v in points] + [Decimal(0)]
    low, high = min(values), max(values)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    for tick in _nice_ticks(low, high):
        y = _px(tick, high, low, top, plot_h)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{tick:,} {unit}</text>')
    for year in range(datetime.fromtimestamp(t0 / 1000, tz=UTC).year + 1,
                      datetime.fromtimestamp(t1 / 1000, tz=UTC).year + 1):
        ts = int(datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000)
        x = _px(Decimal(ts), Decimal(t0), Decimal(t1), left, plot_w)
        parts.append(f'<line x1="{x}" x2="{x}" y1="{top}" y2="{top + plot_h}" stroke="#eee"/>'
                     f'<text x="{x}" y="{height - 10}" text-anchor="middle">{year}</text>')
    zero = _px(Decimal(0), high, low, top, plot_h)
    parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{zero}" y2="{zero}" stroke="#888"/>')
    for index, (label, points) in enumerate(lines):
        color, dash = PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]
        path = " ".join(f"{_px(Decimal(t), Decimal(t0), Decimal(t1), left, plot_w)},{_px(v, high, low, top, plot_h)}"
                        for t, v in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.3"{dashed} points="{path}">'
                     f'<title>{html.escape(label)}</title></polyline>')
        row_y = top + 4 + index * 13
        parts.append(f'<line x1="{width - right + 8}" x2="{width - right + 24}" y1="{row_y}" y2="{row_y}" '
                     f'stroke="{color}" stroke-width="2"{dashed}/><text x="{width - right + 28}" y="{row_y + 4}">'
                     f'{html.escape(label)}: {points[-1][1].quantize(Decimal(1)):,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, Decimal | None, Decimal]], *, width: int = 920) -> str:
    """Per row the study's APR (coloured) over the naive APR (grey), horizontal, in %."""
    if not bars:
        return ""
    left, right, top, row_h = 190, 70, 28, 22
    height = top + row_h * len(bars) + 24
    values = [v for _, apr, naive in bars for v in (apr, naive) if v is not None] + [Decimal(0)]
    low, high = min(values), max(values)
    plot_w = width - left - right
    zero = _px(Decimal(0), low, high, left, plot_w)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)} '
             f'(colour: study APR, grey: naive)</text>']
    for index, (label, apr, naive) in enumerate(bars):
        y = top + index * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{html.escape(label)}</text>')
        for value, offset, thick, color in ((naive, 2, 8, "#bbb"),
                                            (apr, 10, 9, "#2ca02c" if apr is not None and apr >= 0 else "#d62728")):
            if value is None:
                continue
            x = _px(value, low, high, left, plot_w)
            parts.append(f'<rect x="{min(x, zero)}" y="{y + offset}" width="{abs(x - zero)}" height="{thick}" '
                         f'fill="{color}"><title>{percent(value)}</title></rect>')
        shown = naive if apr is None else apr
        parts.append(f'<text x="{width - right + 6}" y="{y + 16}">{percent(shown)}'
                     f'{" naive" if apr is None else ""}</text>')
    parts.append(f'<line x1="{zero}" x2="{zero}" y1="{top}" y2="{height - 20}" stroke="#444"/></svg>')
    return "".join(parts)


def charts(rows: Sequence[Row], notional: Decimal) -> list[tuple[str, str]]:
    """(file stem, SVG) for each chart: APR bars per data set, P&L lines per data set,
    strategy and asset."""
    out: list[tuple[str, str]] = []
    for dataset in dict.fromkeys(r.dataset for r in rows):
        mine = [r for r in rows if r.dataset == dataset]
        stem = dataset.replace(" ", "").replace("#", "-")
        out.append((f"{stem}-apr", bar_chart(f"{dataset}: APR after fees and rules vs naive",
                                             [(f"{SHORT[r.result.strategy]} {r.result.asset} {r.legs}", r.result.apr,
                                               r.result.naive_apr) for r in mine])))
        for strategy in ("cash-and-carry", "funding spread"):
            for asset in dict.fromkeys(r.result.asset for r in mine if r.result.strategy == strategy):
                lines = [(r.legs, r.result.curve) for r in mine
                         if r.result.strategy == strategy and r.result.asset == asset]
                svg = line_chart(f"{dataset}: {strategy} {asset}, cumulative net P&L "
                                 f"(USD on {notional:,} per leg)", lines)
                if svg:
                    out.append((f"{stem}-{strategy.replace(' ', '-')}-{asset}", svg))
    return out


def html_page(rows: Sequence[Row], params: StudyParams, datasets: Sequence[dict[str, Any]],
              svgs: Sequence[tuple[str, str]]) -> str:
    """The self-contained page: rules, data sets and caveats, the table, the charts."""
    head = ("strategy", "data set", "venue/pair", "asset", "period", "APR", "naive APR", "max DD", "turnover/yr",
            "round trips", "in market", "funding", "basis", "fees", "net", "flags")
    cells = []
    for row in rows:
        d, r = document(row), row.result
        traded = r.strategy != "naive"
        values = (r.strategy, row.dataset, row.legs, r.asset, f"{d['start']} → {d['end']}", percent(r.apr),
                  percent(r.naive_apr), percent(r.max_drawdown) if traded else "–",
                  f"{d['turnover_per_year']}×" if traded else "–", str(r.round_trips) if traded else "–",
                  percent(r.time_in_market, "0.1") if traded else "–", f"{d['funding_usd']:,}",
                  f"{d['basis_pnl_usd']:,}", f"{d['fees_usd']:,}", f"{d['net_pnl_usd']:,}",
                  "; ".join(r.flags + tuple(row.caveats())))
        cells.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in values) + "</tr>")
    rules = params_document(params)
    sets = "".join(f"<li><b>{html.escape(d['name'])}</b> ({html.escape(', '.join(d['files']))}): "
                   + "; ".join(html.escape(c) for c in d["caveats"]) + "</li>" for d in datasets)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>arbflow funding-carry study</title>
<style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}}
td:nth-child(-n+5),td:last-child{{text-align:left}}td:last-child{{white-space:normal;min-width:320px}}
th{{background:#f3f3f3}}svg{{display:block;margin:18px 0}}</style></head><body>
<h1>Funding-carry study</h1>
<p>Notional {rules['notional_usd']:,} USD per leg (APR is on one leg's notional). Enter when the 8h carry
&gt; {percent(rules['entry_8h'], '0.0001')}, exit when &lt; {percent(rules['exit_8h'], '0.0001')}; basis stop below
{percent(rules['basis_stop'], '0.0001')} for {rules['basis_stop_intervals']} bars, re-entry at or above
{percent(rules['basis_reentry'], '0.0001')}. Taker fees on every fill, no slippage. The naive APR is
the mean 8h funding × 3 × 365 (pairs: mean |spread| × 3 × 365). See docs/study.md.</p>
<h2>Data sets</h2><ul>{sets}</ul>
<h2>Results</h2><table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{''.join(cells)}</table>
<h2>Charts</h2>{''.join(svg for _, svg in svgs)}
</body></html>
"""
