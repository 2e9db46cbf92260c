"""Prices the execution stage decides with (docs/architecture.md §3.7, §3.9): the quotes it tracks,
order prices, entry sizing with the profit recomputed on the current book, and the exit
signals of an open position. The knobs are the `[execution]` section; entry and hold are
the one carry rule's (`[strategy]`, operators/strategy/carry_rule.py): the recheck is its
entry decision over the opportunity's H (the configured default when the opportunity has
none), the carry exit its hold/exit decision, the projected profit the profit over H.

Units: money in quote currency (USD), quantities in base units, spreads and fees in bps,
carry as a fraction per 8 h. Pricing reuses the scanner's (`scanner.price`: book-walk VWAP
for a notional, the fallback formula on a ticker-only quote; `carry_rule.projected_profit`), so
the entry recheck is the scanner's judgement on the book as it is now, for the size chosen.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Final, Literal

from arbflow.model import reasons
from arbflow.model.config import ExecutionConfig, StrategyConfig, VenueConfig
from arbflow.model.desk_config import DeskConfig
from arbflow.model.market import Market, Side
from arbflow.model.money import BPS_PER_UNIT, MONEY, mid, round_to_lot, round_to_tick
from arbflow.model.signals import Opportunity
from arbflow.operators.signals import scanner, slippage
from arbflow.operators.strategy import carry_rule, holding

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
LegName = Literal["long", "short"]


def fee_bps(venue: VenueConfig, market: Market, maker: bool) -> Decimal | None:
    """The venue's maker or taker fee in bps for `market`; None = no such market there."""
    schedule = venue.spot if market == "spot" else venue.perp
    return None if schedule is None else schedule.maker_bps if maker else schedule.taker_bps


def touch(quote: scanner.Quote, side: Side) -> Decimal | None:
    """The price a marketable order crosses at: best ask to buy, best bid to sell."""
    levels = quote.asks if side == "buy" else quote.bids
    return levels[0][0] if levels else None


def passive_px(quote: scanner.Quote, side: Side) -> Decimal | None:
    """A passive limit at the touch of its own side: best bid to buy, best ask to sell."""
    levels = quote.bids if side == "buy" else quote.asks
    return levels[0][0] if levels else None


def marketable_limit(touch_px: Decimal, side: Side, width_bps: Decimal, tick: Decimal) -> Decimal:
    """`touch × (1 ± width/10⁴)`, rounded to the tick never more aggressively (buys down)."""
    move = MONEY.divide(MONEY.multiply(touch_px, width_bps), BPS_PER_UNIT)
    return round_to_tick(touch_px + move if side == "buy" else touch_px - move, tick, side)


def tradeable(qty: Decimal, venue: VenueConfig) -> Decimal:
    """`qty` rounded down to the venue lot; 0 when below `min_qty` (dust, docs/architecture.md §3.1)."""
    if qty <= _ZERO:
        return _ZERO
    rounded = round_to_lot(qty, venue.lot_size)
    return rounded if rounded >= venue.min_qty else _ZERO


def common_lot(a: VenueConfig, b: VenueConfig) -> Decimal:
    """The coarser lot when one lot divides the other, so both legs can trade the same size."""
    coarse, fine = max(a.lot_size, b.lot_size), min(a.lot_size, b.lot_size)
    return coarse if MONEY.remainder(coarse, fine) == _ZERO else a.lot_size


def harder_leg(venues: Mapping[str, VenueConfig], long_venue: str, short_venue: str) -> LegName:
    """The leg on the less liquid venue (lower `liquidity_rank`); the long leg on a tie."""
    return "short" if venues[short_venue].liquidity_rank < venues[long_venue].liquidity_rank else "long"


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryPlan:
    """A sized entry: `notional` USD reserved, the harder leg `first` for `first_qty` at
    `first_px` — its own touch, resting, under `order_style` "maker_first"; the touch it
    crosses, as a marketable IOC, under "taker"; `projected_profit` and `entry_spread_bps`
    recomputed for `notional` on the current books (book-walk VWAPs of both legs, exit
    slippage of both)."""

    notional: Decimal
    projected_profit: Decimal
    entry_spread_bps: Decimal
    first: LegName
    first_px: Decimal
    first_qty: Decimal


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    detail: str


def holding_of(opp: Opportunity, strategy: StrategyConfig) -> holding.Holding:
    """The opportunity's H as the scanner estimated it; the configured default without one."""
    if opp.holding_intervals is None:
        return holding.configured_holding(strategy)
    return holding.Holding(intervals=opp.holding_intervals, source="history")


