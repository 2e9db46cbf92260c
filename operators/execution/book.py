"""Bookkeeping of trades and their orders inside the execution step (docs/architecture.md §3.7, §3.8):
what each leg bought and sold, at which prices and against which reference prices, the
fees, leg-out attribution, the PnL decomposition, and the records built from them.

PnL of a trade (USD), from fills only:
- trading PnL per leg on the matched quantity `m = min(bought, sold)`: `sold_value −
  bought_cost` when the leg is flat, else `m × (sell VWAP − buy VWAP)` (a dust remainder
  below the venue's `min_qty` cannot be traded and is left out);
- basis PnL the same at each order's *reference* price (the touch the order was priced from,
  or a passive order's limit), so `slippage = basis PnL − trading PnL` is what execution
  cost against the plan;
- `realised_pnl = trading PnL + funding − fees = basis_pnl + funding_pnl − fees − slippage`.
Leg-out cost: the first `hedge_qty` units filled by hedge orders after a leg-out, priced
against the lagging leg's reference (`(px − ref) × q` for a buy, `(ref − px) × q` for a
sell) plus their share of the hedge fees; it is inside the PnL and reported separately.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.execution import (
    Fill,
    IntentKind,
    LegOut,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    PairTrade,
    TradeStatus,
)
from arbflow.model.market import Market, Side
from arbflow.model.money import MONEY
from arbflow.operators.execution.phases import Phase
from arbflow.operators.execution.venue_events import VenueEvent

_ZERO: Final = Decimal(0)
_PNL_STEP: Final = Decimal("1e-10")  # USD: where a PnL needs a division, it is cut here
LegName = Literal["long", "short"]
Purpose = Literal["entry", "second", "hedge", "unwind", "exit", "resize"]
TERMINAL: Final = frozenset({"filled", "canceled", "rejected"})


@dataclass(slots=True)
class WorkingOrder:
    """One order we sent; `reference_px` is the price the plan assumed for it."""

    client_order_id: str
    venue_client_id: str
    trade_id: str
    leg: LegName
    purpose: Purpose
    venue: str
    symbol: str
    market: Market
    side: Side
    order_type: OrderType
    qty: Decimal
    limit_px: Decimal | None
    reference_px: Decimal
    ts_sent: int
    deadline: int
    status: OrderStatus = "new"
    filled: Decimal = _ZERO
    value: Decimal = _ZERO  # Σ px × qty of its fills
    reason: str | None = None
    cancel_sent: bool = False
    fill_ids: set[str] = field(default_factory=set)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(slots=True)
class LegBook:
    """One leg of a trade. `open_side` is buy for the long leg, sell for the short leg."""

    name: LegName
    venue: str
    symbol: str
    market: Market
    open_side: Side
    bought: Decimal = _ZERO
    sold: Decimal = _ZERO
    buy_cost: Decimal = _ZERO
    sell_value: Decimal = _ZERO
    buy_ref: Decimal = _ZERO
    sell_ref: Decimal = _ZERO
    fees: Decimal = _ZERO
    ts_last_fill: int = 0
    order: WorkingOrder | None = None  # the latest order on this leg
    attempt: int = 0  # retry ladder step of the current purpose
    exit_seq: int = 0

    @property
    def close_side(self) -> Side:
        return "sell" if self.open_side == "buy" else "buy"

    @property
    def position(self) -> Decimal:
        """Held quantity in the leg's direction (≥ 0 unless a venue overfilled)."""
        return self.bought - self.sold if self.open_side == "buy" else self.sold - self.bought

    def entry_vwap(self) -> Decimal | None:
        qty, value = (self.bought, self.buy_cost) if self.open_side == "buy" else (self.sold, self.sell_value)
        return MONEY.divide(value, qty) if qty else None

    def exit_vwap(self) -> Decimal | None:
        qty, value = (self.sold, self.sell_value) if self.open_side == "buy" else (self.bought, self.buy_cost)
        return MONEY.divide(value, qty) if qty else None

    def entry_value(self) -> Decimal:
        """Quote value of the opening fills (the notional at entry when nothing was closed)."""
        return self.buy_cost if self.open_side == "buy" else self.sell_value


@dataclass(slots=True)
class LegOutBook:
    """A leg-out: `filled_leg` got ahead, `hedge_qty` of the lagging leg is hedged."""

    filled_leg: LegName
    lagging: LegName
    orig: str
    ts_filled: int
    reference_px: Decimal
    hedge_qty: Decimal
    remaining: Decimal
    done_qty: Decimal = _ZERO
    done_value: Decimal = _ZERO
    cost: Decimal = _ZERO

    def record(self) -> LegOut:
        px = MONEY.divide(self.done_value, self.done_qty) if self.done_qty else None
        return LegOut(filled_leg=self.filled_leg, ts_filled=self.ts_filled, hedge_px=px, hedge_qty=self.hedge_qty,
                      cost=self.cost)


