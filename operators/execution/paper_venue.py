"""The paper venue's fill model (docs/architecture.md §3.7): pure and
deterministic, driven only by market records and the stream time they carry.

- Latency: an order submitted at stream time `ts` reaches the book at `ts + latency_ms`; a
  cancel likewise takes effect `latency_ms` after it was asked for (fills may land between).
- Marketable orders ("ioc", "market", and the crossing part of a "limit") walk the latest
  visible book level by level up to the limit price, fill at each level's price as taker,
  and deplete the stored book until the next book replaces it; an IOC's rest is canceled
  (IOC_REMAINDER). A ticker-only instrument offers its touch level and nothing more.
- Resting limits (maker) record `queue_ahead`, the quantity resting at their price on their
  side when they reach the book (from the latest book; the ticker's touch size when only a
  ticker is known; 0 when the price improves the touch or no one rests there). A resting buy
  counts sell-taker prints at px ≤ its limit since it went live (a sell: buy-taker prints at
  px ≥ limit) into `traded`; it fills only once `traded ≥ queue_fill_fraction × queue_ahead`
  and then cumulatively at most `traded − threshold` (rounded down to the venue lot), at its
  limit price. Invariant: resting fills `≤ max(0, traded − threshold)` at all times.
- Fees: bps of notional from `VenueConfig` (spot or perp schedule), maker for resting fills,
  taker for marketable ones; positive = paid, negative = rebate, in the settle currency (the
  coin for an inverse perp: `qty × bps / 10⁴`; the desk values it at the fill, `book.fee_usd`).
`latency_ms` and `queue_fill_fraction` are the `[execution.paper]` section (`DeskConfig.execution.paper`).
State is one mutable `PaperVenue`, owned by the execution step (operators.execution.engine).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig
from arbflow.model.execution import Liquidity
from arbflow.model.market import Level, MarketTrade, OrderBook, Side, Ticker
from arbflow.model.money import BPS_PER_UNIT, MONEY, round_to_lot
from arbflow.operators.execution.venue_events import OrderRequest, VenueEvent, VenueEventKind

_ZERO: Final = Decimal(0)


@dataclass(slots=True)
class PaperOrder:
    """One order at the paper venue and its queue position (base units)."""

    request: OrderRequest
    seq: int
    ts_live: int
    live: bool = False
    done: bool = False
    queue_ahead: Decimal = _ZERO
    traded: Decimal = _ZERO
    filled: Decimal = _ZERO
    taken: Decimal = _ZERO  # the part filled as taker when it reached the book
    cancel_at: int | None = None
    cancel_reason: str = reasons.ORDER_TIMEOUT
    fills: int = 0


@dataclass(slots=True)
class VisibleBook:
    """Latest visible levels of one instrument; `is_book` False = a ticker's touch only."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    is_book: bool


@dataclass(slots=True)
class PaperVenue:
    """Books per (venue, symbol), every order ever submitted by client order id, and the
    ones still working (not done)."""

    books: dict[tuple[str, str], VisibleBook] = field(default_factory=dict)
    orders: dict[str, PaperOrder] = field(default_factory=dict)
    working: dict[str, PaperOrder] = field(default_factory=dict)
    now: int = 0


def fee(config: DeskConfig, request: OrderRequest, px: Decimal, qty: Decimal, liquidity: Liquidity) -> Decimal:
    """In the settle currency (`settle_currency`), with the maker or taker bps of the order's
    venue and market: `px × qty × bps / 10⁴` (USD-settled); for an inverse perp, settled in its
    coin, the face `px × qty` USD × bps / 10⁴ / px = `qty × bps / 10⁴` coins."""
    venue = config.venues[request.venue]
    schedule = venue.spot if request.market == "spot" else venue.perp
    assert schedule is not None  # refused at activation otherwise
    bps = schedule.maker_bps if liquidity == "maker" else schedule.taker_bps
    if settle_currency(request.symbol) == request.symbol.split("/", 1)[0]:  # inverse: BTC/USD:BTC
        return MONEY.divide(MONEY.multiply(qty, bps), BPS_PER_UNIT)
    return MONEY.divide(MONEY.multiply(MONEY.multiply(px, qty), bps), BPS_PER_UNIT)