def size_notional(opp: Opportunity, available: Decimal, config: DeskConfig) -> Decimal | Refusal:
    """docs/architecture.md §3.7 sizing: `(gross − costs) / gross × available`, capped at
    `max_position_fraction × available` and the opportunity's notional. Over the opportunity's
    H, in bps: the carry `c = carry_8h × H × 10⁴` is income when positive (`gross = spread +
    c`, `costs = fees`) and a cost when negative (`gross = spread`, `costs = fees − c`)."""
    carry = opp.rule_carry_8h if opp.rule_carry_8h is not None else _ZERO
    carry_bps = carry_rule.edge_bps(carry, holding_of(opp, config.strategy).intervals, _ZERO, _ZERO)
    gross = opp.entry_spread_bps + max(_ZERO, carry_bps)
    edge = gross - opp.fees_bps - max(_ZERO, -carry_bps)
    if gross <= _ZERO or edge <= _ZERO:
        return Refusal(reasons.NOT_PROFITABLE, f"spread {opp.entry_spread_bps} + carry over H {carry_bps:.2f} bps "
                       f"vs fees {opp.fees_bps} bps")
    base = MONEY.divide(MONEY.multiply(edge, available), gross)
    return min(base, config.execution.max_position_fraction * available, opp.notional)


def plan_entry(opp: Opportunity, long: scanner.Quote | None, short: scanner.Quote | None, available: Decimal,
               config: DeskConfig, cap: Decimal | None = None) -> EntryPlan | Refusal:
    """Size an accepted opportunity and recheck it on the current quotes (module docstring);
    `cap` (USD) is the portfolio controller's limit for the pair (None = none)."""
    venues, execution = config.venues, config.execution
    legs = ((opp.long_venue, opp.long_market), (opp.short_venue, opp.short_market))
    if any(v not in venues or fee_bps(venues[v], m, maker=True) is None for v, m in legs):
        return Refusal(reasons.UNTRADABLE_VENUE, f"{opp.long_venue}/{opp.short_venue}: no fee schedule")
    if long is None or short is None or not (long.bids and long.asks and short.bids and short.asks):
        return Refusal(reasons.NO_BOOK, "a leg has no two-sided quote")
    if available < execution.min_notional:
        return Refusal(reasons.INSUFFICIENT_CAPITAL, f"available {available} < {execution.min_notional}")
    sized = size_notional(opp, available, config)
    if isinstance(sized, Refusal):
        return sized
    first: LegName = harder_leg(venues, opp.long_venue, opp.short_venue)
    second_quote, second_side = (short, "sell") if first == "long" else (long, "buy")
    second_touch = touch(second_quote, second_side)  # type: ignore[arg-type]
    assert second_touch is not None
    levels = second_quote.asks if second_side == "buy" else second_quote.bids
    depth = slippage.depth_within(levels, second_touch, execution.max_hedge_slippage_bps)
    notional = min(sized, depth).quantize(_CENT, rounding=ROUND_DOWN)
    if cap is not None and cap < notional:
        notional = cap.quantize(_CENT, rounding=ROUND_DOWN)
        if notional < execution.min_notional:
            return Refusal(reasons.ALLOCATION_CAP, f"the controller allows {notional} USD on the pair")
    if notional < execution.min_notional:
        return Refusal(reasons.BELOW_MIN_SIZE, f"sized {notional} USD (book within the hedge cap: {depth:.2f})")
    prices = [scanner.price(long, "buy", notional), scanner.price(short, "sell", notional),
              scanner.price(long, "sell", notional), scanner.price(short, "buy", notional)]
    if any(p is None for p in prices):
        return Refusal(reasons.NO_BOOK, f"the books cannot fill {notional} USD")
    (long_px, _), (short_px, _), (_, exit_long_bps), (_, exit_short_bps) = prices  # type: ignore[misc]
    spread = MONEY.divide(MONEY.multiply(short_px - long_px, BPS_PER_UNIT), mid(long_px, short_px))
    decision = carry_rule.decide_entry(
        carry_8h=opp.rule_carry_8h if opp.rule_carry_8h is not None else _ZERO,
        holding=holding_of(opp, config.strategy),
        entry_spread_bps=spread, fees_bps=opp.fees_bps, exit_slippage_bps=exit_long_bps + exit_short_bps,
        cfg=config.strategy)
    profit = carry_rule.projected_profit(notional, decision.edge_bps)
    if not decision.accepted:
        return Refusal(reasons.NOT_PROFITABLE, f"on the current books for {notional} USD: {decision.detail()}")
    first_quote, first_venue, other_venue = (long, opp.long_venue, opp.short_venue) if first == "long" else \
        (short, opp.short_venue, opp.long_venue)
    first_side: Side = "buy" if first == "long" else "sell"
    first_px = (touch if config.strategy.order_style == "taker" else passive_px)(first_quote, first_side)
    assert first_px is not None
    qty = round_to_lot(MONEY.divide(notional, first_px), common_lot(venues[first_venue], venues[other_venue]))
    if tradeable(qty, venues[first_venue]) == _ZERO or tradeable(qty, venues[other_venue]) == _ZERO:
        return Refusal(reasons.BELOW_MIN_SIZE, f"{qty} base units is below a venue's min_qty")
    return EntryPlan(notional=notional, projected_profit=profit, entry_spread_bps=spread, first=first,
                     first_px=first_px, first_qty=qty)


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionView:
    """An open position as the exit rules see it: quantities per leg, entry VWAPs and spread,
    the projected profit, cash already realised (funding − fees paid) and the expected exit
    fees in bps of `notional`."""

    long_qty: Decimal
    short_qty: Decimal
    entry_long_px: Decimal
    entry_short_px: Decimal
    entry_spread_bps: Decimal
    projected_profit: Decimal
    realised: Decimal
    exit_fees_bps: Decimal
    notional: Decimal
    spread_trade: bool = True


