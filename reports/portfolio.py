"""Rendering the portfolio evaluation (`arbflow study portfolio`, `make bench`): the rich
table (multi-pair portfolio, best single pair, the engine's result, naive reference), the candidates' table, the
JSON document and the equity curves as CSV. Fractions to 1e-8 and USD to cents in the
documents (half-even); the exact figures stay in the operators' results."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from rich.table import Table

from arbflow.operators.study.portfolio_eval import Evaluation, PortfolioResult, RunConfig
from arbflow.operators.study.walk_forward import Figures

CENT: Final = Decimal("0.01")
FRACTION: Final = Decimal("0.00000001")
HINDSIGHT: Final = "chosen in hindsight (look-ahead): flatters the single pair"


def day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _q(value: Decimal | None, step: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(step, rounding=ROUND_HALF_EVEN)


def percent(value: Decimal | None, places: str = "0.01") -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal(places), rounding=ROUND_HALF_EVEN)} %"


def strategy_document(r: PortfolioResult) -> dict[str, Any]:
    """One strategy's figures (annual_return, max_drawdown, utilisation: fractions)."""
    return {
        "strategy": r.name, "pairs": list(r.pairs), "start": day(r.start_ms), "end": day(r.end_ms), "steps": r.steps,
        "capital_usd": r.capital, "net_pnl_usd": _q(r.net_pnl, CENT), "annual_return": _q(r.annual_return, FRACTION),
        "sharpe_daily_annualised": _q(r.sharpe, CENT), "max_drawdown": _q(r.max_drawdown, FRACTION),
        "utilisation": _q(r.utilisation, FRACTION), "turnover_per_year": _q(r.turnover, CENT),
        "traded_usd": _q(r.traded, CENT), "fees_usd": _q(r.fees, CENT), "resizes": r.resizes,
        "refusals": dict(sorted(r.refusals.items())), "deleverings": r.deleverings, "liquidations": r.liquidations,
        "min_health": _q(r.min_health, FRACTION), "min_health_after_entry": _q(r.min_health_after_entry, FRACTION),
        "min_liquidation_distance": _q(r.min_distance, FRACTION), "flags": list(r.flags),
    }


