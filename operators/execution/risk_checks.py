"""Margin gates, breakers and alerts inside an asset's execution step (docs/architecture.md §3.8, §3.9
Margin and Breakers; issue 7) — pure, stream time only, exact `Decimal`.

The desk's unified-margin accounts, one per venue it holds positions on, are rebuilt from its
trades for every decision (never kept as state):
- a spot leg's holding is collateral on its venue (base units at the spot mark);
- the rest of a trade's reserved notional (`Trade.notional` − the spot leg's cost, never < 0)
  is collateral split evenly over its perp legs, each share on the leg's venue: USDT, or for an
  inverse (coin-margined) leg its coin, bought at the leg's entry VWAP (the expected price for
  an entry being judged) and valued at the leg's mark (`margin.collateral_for`);
- each perp leg is a position (net mode, `margin.net_parts`: one per symbol and venue, the
  larger side keeps its entry, the PnL a long and a short lock in is USDT), `quality` = the
  trade's projected profit per unit of notional (lower is de-levered first), `pair_id` = the
  trade id;
- the desk's free capital is not on any venue (conservative for health).
Marks: the ticker's mark price, else the mid of the tracked quote, else the leg's entry VWAP.
The margin tables are `DeskConfig.margin`: a venue without its own has the fallback tables
there already (`model.desk_config.with_fallback_tables`). Cadence and the delta-leakage
thresholds are the `[execution.risk]` section (`DeskConfig.execution.risk`).

What runs, and when:
- `entry_refusal` — before an entry is sent: its two legs (with its notional as USDT
  deposited on its venues first) are judged by `risk_gates.gate_on` on each venue touched;
  refused with the gate's reason (HEALTH_BELOW_ENTRY_MIN, MARGIN_USE_TOO_HIGH,
  LEVERAGE_CAP_EXCEEDED, HEALTH_CRITICAL) and its numbers; refused HEALTH_CRITICAL while the
  margin pause holds; MARGIN_UNMODELLED when the simulator cannot model a leg.
- `check` — at most once per `check_interval_ms` of stream time while the desk holds trades:
  the health of each account (HEALTH_LOW warning below `entry_min_health`; HEALTH_CRITICAL
  critical below `critical_health`: every pending entry — a first leg still resting — is
  cancelled, entries pause until health is back at `deleverage_target_health`, and
  `risk_gates.deleverage` names the positions to cut, lowest quality first); margin use
  above `max_margin_use` (MARGIN_USE_TOO_HIGH, the same ranking); a position whose asset's
  price move to health 0 is below `min_liquidation_distance` (LIQUIDATION_TOO_CLOSE). The
  trades holding a position to cut are closed whole with a hard exit (the state machine
  trades whole pairs, so a reduction rounds up to the trades it touches).
- delta leakage per trade: |long qty − short qty| × price above max(`leak_min_usd`,
  `leak_fraction` × notional) for `leak_after_ms` → a DELTA_LEAKAGE warning.
Each alert carries its value, threshold and time and is sent once while its condition
holds (`RiskWatch.active`); when the condition clears it may fire again.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.config import ExecutionRiskConfig
from arbflow.model.desk_config import DeskConfig
from arbflow.model.errors import RiskInputError
from arbflow.model.money import MONEY, mid
from arbflow.model.risk import CollateralBalance, MarginAccount, ProposedOrder
from arbflow.operators.execution.book import LegBook, Trade
from arbflow.operators.portfolio.margin import (
    MarginBook,
    Part,
    coin_margined,
    collateral_for,
    net_parts,
    shown_health,
    shown_ratio,
)
from arbflow.operators.portfolio.risk_gates import deleverage, gate_on
from arbflow.operators.signals.scanner import Quote

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
QUOTE: Final = "USDT"


@dataclass(slots=True)
class RiskWatch:
    """The risk checks' memory inside `ExecutionState` (snapshots pickle it)."""

    last_check: int = 0
    paused: str | None = None  # why margin paused entries (lifted at the de-leverage target)
    active: dict[str, int] = field(default_factory=dict)  # alert key → since when it holds
    leak_since: dict[str, int] = field(default_factory=dict)  # trade id → leakage start
    health: Decimal | None = None  # the lowest account health at the last check
    distance: Decimal | None = None  # the smallest liquidation distance (fraction of price) at the last check


