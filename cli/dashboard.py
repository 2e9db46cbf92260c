"""`arbflow dashboard`: the state of everything in the terminal, refreshed every few
seconds (rich; works over SSH). Reads Redis only — the latest values the flows keep there
— so it never slows a flow down. Every panel says "no data" or "unreachable" instead of
failing, and recovers when Redis returns.
"""

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import redis
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.sinks.redis_feed import read_scores

STALE_AFTER_MS = 10_000


def _age(ts: int, now_ms: int) -> str:
    seconds = max(0, now_ms - ts) / 1000
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _opportunities(document: dict[str, Any]) -> Panel:
    table = Table(expand=True)
    for column in ("score", "asset", "long", "short", "spread bps", "carry APR", "profit $"):
        table.add_column(column, justify="right" if column not in ("asset", "long", "short") else "left")
    for o in document["opportunities"][:5]:
        apr = o.get("carry_apr")
        table.add_row(str(o["score"]), o["asset"], f"{o['long_venue']} {o['long_symbol']}",
                      f"{o['short_venue']} {o['short_symbol']}", f"{float(o['entry_spread_bps']):.2f}",
                      "-" if apr is None else f"{float(apr) * 100:.1f} %", f"{float(o['projected_profit']):.2f}")
    body = table if document["opportunities"] else Text("no accepted opportunity right now", style="dim")
    return Panel(body, title="Top opportunities")


def _venues(document: dict[str, Any], now_ms: int) -> Panel:
    table = Table(expand=True)
    for column in ("venue", "latency ms", "offset ms", "state", "updated"):
        table.add_column(column, justify="left" if column in ("venue", "state") else "right")
    for reading in document["latency"]:
        quiet = now_ms - reading["ts"] > STALE_AFTER_MS
        state = "[red]stale[/red]" if reading["stale"] else "[yellow]quiet[/yellow]" if quiet else "[green]ok[/green]"
        table.add_row(reading["venue"], f"{reading['corrected_mean_ms']:.1f}", f"{reading['offset_ms']:.0f}", state,
                      _age(reading["ts"], now_ms))
    return Panel(table if document["latency"] else Text("no latency data", style="dim"), title="Venues")


def _basis(document: dict[str, Any], now_ms: int) -> Panel:
    table = Table(expand=True)
    for column in ("asset", "venue", "basis bps", "updated"):
        table.add_column(column, justify="left" if column in ("asset", "venue") else "right")
    for point in document["basis"]:
        table.add_row(point["asset"], point["venue"], f"{float(point['basis_bps']):.2f}", _age(point["ts"], now_ms))
    return Panel(table if document["basis"] else Text("no basis data", style="dim"), title="Basis")


def _money(value: Any) -> str:
    return "-" if value is None else f"{Decimal(str(value)):,.2f}"


def _portfolio(state: dict[str, Any] | None) -> Panel:
    if state is None:
        return Panel(Text("no portfolio state (no execution stage running)", style="dim"), title="Portfolio")
    closed, capital = int(state.get("closed_trades", 0)), Decimal(str(state.get("starting_capital", 0)))
    wins = int(state.get("win_count", 0))
    win_rate = f"{wins / closed:.0%} of {closed}" if closed else "- (no closed trade)"
    used = Decimal(str(state.get("open_notional", 0)))
    utilisation = f"{used / capital:.1%}" if capital else "-"
    health = state.get("margin_health")
    desks, reported = state.get("desks"), state.get("desks_reported")
    table = Table.grid(padding=(0, 2))
    for label, value in (
            ("desks", "-" if desks is None else f"{desks}" + ("" if reported in (None, desks) else
                                                             f" ({reported} reported, the rest hold their capital)")),
            ("starting capital $", _money(state.get("starting_capital"))),
            ("available $", _money(state.get("available"))), ("open notional $", _money(state.get("open_notional"))),
            ("utilisation", utilisation), ("realised PnL $", _money(state.get("realised_pnl"))),
            ("unrealised PnL $", _money(state.get("unrealised_pnl"))),
            ("closed-trade PnL $", _money(state.get("cumulative_pnl"))), ("win rate", win_rate),
            ("leg-outs", f"{state.get('leg_out_count', 0)} (cost $ {_money(state.get('leg_out_loss'))})"),
            ("margin health", "-" if health is None else f"{float(health):.2f}")):
        table.add_row(label, value)
    return Panel(table, title="Portfolio")


def _active_trades(client: redis.Redis, prefix: str, now_ms: int) -> Panel:
    """Open pair trades (count, notional, PnL so far) from `strategy:trades:active:*`."""
    trades = []
    for key in client.scan_iter(match=f"{prefix}strategy:trades:active:*", count=200):
        body = client.hget(key, "record")
        if body is not None:
            trades.append(codec.loads(body))
    if not trades:
        return Panel(Text("no active position", style="dim"), title="Active positions")
    trades.sort(key=lambda t: t["ts_entry"])
    table = Table(expand=True)
    for column in ("asset", "long", "short", "status", "qty", "notional $", "entry bps", "PnL so far $", "opened"):
        table.add_column(column, justify="left" if column in ("asset", "long", "short", "status") else "right")
    for t in trades[:10]:
        pnl = sum(Decimal(str(t.get(k, 0))) for k in ("basis_pnl", "funding_pnl")) - sum(
            Decimal(str(t.get(k, 0))) for k in ("fees", "slippage"))
        spread = t.get("entry_spread_bps")
        table.add_row(t["asset"], t["long_venue"], t["short_venue"], t["status"], str(t["qty"]),
                      _money(t["notional"]), "-" if spread is None else f"{float(spread):.2f}", _money(pnl),
                      _age(t["ts_entry"], now_ms))
    return Panel(table, title=f"Active positions ({len(trades)})")


def frame(client: redis.Redis | None, config: Config, now_ms: int, error: str | None = None) -> Group:
    """One screen: header, portfolio, active positions, opportunities, venues, basis."""
    header = Text(f"arbflow dashboard · {datetime.fromtimestamp(now_ms / 1000, tz=UTC):%Y-%m-%d %H:%M:%S} UTC",
                  style="bold")
    if client is None or error is not None:
        return Group(header, Panel(Text(f"Redis unreachable: {error}", style="red"), title="Status"))
    prefix = config.redis.key_prefix
    document = read_scores(client, prefix, limit=5)
    raw_state = client.get(f"{prefix}strategy:portfolio:state")
    state = codec.loads(raw_state) if raw_state else None
    return Group(header, _portfolio(state), _active_trades(client, prefix, now_ms), _opportunities(document),
                 _venues(document, now_ms), _basis(document, now_ms))


def run(config: Config, redis_url: str, *, refresh_s: float, once: bool, console: Console) -> None:
    """Draw once, or refresh every `refresh_s` until Ctrl-C."""
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)

    def draw() -> Group:
        try:
            return frame(client, config, int(time.time() * 1000))
        except redis.RedisError as error:
            return frame(None, config, int(time.time() * 1000), error=str(error))

    try:
        if once:
            console.print(draw())
            return
        with Live(draw(), console=console, refresh_per_second=4, screen=False) as live:
            while True:
                time.sleep(refresh_s)
                live.update(draw())
    finally:
        client.close()