@dataclass(frozen=True, slots=True)
class ExitSignal:
    reason: str
    hard: bool
    detail: str


def close_prices(long: scanner.Quote, short: scanner.Quote, view: PositionView) -> tuple[Decimal, Decimal] | None:
    """(sell-the-long VWAP, buy-back-the-short VWAP) for the held quantities; None if unpriced."""
    long_bid, short_ask = touch(long, "sell"), touch(short, "buy")
    if long_bid is None or short_ask is None or not long.asks or not short.bids:
        return None
    sell = scanner.price(long, "sell", MONEY.multiply(view.long_qty, long_bid))
    buy = scanner.price(short, "buy", MONEY.multiply(view.short_qty, short_ask))
    return None if sell is None or buy is None else (sell[0], buy[0])


def close_spread_bps(exit_long_px: Decimal, exit_short_px: Decimal) -> Decimal:
    """docs/architecture.md §3.9 cost to close: `(ask_B − bid_A) / mid × 10⁴` on the walked prices."""
    return MONEY.divide(MONEY.multiply(exit_short_px - exit_long_px, BPS_PER_UNIT), mid(exit_long_px, exit_short_px))


def mark_to_close(view: PositionView, exit_long_px: Decimal, exit_short_px: Decimal) -> Decimal:
    """Trading PnL (USD) if both legs closed now at the walked prices, before exit fees."""
    return view.long_qty * (exit_long_px - view.entry_long_px) + view.short_qty * (view.entry_short_px - exit_short_px)


def exit_signal(view: PositionView, long: scanner.Quote | None, short: scanner.Quote | None, carry_8h: Decimal | None,
                basis_stop: bool, execution: ExecutionConfig, strategy: StrategyConfig) -> ExitSignal | None:
    """The first exit rule that fires (docs/architecture.md §3.7), hard rules first: basis stop,
    stop at entry + 100 bps; then soft: widening > entry + 50 bps, the carry rule's exit (expected
    carry at or below `strategy.exit_carry_8h`), and realised + mark-to-close − expected exit fees
    ≥ 90 % of the projected profit over H. The close-spread rules (stop, widening, profit target)
    are a spread trade's (`view.spread_trade`: its profit is the spread converging); a carry trade
    earns the carry and exits by the carry rule and the basis-at-risk stop — its close spread
    moves with the basis and comes back, and a stop on it sells the carry at its worst."""
    if basis_stop:
        return ExitSignal(reasons.EXIT_BASIS_STOP, True, "basis-at-risk stop on a leg's venue")
    priced = None if long is None or short is None else close_prices(long, short, view)
    if priced is not None and view.spread_trade:
        spread = close_spread_bps(*priced)
        if spread > view.entry_spread_bps + execution.stop_loss_bps:
            return ExitSignal(reasons.EXIT_STOP_LOSS, True, f"close spread {spread:.2f} bps")
        if spread > view.entry_spread_bps + execution.widen_exit_bps:
            return ExitSignal(reasons.EXIT_SPREAD_WIDENED, False, f"close spread {spread:.2f} bps")
    if carry_8h is not None and carry_rule.should_exit(carry_8h, strategy):
        return ExitSignal(reasons.EXIT_FUNDING_CONVERGED, False,
                          f"carry {carry_8h} per 8 h below the exit threshold {strategy.exit_carry_8h}")
    if priced is not None and view.spread_trade and view.projected_profit > _ZERO:
        exit_fees = MONEY.divide(MONEY.multiply(view.notional, view.exit_fees_bps), BPS_PER_UNIT)
        earned = view.realised + mark_to_close(view, *priced) - exit_fees
        if earned >= execution.profit_take_fraction * view.projected_profit:
            return ExitSignal(reasons.EXIT_PROFIT_TARGET, False, f"earned {earned:.2f} of {view.projected_profit:.2f}")
    return None