def settle_currency(symbol: str) -> str:
    """`BTC/USDT:USDT` → USDT (settle), `BTC/USDT` → USDT (quote), `BTC/USD:BTC` → BTC."""
    return symbol.rsplit(":", 1)[1] if ":" in symbol else symbol.split("/", 1)[-1]


def submit(venue: PaperVenue, request: OrderRequest, config: DeskConfig) -> list[VenueEvent]:
    """Accept an order for the book at `request.ts + latency_ms`; events due by now follow."""
    if request.client_order_id in venue.orders:
        return []  # the same client id twice: a venue refuses the duplicate; nothing changes
    order = PaperOrder(request=request, seq=len(venue.orders), ts_live=request.ts + config.execution.paper.latency_ms)
    venue.orders[request.client_order_id] = venue.working[request.client_order_id] = order
    return advance(venue, max(venue.now, request.ts), config)


def cancel(venue: PaperVenue, client_order_id: str, ts: int, config: DeskConfig,
           reason: str = reasons.ORDER_TIMEOUT) -> list[VenueEvent]:
    """Ask to cancel; it takes effect `latency_ms` later. Unknown or finished orders: no-op."""
    order = venue.working.get(client_order_id)
    if order is None:
        return []
    due = ts + config.execution.paper.latency_ms
    if order.cancel_at is None or due < order.cancel_at:
        order.cancel_at, order.cancel_reason = due, reason
    return advance(venue, max(venue.now, ts), config)


def advance(venue: PaperVenue, ts: int, config: DeskConfig) -> list[VenueEvent]:
    """Move stream time to `ts`: orders reach the book and cancels land, in time order."""
    venue.now = max(venue.now, ts)
    due: list[tuple[int, int, int, PaperOrder]] = []
    for order in venue.working.values():
        if not order.live and order.ts_live <= venue.now:
            due.append((order.ts_live, 0, order.seq, order))
        if order.cancel_at is not None and order.cancel_at <= venue.now:
            due.append((order.cancel_at, 1, order.seq, order))
    out: list[VenueEvent] = []
    for at, kind, _, order in sorted(due, key=lambda d: d[:3]):
        if order.done:
            continue
        if kind == 0:
            out += _go_live(venue, order, at, config)
        else:
            order.done = True
            out.append(_event(order, "canceled", at, reason=order.cancel_reason))
    _prune(venue)
    return out


def _prune(venue: PaperVenue) -> None:
    for client_order_id in [k for k, order in venue.working.items() if order.done]:
        del venue.working[client_order_id]


def on_market(venue: PaperVenue, record: Ticker | OrderBook | MarketTrade,
              config: DeskConfig) -> list[VenueEvent]:
    """Advance to the record's time, then fold it in: books and tickers replace the visible
    levels (a book, once seen, wins over tickers); trades feed resting orders' queues."""
    out = advance(venue, record.ts_local, config)
    key = (record.venue, record.symbol)
    if type(record) is OrderBook:
        venue.books[key] = VisibleBook(bids=record.bids, asks=record.asks, is_book=True)
    elif type(record) is Ticker:
        held = venue.books.get(key)
        if held is None or not held.is_book:
            venue.books[key] = VisibleBook(bids=((record.bid, record.bid_qty),), asks=((record.ask, record.ask_qty),),
                                           is_book=False)
    elif type(record) is MarketTrade:
        for order in list(venue.working.values()):
            if order.live and not order.done and (order.request.venue, order.request.symbol) == key \
                    and record.ts_local >= order.ts_live:
                out += _on_trade(order, record, config)
        _prune(venue)
    return out


def _crosses(side: Side, px: Decimal, limit: Decimal | None) -> bool:
    return limit is None or (px <= limit if side == "buy" else px >= limit)


def _take(levels: tuple[Level, ...], side: Side, qty: Decimal,
          limit: Decimal | None) -> tuple[list[Level], tuple[Level, ...]]:
    """Per-level fills of a taker for `qty` up to `limit`, and the levels left behind."""
    fills: list[Level] = []
    rest: list[Level] = []
    remaining = qty
    for index, (px, size) in enumerate(levels):
        if remaining <= _ZERO or not _crosses(side, px, limit):
            rest.extend(levels[index:])
            break
        take = min(size, remaining)
        fills.append((px, take))
        remaining -= take
        if size > take:
            rest.append((px, size - take))
    return fills, tuple(rest)