@dataclass(slots=True)
class Trade:
    """A pair trade in flight or open. `notional` is what the ledger holds reserved for it."""

    trade_id: str
    opportunity_id: str
    asset: str
    pair: tuple[tuple[str, str], tuple[str, str]]
    long: LegBook
    short: LegBook
    first: LegName
    phase: Phase  # changed only by phases.move, which checks its table
    status: TradeStatus
    notional: Decimal
    qty: Decimal
    projected_profit: Decimal
    planned_spread_bps: Decimal
    exit_fees_bps: Decimal
    ts_entry: int
    deadline: int = 0
    reason: str | None = None
    hard_exit: bool = False
    soft_rounds: int = 0
    round_orders: list[WorkingOrder] = field(default_factory=list)
    leg_outs: list[LegOutBook] = field(default_factory=list)
    leg_out: LegOutBook | None = None  # the one hedges of the current phase work on
    funding_pnl: Decimal = _ZERO
    ts_exit: int | None = None
    spread_trade: bool = True  # carry_rule.spread_trade at entry; a carry trade skips the close-spread exits
    target_notional: Decimal | None = None  # N, the notional of the first activation (operators.execution.resize)
    resize_seq: int = 0  # resizes started (their order ids count them)
    mark: Decimal = _ZERO  # the last mark to close (USD), on two quotes of one time (state._unrealised)

    def leg(self, name: LegName) -> LegBook:
        return self.long if name == "long" else self.short

    def other(self, name: LegName) -> LegBook:
        return self.short if name == "long" else self.long

    def traded(self) -> bool:
        return any(leg.bought or leg.sold for leg in (self.long, self.short))


def fee_usd(event: VenueEvent) -> Decimal:
    """A fill's fee in USD: as given when charged in a USD stablecoin or quote; a fee charged
    in the traded coin (an inverse perp's settlement, `BTC/USD:BTC`) valued at the fill's px."""
    if event.px is not None and event.fee_currency == event.symbol.split("/", 1)[0]:
        return MONEY.multiply(event.fee, event.px)
    return event.fee


def apply_fill(trade: Trade, order: WorkingOrder, event: VenueEvent) -> Decimal:
    """Fold one fill into the order and its leg; returns the leg-out cost it adds (USD)."""
    assert event.px is not None
    px, qty, fee = event.px, event.qty, fee_usd(event)
    value = px * qty
    order.filled += qty
    order.value += value
    if order.filled >= order.qty:
        order.status = "filled"
    elif not order.terminal:  # a fill that arrives after the cancel keeps the order done
        order.status = "partially_filled"
    leg = trade.leg(order.leg)
    reference = order.reference_px * qty
    if order.side == "buy":
        leg.bought, leg.buy_cost, leg.buy_ref = leg.bought + qty, leg.buy_cost + value, leg.buy_ref + reference
    else:
        leg.sold, leg.sell_value, leg.sell_ref = leg.sold + qty, leg.sell_value + value, leg.sell_ref + reference
    leg.fees += fee
    leg.ts_last_fill = event.ts
    leg_out = trade.leg_out
    if leg_out is None or order.purpose != "hedge" or order.leg != leg_out.lagging or leg_out.remaining <= _ZERO:
        return _ZERO
    take = min(qty, leg_out.remaining)
    adverse = px - leg_out.reference_px if order.side == "buy" else leg_out.reference_px - px
    cost = adverse * take + (fee if take == qty else MONEY.divide(MONEY.multiply(fee, take), qty).quantize(_PNL_STEP))
    leg_out.remaining -= take
    leg_out.done_qty += take
    leg_out.done_value += px * take
    leg_out.cost += cost
    return cost


def _matched(bought: Decimal, buy_value: Decimal, sold: Decimal, sell_value: Decimal) -> Decimal:
    """Trading PnL of the matched quantity: exact when flat, else on VWAPs, cut to 10⁻¹⁰ USD
    so that ledger sums stay exact."""
    if bought == sold:
        return sell_value - buy_value
    matched = min(bought, sold)
    if matched == _ZERO:
        return _ZERO
    return MONEY.multiply(matched, MONEY.divide(sell_value, sold) - MONEY.divide(buy_value, bought)).quantize(_PNL_STEP)


