"""Unified-margin accounts of a portfolio of carry pairs (issue 7 evaluation; docs/architecture.md §3.8,
§3.9 Margin) — pure, exact `Decimal`, built per decision from the sleeves, never stream state.

A pair's sleeve holds `scale` × the position of its carry-study simulation (`PathPoint`:
`qty` per leg on the study notional, entered at `entry`, marked at `marks`):
- cash-and-carry on venue v: the spot bought is collateral (`scale × qty` BASE at the spot
  mark), the perp short `scale × qty` entered at the perp entry mark;
- funding spread on venues a/b: the sleeve's notional is split as collateral, half on each
  venue — USDT, or for an inverse (coin-margined) leg its coin bought at the leg's mark; leg 0
  on a and leg 1 on b, opposite sides (`direction` +1 = long a, short b).
Positions of one symbol on one venue are netted (net mode, `margin.net_parts`): quantity Σ
signed, the larger side keeps its entry; the P&L a long and a short lock in between them (all
of it for an exactly flat net) folds into USDT — into the coin at the mark for an inverse perp
— (floored at 0, counted in
`Check.netting_losses`). Funding and fees are not credited to venue balances (they stay
with the portfolio's cash: conservative for health).

The gates are `operators.portfolio.risk_gates` with the configured thresholds: an increase is judged
as its orders on every venue it touches (`gate_increase`); `check` reads health and
liquidation distance per venue and de-levers (critical health or margin use) like
`risk_gates.deleverage`, reporting the fraction of each pair to cut.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final

from arbflow.model.config import MarginConfig, VenueConfig
from arbflow.model.money import MONEY, ZERO
from arbflow.model.risk import CollateralBalance, MarginAccount, ProposedOrder
from arbflow.operators.portfolio.margin import MarginBook, Part, coin_margined, collateral_for, net_parts
from arbflow.operators.portfolio.risk_gates import deleverage, gate_on
from arbflow.operators.study.carry import CARRY, PathPoint, Strategy

ONE: Final = Decimal(1)
TWO: Final = Decimal(2)
QUOTE: Final = "USDT"


@dataclass(frozen=True, slots=True, kw_only=True)
class PairSpec:
    """One candidate pair: `strategy` CARRY (leg 0 = spot, leg 1 = perp, both on `venues[0]`)
    or SPREAD (leg 0 = perp on `venues[0]`, leg 1 = perp on `venues[1]`); `symbols` per leg;
    `fees_bps` the taker fee per leg."""

    pair_id: str
    strategy: Strategy
    asset: str
    venues: tuple[str, str]
    symbols: tuple[str, str]
    fees_bps: tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True, kw_only=True)
class Exposure:
    """A sleeve now: `scale` = sleeve notional / study notional (≥ 0), its simulation's
    `point`, and `quality` (the allocator's ratio; lower is de-levered first)."""

    spec: PairSpec
    scale: Decimal
    point: PathPoint
    quality: float | None = None

    @property
    def open(self) -> bool:
        return self.scale > 0 and self.point.direction != 0 and self.point.marks is not None and self.point.qty > 0


@dataclass(slots=True)
class _Venue:
    balances: dict[str, tuple[Decimal, Decimal]]  # asset → (balance, price)
    legs: dict[str, list[Part]]  # symbol → the sleeves' holdings of it


def _legs(e: Exposure) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """(venue, perp symbol, signed qty, entry, mark) of the sleeve's perp legs."""
    p, spec = e.point, e.spec
    assert p.marks is not None
    qty = MONEY.multiply(e.scale, p.qty)
    if spec.strategy == CARRY:
        return [(spec.venues[0], spec.symbols[1], -qty, p.entry[1], p.marks[1])]
    sign = Decimal(p.direction)
    return [(spec.venues[0], spec.symbols[0], sign * qty, p.entry[0], p.marks[0]),
            (spec.venues[1], spec.symbols[1], -sign * qty, p.entry[1], p.marks[1])]


def _collateral(e: Exposure, notional: Decimal) -> list[tuple[str, str, Decimal, Decimal]]:
    """(venue, asset, balance, price) the sleeve brings: the spot bought, or its halves (USDT,
    the coin at the leg's mark for an inverse leg)."""
    p, spec = e.point, e.spec
    assert p.marks is not None
    if spec.strategy == CARRY:
        return [(spec.venues[0], spec.asset, MONEY.multiply(e.scale, p.qty), p.marks[0])]
    half = MONEY.divide(MONEY.multiply(e.scale, notional), TWO)
    return [deposit(spec.venues[leg], spec.symbols[leg], half, p.marks[leg]) for leg in (0, 1)]


def deposit(venue: str, symbol: str, usd: Decimal, mark: Decimal) -> tuple[str, str, Decimal, Decimal]:
    """(venue, asset, balance, price) of `usd` brought to margin a leg (`margin.collateral_for`)."""
    return venue, *collateral_for(symbol, usd, mark)


def accounts(exposures: Iterable[Exposure], notional: Decimal) -> tuple[dict[str, MarginAccount], int]:
    """The per-venue accounts of the open sleeves, and how many nets had their loss
    floored (see the module docstring)."""
    with localcontext(MONEY):
        return _accounts(exposures, notional)


def _accounts(exposures: Iterable[Exposure], notional: Decimal) -> tuple[dict[str, MarginAccount], int]:
    venues: dict[str, _Venue] = {}
    for e in exposures:
        if not e.open:
            continue
        for venue, asset, balance, price in _collateral(e, notional):
            v = venues.setdefault(venue, _Venue({}, {}))
            held = v.balances.get(asset, (ZERO, price))[0]
            v.balances[asset] = (held + balance, price)
        for venue, symbol, qty, entry, mark in _legs(e):
            venues.setdefault(venue, _Venue({}, {})).legs.setdefault(symbol, []).append(
                Part(qty=qty, entry=entry, mark=mark, quality=e.quality, pair_id=e.spec.pair_id))
    out: dict[str, MarginAccount] = {}
    floored = 0
    for name, v in sorted(venues.items()):
        positions = []
        for symbol, parts in sorted(v.legs.items()):
            position, locked = net_parts(name, symbol, parts)
            if position is None or locked:
                coin, mark = coin_margined(symbol), parts[-1].mark
                asset, price = (QUOTE, ONE) if coin is None else (coin, v.balances.get(coin, (ZERO, mark))[1])
                locked_in = locked if coin is None else MONEY.divide(locked, mark)
                cash = v.balances.get(asset, (ZERO, price))[0] + locked_in
                floored += cash < 0
                v.balances[asset] = (max(cash, ZERO), price)
            if position is not None:
                positions.append(position)
        collateral = tuple(CollateralBalance(asset=a, balance=b, price=p) for a, (b, p) in sorted(v.balances.items()))
        out[name] = MarginAccount(venue=name, collateral=collateral, positions=tuple(positions))
    return out, floored


def _orders(e: Exposure, add: Decimal, venue: str) -> list[ProposedOrder]:
    """The orders on `venue` that grow sleeve `e` by `add` (scale units)."""
    p, spec = e.point, e.spec
    assert p.marks is not None
    qty = MONEY.multiply(add, p.qty)
    tag = f"{spec.pair_id}_{p.ts_ms}"
    if spec.strategy == CARRY:
        return [ProposedOrder(order_id=f"spot_{tag}", venue=venue, symbol=spec.symbols[0], side="buy", qty=qty,
                              px=p.marks[0], pair_id=spec.pair_id),
                ProposedOrder(order_id=f"perp_{tag}", venue=venue, symbol=spec.symbols[1], side="sell", qty=qty,
                              px=p.marks[1], quality=e.quality, pair_id=spec.pair_id)]
    leg = 0 if venue == spec.venues[0] else 1
    long_leg = (p.direction > 0) == (leg == 0)
    return [ProposedOrder(order_id=f"leg{leg}_{tag}", venue=venue, symbol=spec.symbols[leg],
                          side="buy" if long_leg else "sell", qty=qty, px=p.marks[leg], quality=e.quality,
                          pair_id=spec.pair_id)]


def gate_increase(held: Iterable[Exposure], grow: Exposure, add: Decimal, notional: Decimal, margin: MarginConfig,
                  venues: Mapping[str, VenueConfig]) -> tuple[str | None, Decimal]:
    """Judge growing `grow` (one of `held`, at its current scale) by `add` scale units:
    (None, the lowest projected health of the venues it touches) when every order on every
    such venue is accepted, else (the first refusal's reason, that venue's health). The cash
    for the increase arrives on the venues before the orders (USDT; the coin for an inverse leg)."""
    with localcontext(MONEY):
        return _gate_increase(held, grow, add, notional, margin, venues)


def _gate_increase(held: Iterable[Exposure], grow: Exposure, add: Decimal, notional: Decimal,
                   margin: MarginConfig, venues: Mapping[str, VenueConfig]) -> tuple[str | None, Decimal]:
    kept = [e for e in held if e.spec.pair_id != grow.spec.pair_id and e.open]
    current, _ = _accounts([*kept, grow], notional)
    cash = MONEY.multiply(add, notional)
    point = grow.point
    assert point.marks is not None
    if grow.spec.strategy == CARRY:
        deposits = {grow.spec.venues[0]: (QUOTE, MONEY.multiply(MONEY.multiply(add, point.qty), point.marks[0]), ONE)}
    else:
        deposits = {venue: (asset, amount, price) for venue, asset, amount, price in
                    (deposit(grow.spec.venues[leg], grow.spec.symbols[leg], MONEY.divide(cash, TWO), point.marks[leg])
                     for leg in (0, 1))}
    lowest = ONE
    for venue, (asset, amount, price) in deposits.items():
        account = current.get(venue, MarginAccount(venue=venue, collateral=()))
        balances = {c.asset: c for c in account.collateral}
        have = balances.get(asset)
        balances[asset] = CollateralBalance(asset=asset, balance=(have.balance if have else ZERO) + amount,
                                            price=have.price if have and have.price is not None else price)
        account = MarginAccount(venue=venue, collateral=tuple(balances[a] for a in sorted(balances)),
                                positions=account.positions)
        book = MarginBook(account, margin, venues)
        for decision in gate_on(book, _orders(grow, add, venue), margin):
            if not decision.accepted:
                return decision.reason or "REFUSED", book.health()
        lowest = min(lowest, book.health())
    return None, lowest


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """One look at every venue: the lowest health and liquidation distance (|move| of an
    asset's prices, all its positions and collateral together, that takes health to 0; None
    when nothing can), the venues at health ≤ 0, the fraction (0–1] to cut per pair when
    de-levering, and the nets whose loss was floored at 0."""

    min_health: Decimal
    min_distance: Decimal | None
    liquidated: tuple[str, ...]
    cuts: dict[str, Decimal]
    netting_losses: int


def check(exposures: Iterable[Exposure], notional: Decimal, margin: MarginConfig,
          venues: Mapping[str, VenueConfig]) -> Check:
    """Health and liquidation distance per venue, then `risk_gates.deleverage` where health is
    below the critical level or margin use above its maximum. A reduced symbol cuts every
    pair with a leg in it by the reduction's fraction (the pair's other leg follows)."""
    with localcontext(MONEY):
        return _check(exposures, notional, margin, venues)


def _check(exposures: Iterable[Exposure], notional: Decimal, margin: MarginConfig,
           venues: Mapping[str, VenueConfig]) -> Check:
    held = [e for e in exposures if e.open]
    built, floored = _accounts(held, notional)
    lowest, distance, liquidated = ONE, None, []
    cuts: dict[str, Decimal] = {}
    for name, account in built.items():
        book = MarginBook(account, margin, venues)
        health = book.health()
        lowest = min(lowest, health)
        if health <= 0:
            liquidated.append(name)
        for p in book.state().positions:
            move = p.asset_liquidation_move
            if move is not None and (distance is None or abs(move) < distance):
                distance = abs(move)
        for reduction in deleverage(book, margin):
            for e in held:
                if any(v == name and s == reduction.symbol for v, s, _, _, _ in _legs(e)):
                    cuts[e.spec.pair_id] = max(cuts.get(e.spec.pair_id, ZERO), reduction.fraction)
    return Check(min_health=lowest, min_distance=distance, liquidated=tuple(liquidated), cuts=cuts,
                 netting_losses=floored)