def queue_ahead(levels: tuple[Level, ...], side: Side, limit: Decimal, is_book: bool) -> Decimal:
    """Quantity resting ahead of a new order at `limit` on its own side (`levels` best first)."""
    if not levels:
        return _ZERO
    best_px, best_qty = levels[0]
    if (limit > best_px) if side == "buy" else (limit < best_px):
        return _ZERO  # improves the touch: first in line
    for px, size in levels:
        if px == limit:
            return size
    return _ZERO if is_book else best_qty  # ticker only: the touch size stands in for the unknown


def _go_live(venue: PaperVenue, order: PaperOrder, ts: int, config: DeskConfig) -> list[VenueEvent]:
    request = order.request
    order.live = True
    venue_config = config.venues.get(request.venue)
    book = venue.books.get((request.venue, request.symbol))
    schedule = None if venue_config is None else venue_config.spot if request.market == "spot" else venue_config.perp
    if schedule is None or request.qty <= _ZERO:
        order.done = True
        return [_event(order, "rejected", ts, reason=reasons.UNTRADABLE_VENUE)]
    if book is None:
        order.done = True
        return [_event(order, "rejected", ts, reason=reasons.NO_LIQUIDITY)]
    out = [_event(order, "accepted", ts)]
    buy = request.side == "buy"
    opposite = book.asks if buy else book.bids
    limit = None if request.order_type == "market" else request.limit_px
    fills, rest = _take(opposite, request.side, request.qty, limit)
    if buy:
        book.asks = rest
    else:
        book.bids = rest
    for px, qty in fills:
        out.append(_fill(order, px, qty, "taker", ts, config))
    order.taken = order.filled
    if order.filled >= request.qty:
        order.done = True
    elif request.order_type != "limit" or request.limit_px is None:
        order.done = True
        out.append(_event(order, "canceled", ts, reason=reasons.IOC_REMAINDER))
    else:
        own = book.bids if buy else book.asks
        order.queue_ahead = queue_ahead(own, request.side, request.limit_px, book.is_book)
    return out


def _on_trade(order: PaperOrder, trade: MarketTrade, config: DeskConfig) -> list[VenueEvent]:
    request = order.request
    if request.order_type != "limit" or request.limit_px is None or trade.side == request.side:
        return []  # only takers on the other side reach a resting order
    if not _crosses(request.side, trade.px, request.limit_px):  # a sell taker at px ≤ our buy limit
        return []
    order.traded += trade.qty
    threshold = config.execution.paper.queue_fill_fraction * order.queue_ahead
    if order.traded < threshold:
        return []
    lot = config.venues[request.venue].lot_size
    reached = min(request.qty - order.taken, round_to_lot(order.traded - threshold, lot))
    if reached <= order.filled - order.taken:
        return []
    event = _fill(order, request.limit_px, reached - (order.filled - order.taken), "maker", trade.ts_local, config)
    if order.filled >= request.qty:
        order.done = True
    return [event]


def _fill(order: PaperOrder, px: Decimal, qty: Decimal, liquidity: Liquidity, ts: int,
          config: DeskConfig) -> VenueEvent:
    order.filled += qty
    order.fills += 1
    request = order.request
    return VenueEvent(kind="fill", client_order_id=request.client_order_id, venue=request.venue,
                      symbol=request.symbol, ts=ts,
                      fill_id=f"{request.client_order_id}#{order.fills}", px=px, qty=qty,
                      fee=fee(config, request, px, qty, liquidity), fee_currency=settle_currency(request.symbol),
                      liquidity=liquidity)


def _event(order: PaperOrder, kind: VenueEventKind, ts: int, reason: str | None = None) -> VenueEvent:
    request = order.request
    return VenueEvent(kind=kind, client_order_id=request.client_order_id, venue=request.venue,
                      symbol=request.symbol, ts=ts, reason=reason)
