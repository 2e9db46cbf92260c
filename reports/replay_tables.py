"""Rendering a replay summary for the terminal (rich tables)."""

from datetime import UTC, datetime
from decimal import Decimal

from rich.console import Console
from rich.table import Table

from arbflow.flows.replay import ReplaySummary
from arbflow.model import topics
from arbflow.model.signals import Opportunity
from arbflow.reports.scanner_pairs import pair_outcomes, percent


def _utc(ts: int | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def render_summary(summary: ReplaySummary, console: Console) -> None:
    """Records per topic, rejects by reason, and the latest basis per asset."""
    console.print(f"[bold]Replay[/bold] {_utc(summary.first_ts)} → {_utc(summary.last_ts)}  "
                  f"(Kafka {summary.kafka}, Redis {summary.redis})")
    records = Table(title="Records per topic", title_justify="left")
    records.add_column("topic")
    records.add_column("published", justify="right")
    records.add_column("produced by the flow", justify="right")
    for topic in sorted(set(summary.published) | set(summary.produced)):
        records.add_row(topic, f"{summary.published.get(topic, 0):,}", f"{summary.produced.get(topic, 0):,}")
    console.print(records)
    rejects = Table(title="Rejected records (dead-letter topics)", title_justify="left")
    rejects.add_column("topic")
    rejects.add_column("reason")
    rejects.add_column("count", justify="right")
    for (topic, reason), count in sorted(summary.rejects.items()):
        rejects.add_row(topic, reason, f"{count:,}")
    if not summary.rejects:
        rejects.add_row("-", "none", "0")
    console.print(rejects)
    outcomes = Table(title="Opportunities by outcome (arb.opportunity)", title_justify="left")
    outcomes.add_column("outcome")
    outcomes.add_column("count", justify="right")
    for reason, count in sorted(summary.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        outcomes.add_row(reason, f"{count:,}")
    if not summary.outcomes:
        outcomes.add_row("none scanned", "0")
    console.print(outcomes)
    render_pairs([o for o in summary.outputs.get(topics.ARB_OPPORTUNITY, []) if isinstance(o, Opportunity)], console)
    basis = Table(title="Latest spot–perp basis", title_justify="left")
    for column in ("asset", "venue", "spot mid", "perp mid", "basis (bps)", "at"):
        basis.add_column(column, justify="right" if column not in ("asset", "venue") else "left")
    for point in summary.latest_basis:  # this run's own signal.basis records (flows/replay.latest_basis)
        basis.add_row(point.asset, point.venue, str(point.spot_mid), str(point.perp_mid),
                      str(point.basis_bps.quantize(Decimal("0.0001"))), _utc(point.ts))
    if not summary.latest_basis:
        basis.add_row("none in this run", "", "", "", "", "")
    console.print(basis)
    trading = summary.trading_json()
    if trading["enabled"] and not trading["trades"]:
        console.print("paper trading: no trade — no opportunity passed the scanner and the desks")
    if trading["enabled"] and summary.denied:
        console.print("the desks refused accepted entries: " + ", ".join(
            f"{reason} {count:,}" for reason, count in summary.denied.most_common()))
    elif trading["enabled"]:
        console.print(f"paper trading: {trading['trades']} trades ({trading['closed']} closed), "
                      f"{trading['orders']} order events, {trading['leg_outs']} leg-outs, "
                      f"realised PnL {trading['realised_pnl']} USD, open notional {trading['open_notional']} USD")
    total = sum(summary.published.values())
    rate = total / summary.publish_s if summary.publish_s else 0.0
    flow_rate = summary.published.get("md.ticker", 0) / summary.flow_s if summary.flow_s else 0.0
    console.print(f"published {total:,} records in {summary.publish_s:.1f} s ({rate:,.0f}/s); "
                  f"flow processed md.ticker in {summary.flow_s:.1f} s ({flow_rate:,.0f}/s)")


def render_pairs(opportunities: list[Opportunity], console: Console) -> None:
    """The cross-venue funding spread of each pair and what the scanner decided, and why
    (`reports.scanner_pairs`); nothing when no opportunity was scanned."""
    if not opportunities:
        return
    table = Table(title="Funding spread and the scanner's decision per pair (arb.opportunity)", title_justify="left")
    for column in ("long", "short", "spread/8h first", "spread/8h last", "judged", "accepted", "rejected by reason",
                   "why (last)"):
        table.add_column(column, justify="right" if column in ("judged", "accepted") else "left")
    for pair in pair_outcomes(opportunities):
        table.add_row(pair.long, pair.short, percent(pair.first_carry_8h), percent(pair.last_carry_8h),
                      f"{pair.judged:,}", f"{pair.accepted:,}",
                      ", ".join(f"{reason} {count:,}" for reason, count in pair.reasons.most_common()) or "-",
                      pair.why)
    console.print(table)