@dataclass(frozen=True, slots=True)
class Finding:
    """One alert to raise (`key` de-duplicates it while it holds)."""

    key: str
    code: str
    severity: str
    message: str
    venue: str | None
    value: Decimal
    threshold: Decimal


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check found: the lowest health, the alerts, the trades to close hard (with their
    reason), whether pending entries abort, and the margin pause to set (None = lift);
    `distance` is the smallest liquidation distance of any position (None: none can be)."""

    health: Decimal | None
    distance: Decimal | None
    findings: tuple[Finding, ...]
    close: tuple[tuple[str, str], ...]
    abort_pending: bool
    pause: str | None


def _mark(marks: Mapping[tuple[str, str], Decimal], quotes: Mapping[tuple[str, str], Quote], leg: LegBook,
          fallback: Decimal | None) -> Decimal | None:
    key = (leg.venue, leg.symbol)
    if key in marks:
        return marks[key]
    quote = quotes.get(key)
    if quote is not None and quote.bids and quote.asks:
        return mid(quote.bids[0][0], quote.asks[0][0])
    return fallback


def quality(trade: Trade) -> float:
    """Projected profit per unit of notional: the desk's de-leveraging rank (lowest first)."""
    return float(trade.projected_profit / trade.notional) if trade.notional > 0 else 0.0


@dataclass(slots=True)
class _Venue:
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)  # asset → (balance, price)
    legs: dict[str, list[Part]] = field(default_factory=dict)  # symbol → the trades' perp legs


def accounts(trades: Iterable[Trade], marks: Mapping[tuple[str, str], Decimal],
             quotes: Mapping[tuple[str, str], Quote]) -> dict[str, MarginAccount]:
    """The desk's per-venue accounts (see the module docstring). Raises `RiskInputError`
    when a leg cannot be modelled (a short spot leg: borrowing is not simulated)."""
    venues: dict[str, _Venue] = {}
    for trade in trades:
        perp_legs = [leg for leg in (trade.long, trade.short) if leg.market == "perp"]
        spent = _ZERO
        coin_px: dict[str, tuple[Decimal, Decimal]] = {}  # leg name → (entry, mark)
        for leg in (trade.long, trade.short):
            qty = leg.position
            if qty <= 0:
                continue
            entry = leg.entry_vwap()
            mark = _mark(marks, quotes, leg, entry)
            assert entry is not None and mark is not None
            v = venues.setdefault(leg.venue, _Venue())
            if leg.market == "spot":
                if leg.name != "long":
                    raise RiskInputError("trade.short", f"{trade.trade_id}: a short spot leg is not simulated")
                held = v.balances.get(trade.asset, (_ZERO, mark))[0]
                v.balances[trade.asset] = (held + qty, mark)
                spent += leg.entry_value()
            else:
                coin_px[leg.name] = (entry, mark)
                signed = qty if leg.name == "long" else -qty
                v.legs.setdefault(leg.symbol, []).append(
                    Part(qty=signed, entry=entry, mark=mark, quality=quality(trade), pair_id=trade.trade_id))
        cash = max(trade.notional - spent, _ZERO)
        for leg in perp_legs:
            v = venues.setdefault(leg.venue, _Venue())
            share = MONEY.divide(cash, Decimal(len(perp_legs)))
            now = _mark(marks, quotes, leg, None)
            bought, mark = coin_px.get(leg.name, (now, now))  # a leg not filled yet: its coin at the mark
            if bought is None or mark is None:  # no price for the coin at all: the share stays USDT
                asset, amount, mark = QUOTE, share, _ONE
            else:
                asset, amount, _ = collateral_for(leg.symbol, share, bought)
            held = v.balances.get(asset, (_ZERO, mark))[0]
            v.balances[asset] = (MONEY.add(held, amount), _ONE if asset == QUOTE else mark)
    return {name: _account(name, v) for name, v in sorted(venues.items())}