@dataclass(frozen=True, slots=True)
class TradePnl:
    """USD: `realised = trading + funding − fees`, `slippage = basis − trading`."""

    trading: Decimal
    basis: Decimal
    slippage: Decimal
    fees: Decimal
    funding: Decimal
    realised: Decimal
    leg_out_cost: Decimal


def pnl(trade: Trade) -> TradePnl:
    """The trade's PnL so far on matched quantities (module docstring)."""
    legs = (trade.long, trade.short)
    trading = sum((_matched(leg.bought, leg.buy_cost, leg.sold, leg.sell_value) for leg in legs), _ZERO)
    basis = sum((_matched(leg.bought, leg.buy_ref, leg.sold, leg.sell_ref) for leg in legs), _ZERO)
    fees = trade.long.fees + trade.short.fees
    return TradePnl(trading=trading, basis=basis, slippage=basis - trading, fees=fees, funding=trade.funding_pnl,
                    realised=trading + trade.funding_pnl - fees,
                    leg_out_cost=sum((lo.cost for lo in trade.leg_outs), _ZERO))


def spread_bps(long_px: Decimal, short_px: Decimal) -> Decimal:
    """`(short − long) / mid × 10⁴` (docs/architecture.md §3.9), on executed entry VWAPs."""
    return MONEY.divide(MONEY.multiply(short_px - long_px, Decimal(10_000)), MONEY.divide(long_px + short_px, 2))


def trade_record(trade: Trade, ts: int) -> PairTrade:
    """The `exec.trade` record. Before the end only fees and funding are realised (cash);
    at the end the full decomposition is filled in."""
    result = pnl(trade)
    ended = trade.status in ("closed", "rejected")
    long_px, short_px = trade.long.entry_vwap(), trade.short.entry_vwap()
    spread = spread_bps(long_px, short_px) if long_px is not None and short_px is not None else \
        trade.planned_spread_bps
    basis, slip = (result.basis, result.slippage) if ended else (_ZERO, _ZERO)
    return PairTrade(
        trade_id=trade.trade_id, asset=trade.asset, long_venue=trade.long.venue, long_symbol=trade.long.symbol,
        short_venue=trade.short.venue, short_symbol=trade.short.symbol, status=trade.status, notional=trade.notional,
        qty=trade.qty, entry_long_px=long_px, entry_short_px=short_px, entry_spread_bps=spread,
        projected_profit=trade.projected_profit, exit_long_px=trade.long.exit_vwap(),
        exit_short_px=trade.short.exit_vwap(), basis_pnl=basis, funding_pnl=result.funding, fees=result.fees,
        slippage=slip, realised_pnl=basis + result.funding - result.fees - slip,
        leg_outs=tuple(lo.record() for lo in trade.leg_outs), leg_out_cost=result.leg_out_cost,
        exit_reason=trade.reason if trade.status in ("exiting", "closed", "rejected") else None,
        ts_entry=trade.ts_entry, ts_exit=trade.ts_exit, ts=ts)


def order_record(order: WorkingOrder, ts: int) -> Order:
    """The `exec.order` record of the order's current state (with the venue client id)."""
    return Order(client_order_id=order.client_order_id, venue_client_id=order.venue_client_id,
                 trade_id=order.trade_id, venue=order.venue, symbol=order.symbol, side=order.side,
                 order_type=order.order_type, qty=order.qty, limit_px=order.limit_px, status=order.status,
                 filled_qty=order.filled, avg_px=MONEY.divide(order.value, order.filled) if order.filled else None,
                 reason=order.reason, ts=ts)


def fill_record(order: WorkingOrder, event: VenueEvent) -> Fill:
    assert event.px is not None and event.fill_id is not None
    return Fill(fill_id=event.fill_id, client_order_id=order.client_order_id, trade_id=order.trade_id,
                venue=order.venue, symbol=order.symbol, side=order.side, px=event.px, qty=event.qty, fee=event.fee,
                fee_currency=event.fee_currency, liquidity=event.liquidity or "taker", ts=event.ts)


def intent_record(order: WorkingOrder, kind: IntentKind, priority: int,
                  reason: str, ts: int) -> OrderIntent:
    return OrderIntent(intent_id=f"{kind}:{order.client_order_id}" if kind == "cancel" else order.client_order_id,
                       trade_id=order.trade_id, kind=kind, venue=order.venue, symbol=order.symbol, side=order.side,
                       qty=order.qty, order_type=order.order_type, limit_px=order.limit_px, priority=priority,
                       reason=reason, ts=ts)