def document(evaluation: Evaluation, cfg: RunConfig, dataset: dict[str, Any]) -> dict[str, Any]:
    """The whole evaluation as one JSON-ready document."""
    single = strategy_document(evaluation.single)
    single["caveat"] = HINDSIGHT
    return {
        "evaluation": "multi-pair portfolio vs best single pair", "dataset": dataset,
        "capital_usd": cfg.capital, "sharpe_from": "daily returns (equity at each UTC day's last 8h step), × √365",
        "portfolio": strategy_document(evaluation.portfolio), "best_single_pair": single,
        "naive_apr": _q(evaluation.naive_apr, FRACTION),
        "naive_apr_means": "mean 8h funding × 3 × 365 over the cash-and-carry candidates' perps",
        "candidates": [{"pair": p.spec.pair_id, "strategy": p.result.strategy, "apr": _q(p.result.apr, FRACTION),
                        "naive_apr": _q(p.result.naive_apr, FRACTION), "net_pnl_usd": _q(p.result.net_pnl, CENT),
                        "fees_usd": _q(p.result.fees, CENT), "round_trips": p.result.round_trips,
                        "time_in_market": _q(p.result.time_in_market, FRACTION)}
                       for p in evaluation.candidates],
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineFigures:
    """The engine's result over the study's data (`arbflow study portfolio`): USD and
    fractions; `figures` None when the desks booked nothing."""

    capital: Decimal
    start_ms: int | None
    end_ms: int | None
    figures: Figures | None
    net_pnl: Decimal
    utilisation: Decimal | None
    trades: int

    def document(self) -> dict[str, Any]:
        f = self.figures
        return {"capital": str(self.capital), "net_pnl": str(_q(self.net_pnl, CENT)), "trades": self.trades,
                "annual_return": None if f is None else str(_q(f.annual_return, Decimal("1e-6"))),
                "sharpe": None if f is None or f.sharpe is None else str(_q(f.sharpe, CENT)),
                "max_drawdown": None if f is None else str(_q(f.max_drawdown, Decimal("1e-6"))),
                "funding": None if f is None else str(_q(f.funding, CENT)),
                "fees": None if f is None else str(_q(f.fees, CENT)),
                "turnover": None if f is None or f.turnover is None else str(_q(f.turnover, Decimal("0.01"))),
                "utilisation": None if self.utilisation is None else str(_q(self.utilisation, Decimal("1e-4")))}


def table(evaluation: Evaluation, title: str, engine: EngineFigures | None = None) -> Table:
    """The comparison: one row per strategy, the engine's (when run) after the allocator's,
    the naive figure last."""
    out = Table(title=title, title_justify="left")
    for name in ("strategy", "period", "ann. return", "Sharpe (daily)", "max DD", "utilisation", "turnover/yr",
                 "fees USD", "refusals", "de-leverings", "liquidations", "min health"):
        out.add_column(name, justify="left" if name in ("strategy", "period") else "right")
    for r, label in ((evaluation.portfolio, "multi-pair portfolio (allocator)"),
                     (evaluation.single, f"best single pair* ({evaluation.single.pairs[0]})")):
        refusals = sum(r.refusals.values())
        out.add_row(label, f"{day(r.start_ms)} → {day(r.end_ms)}", percent(r.annual_return),
                    "–" if r.sharpe is None else f"{r.sharpe.quantize(CENT)}", percent(r.max_drawdown),
                    percent(r.utilisation, "0.1"), f"{r.turnover.quantize(Decimal('0.1'))}×",
                    f"{r.fees.quantize(CENT):,}", str(refusals), str(r.deleverings), str(r.liquidations),
                    f"{r.min_health.quantize(Decimal('0.001'))}")
    if engine is not None:
        f = engine.figures
        period = "" if engine.start_ms is None or engine.end_ms is None else \
            f"{day(engine.start_ms)} → {day(engine.end_ms)}"
        out.add_row(f"the engine: arbflow backtest's desks ({engine.capital:,} USD)", period,
                    percent(None if f is None else f.annual_return),
                    "–" if f is None or f.sharpe is None else f"{f.sharpe.quantize(CENT)}",
                    percent(None if f is None else f.max_drawdown), percent(engine.utilisation, "0.1"),
                    "–" if f is None or f.turnover is None else f"{f.turnover.quantize(Decimal('0.1'))}×",
                    "–" if f is None else f"{f.fees.quantize(CENT):,}", "–", "–", "–", "–")
    out.add_row("naive: mean funding × 3 × 365", "", percent(evaluation.naive_apr), "–", "–", "–", "–", "–", "–",
                "–", "–", "–")
    return out


def candidates_table(evaluation: Evaluation) -> Table:
    """Every candidate's study result on the full capital (the single-pair field)."""
    out = Table(title="Candidates (each alone, all capital; the carry study's rules)", title_justify="left")
    for name in ("pair", "APR", "naive APR", "net USD", "fees USD", "round trips", "in market"):
        out.add_column(name, justify="left" if name == "pair" else "right")
    for p in sorted(evaluation.candidates, key=lambda q: -q.result.net_pnl):
        r = p.result
        out.add_row(p.spec.pair_id, percent(r.apr), percent(r.naive_apr), f"{r.net_pnl.quantize(CENT):,}",
                    f"{r.fees.quantize(CENT):,}", str(r.round_trips), percent(r.time_in_market, "0.1"))
    return out


def notes(evaluation: Evaluation) -> list[str]:
    """The footnotes printed under the table."""
    r = evaluation.portfolio
    lines = [f"* {HINDSIGHT}.",
             "Sharpe from daily returns (equity at each UTC day's last 8h step), annualised × √365; "
             "annualised return = net P&L / capital / years (simple); utilisation = mean open notional / capital.",
             "Taker fees on every fill, no slippage model; 8h granularity (no intrabar path)."]
    for result in (r, evaluation.single):
        if result.refusals:
            lines.append(f"{result.name}: refusals by reason: "
                         + ", ".join(f"{k} {v}" for k, v in sorted(result.refusals.items())))
        lines.extend(f"{result.name}: {flag}" for flag in result.flags)
    return lines


def curve_csv(results: Sequence[PortfolioResult]) -> str:
    """ts_ms, date and each strategy's equity (USD) per step, on the union of their steps."""
    by_ts: dict[int, dict[int, Decimal]] = {}
    for index, r in enumerate(results):
        for ts, equity in r.curve:
            by_ts.setdefault(ts, {})[index] = equity
    lines = ["ts_ms,utc," + ",".join(f'"{r.name}"' for r in results)]
    for ts in sorted(by_ts):
        row = by_ts[ts]
        lines.append(f"{ts},{datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat()},"
                     + ",".join("" if i not in row else str(row[i].quantize(CENT)) for i in range(len(results))))
    return "\n".join(lines) + "\n"