def _account(name: str, v: _Venue) -> MarginAccount:
    positions = []
    for symbol, parts in sorted(v.legs.items()):
        position, locked = net_parts(name, symbol, parts)
        if position is None or locked:  # net mode: the PnL a long and a short lock in is cash (coin if inverse)
            coin, mark = coin_margined(symbol), parts[-1].mark
            asset, price = (QUOTE, _ONE) if coin is None else (coin, v.balances.get(coin, (_ZERO, mark))[1])
            held = v.balances.get(asset, (_ZERO, price))[0]
            v.balances[asset] = (max(held + (locked if coin is None else MONEY.divide(locked, mark)), _ZERO), price)
        if position is not None:
            positions.append(position)
    collateral = tuple(CollateralBalance(asset=a, balance=b, price=p) for a, (b, p) in sorted(v.balances.items()))
    return MarginAccount(venue=name, collateral=collateral, positions=tuple(positions))


def entry_refusal(trades: Iterable[Trade], marks: Mapping[tuple[str, str], Decimal],
                  quotes: Mapping[tuple[str, str], Quote], new: Trade, prices: tuple[Decimal, Decimal],
                  watch: RiskWatch, config: DeskConfig) -> tuple[str, str] | None:
    """(reason, detail) when the entry `new` (its legs not yet sent; `prices` = the long
    and short legs' expected prices, `new.qty` each) must be refused, else None."""
    if watch.paused is not None:
        return reasons.HEALTH_CRITICAL, watch.paused
    try:
        built = accounts(trades, marks, quotes)
        orders: dict[str, list[ProposedOrder]] = {}
        deposits: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}  # venue → asset → (amount, price)
        perp_legs = [(leg, px) for leg, px in ((new.long, prices[0]), (new.short, prices[1])) if leg.market == "perp"]
        spot_cost = _ZERO

        def bring(venue: str, asset: str, amount: Decimal, price: Decimal) -> None:
            held = deposits.setdefault(venue, {}).get(asset, (_ZERO, price))
            deposits[venue][asset] = (held[0] + amount, held[1])

        for leg, px in ((new.long, prices[0]), (new.short, prices[1])):
            if leg.market == "spot" and leg.name != "long":
                raise RiskInputError("trade.short", "a short spot leg is not simulated")
            if leg.market == "spot":
                spot_cost = MONEY.multiply(new.qty, px)
                bring(leg.venue, QUOTE, spot_cost, _ONE)
            orders.setdefault(leg.venue, []).append(ProposedOrder(
                order_id=f"{new.trade_id}_{leg.name}", venue=leg.venue, symbol=leg.symbol, side=leg.open_side,
                qty=new.qty, px=px, quality=quality(new), pair_id=new.trade_id))
        cash = max(new.notional - spot_cost, _ZERO)
        for leg, px in perp_legs:
            bring(leg.venue, *collateral_for(leg.symbol, MONEY.divide(cash, Decimal(len(perp_legs))), px))
        for venue, proposed in sorted(orders.items()):
            account = built.get(venue, MarginAccount(venue=venue, collateral=()))
            balances = {c.asset: c for c in account.collateral}
            for asset, (amount, price) in deposits.get(venue, {}).items():
                held = balances.get(asset)
                balances[asset] = CollateralBalance(
                    asset=asset, balance=(held.balance if held else _ZERO) + amount,
                    price=held.price if held is not None and held.price is not None else price)
            book = MarginBook(replace(account, collateral=tuple(balances[a] for a in sorted(balances))),
                              config.margin, config.venues)
            for decision in gate_on(book, proposed, config.margin):
                if not decision.accepted:
                    return decision.reason or reasons.HEALTH_BELOW_ENTRY_MIN, f"{venue}: {decision.detail}"
    except RiskInputError as error:
        return reasons.MARGIN_UNMODELLED, str(error)
    return None


def check(trades: Mapping[str, Trade], marks: Mapping[tuple[str, str], Decimal],
          quotes: Mapping[tuple[str, str], Quote], now: int, watch: RiskWatch, config: DeskConfig) -> Verdict:
    """One look at the desk's accounts and trades (see the module docstring)."""
    margin = config.margin
    findings: list[Finding] = []
    close: dict[str, str] = {}
    lowest: Decimal | None = None
    nearest: Decimal | None = None
    critical = False
    try:
        built = accounts(trades.values(), marks, quotes)
    except RiskInputError as error:
        findings.append(Finding("unmodelled", reasons.MARGIN_UNMODELLED, "warning", str(error), None, _ZERO, _ZERO))
        built = {}
    for name, account in built.items():
        book = MarginBook(account, margin, config.venues)
        health = book.health()
        lowest = health if lowest is None else min(lowest, health)
        shown = shown_health(health)
        if health < margin.critical_health:
            critical = True
            findings.append(Finding(f"health:{name}", reasons.HEALTH_CRITICAL, "critical",
                                    f"{name}: margin health {shown} below {margin.critical_health}: pending entries "
                                    f"abort, de-levering to {margin.deleverage_target_health}", name, shown,
                                    margin.critical_health))
        elif health < margin.entry_min_health:
            findings.append(Finding(f"health:{name}", reasons.HEALTH_LOW, "warning",
                                    f"{name}: margin health {shown} below {margin.entry_min_health}", name, shown,
                                    margin.entry_min_health))
        use = book.margin_use()
        if use > margin.max_margin_use:
            findings.append(Finding(f"use:{name}", reasons.MARGIN_USE_TOO_HIGH, "warning",
                                    f"{name}: margin use {shown_ratio(use)} above {margin.max_margin_use}; reducing "
                                    f"to {margin.margin_use_target}", name, shown_ratio(use), margin.max_margin_use))
        for position in book.state().positions:
            move = position.asset_liquidation_move
            if move is not None:
                nearest = abs(move) if nearest is None else min(nearest, abs(move))
            if move is None or abs(move) >= margin.min_liquidation_distance:
                continue
            findings.append(Finding(f"liq:{name}:{position.symbol}", reasons.LIQUIDATION_TOO_CLOSE, "warning",
                                    f"{name} {position.symbol}: a {abs(move)} price move takes health to 0 "
                                    f"(< {margin.min_liquidation_distance}); reducing", name, abs(move),
                                    margin.min_liquidation_distance))
            for trade_id in (position.pair_id or "").split("+"):
                close.setdefault(trade_id, reasons.LIQUIDATION_TOO_CLOSE)
        for reduction in deleverage(book, margin):
            for trade_id in (reduction.pair_id or "").split("+"):
                close.setdefault(trade_id, reduction.reason)
    findings += _leaks(trades, marks, quotes, now, watch, config.execution.risk)
    if critical:
        pause: str | None = f"margin health {shown_health(lowest or _ZERO)} below {margin.critical_health}"
    elif watch.paused is not None and (lowest is None or lowest < margin.deleverage_target_health):
        pause = watch.paused
    else:
        pause = None
    return Verdict(health=lowest, distance=nearest, findings=tuple(findings),
                   close=tuple((t, r) for t, r in close.items() if t in trades), abort_pending=critical, pause=pause)


def _leaks(trades: Mapping[str, Trade], marks: Mapping[tuple[str, str], Decimal],
           quotes: Mapping[tuple[str, str], Quote], now: int, watch: RiskWatch,
           risk: ExecutionRiskConfig) -> list[Finding]:
    """DELTA_LEAKAGE: a trade's |long − short| × price (the long leg's mark, mid or entry)."""
    out = []
    for trade_id in [t for t in watch.leak_since if t not in trades]:
        del watch.leak_since[trade_id]
    for trade in trades.values():
        px = _mark(marks, quotes, trade.long, trade.long.entry_vwap() or trade.short.entry_vwap())
        gap = abs(trade.long.position - trade.short.position)
        value = _ZERO if px is None else MONEY.multiply(gap, px)
        limit = max(risk.leak_min_usd, MONEY.multiply(risk.leak_fraction, trade.notional))
        if value <= limit:
            watch.leak_since.pop(trade.trade_id, None)
            continue
        since = watch.leak_since.setdefault(trade.trade_id, now)
        if now - since >= risk.leak_after_ms:
            out.append(Finding(f"leak:{trade.trade_id}", reasons.DELTA_LEAKAGE, "warning",
                               f"{trade.trade_id}: |long − short| = {gap} ({value.quantize(Decimal('0.01'))} USD) "
                               f"above {limit} for {now - since} ms", None, value.quantize(Decimal("0.01")), limit))
    return out


def new_findings(watch: RiskWatch, findings: Iterable[Finding], now: int) -> list[Finding]:
    """The findings not already raised while their condition held; forgets cleared ones."""
    current = {f.key: f for f in findings}
    for key in [k for k in watch.active if k not in current]:
        del watch.active[key]
    out = []
    for key, finding in current.items():
        if key not in watch.active:
            watch.active[key] = now
            out.append(finding)
    return out

