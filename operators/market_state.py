"""What every stage of one asset's desk knows about the market of that asset, kept once:
the latest quote per (venue, symbol), the perps' marks, the funding monitor, the newest
record time (the watermark) and the asset's name — and `observe`, the one function that
folds a market-data record in, before the signal and execution stages read it.

Quotes: a book, once there is one, is the better quote; until then the ticker's touch.
Both stages read them as scanner quotes (`scanner.Quote`). A quote changes far more often
than it is read (the scanner reads at most once a second of stream time, execution only
while it trades), so `Quotes` keeps the record that carried each one and converts it on
the first read after it changed, once for both readers.

A record more than `late_tolerance_ms` behind the newest record of its asset changes
nothing here: `observe` returns it as a LATE_RECORD rejection (`source` = its topic) for
its dead-letter topic. So does a quote, book, trade or liquidation whose price is implausible
against the asset's other prices (PRICE_IMPLAUSIBLE, `model.plausibility`: outside the band
around the median mid of the other instruments, else its own recent mid; below the asset's
floor without either) — given the `[plausibility]` section; accepted quotes and books are the
references.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arbflow.model import codec, reasons
from arbflow.model.config import PlausibilityConfig
from arbflow.model.market import FundingRate, Liquidation, MarketTrade, OrderBook, Ticker
from arbflow.model.plausibility import PriceReferences, check_record
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import base_asset
from arbflow.model.topics import RECORD_TYPES
from arbflow.operators.signals import funding as funding_ops
from arbflow.operators.signals.scanner import Quote

Instrument = tuple[str, str]  # (venue, symbol)


def quote_of(record: Ticker | OrderBook) -> Quote:
    """A book's levels, or a ticker's touch, as a scanner quote."""
    if isinstance(record, Ticker):
        return Quote(venue=record.venue, symbol=record.symbol, market=record.market,
                     bids=((record.bid, record.bid_qty),), asks=((record.ask, record.ask_qty),), is_book=False,
                     ts=record.ts_local)
    return Quote(venue=record.venue, symbol=record.symbol, market=record.market, bids=record.bids,
                 asks=record.asks, is_book=True, ts=record.ts_local)


class Quotes(Mapping[Instrument, Quote]):
    """The latest quote per (venue, symbol), in the order the instruments first quoted."""

    __slots__ = ("_read", "_records")

    def __init__(self) -> None:
        self._records: dict[Instrument, Ticker | OrderBook] = {}
        self._read: dict[Instrument, Quote] = {}  # converted since the record last changed

    def observe(self, record: Ticker | OrderBook) -> None:
        """Take a ticker or a book; a ticker never replaces a book."""
        key = (record.venue, record.symbol)
        if type(record) is Ticker and type(self._records.get(key)) is OrderBook:
            return
        self._records[key] = record
        self._read.pop(key, None)

    def __getitem__(self, key: Instrument) -> Quote:
        quote = self._read.get(key)
        if quote is None:
            quote = self._read[key] = quote_of(self._records[key])
        return quote

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


@dataclass(slots=True)
class MarketState:
    """Mutable market of one asset, owned by its desk (snapshots pickle it with the desk)."""

    quotes: Quotes = field(default_factory=Quotes)
    marks: dict[Instrument, Decimal] = field(default_factory=dict)
    funding: funding_ops.FundingMonitor = field(default_factory=funding_ops.FundingMonitor)
    watermark: int = 0  # the newest ts_local seen
    asset: str = ""  # the base asset, from the first record
    prices: PriceReferences = field(default_factory=PriceReferences)  # accepted mids: plausibility references


_PRICED = (Ticker, OrderBook, MarketTrade, Liquidation)


def observe(market: MarketState, record: Any, late_tolerance_ms: int | None = None,
            plausibility: PlausibilityConfig | None = None) -> Rejected | None:
    """Fold one market-data record in (any `md.*` record); None, or the rejection of a late
    record (more than `late_tolerance_ms` behind the watermark; None = never late) or of an
    implausible price (given `plausibility`; None = not checked)."""
    now = record.ts_local
    if late_tolerance_ms is not None and now < market.watermark - late_tolerance_ms:
        return _late(record, market.watermark)
    if not market.asset:
        market.asset = base_asset(record.symbol)
    kind = type(record)
    if plausibility is not None and kind in _PRICED:
        problem = check_record(market.prices, market.asset, record, now, plausibility)
        if problem is not None:
            return _refused(record, reasons.PRICE_IMPLAUSIBLE, problem)
    market.watermark = max(market.watermark, now)
    if kind is Ticker:
        market.quotes.observe(record)
        if record.mark is not None:
            market.marks[(record.venue, record.symbol)] = record.mark
    elif kind is OrderBook:
        market.quotes.observe(record)
    elif kind is FundingRate:
        funding_ops.observe(market.funding, record)
    return None


def _late(record: Any, watermark: int) -> Rejected:
    """A record too far behind its asset's stream, for its dead-letter topic (`source`)."""
    return _refused(record, reasons.LATE_RECORD, f"ts_local {record.ts_local} is {watermark - record.ts_local} ms "
                    "behind the newest record of its asset")


def _refused(record: Any, reason: str, detail: str) -> Rejected:
    """A valid record the market state refuses, for its dead-letter topic (`source`)."""
    topic = next(t for t, cls in RECORD_TYPES.items() if cls is type(record))
    return codec.reject(reason, detail, source=topic, raw=codec.encode(record), ts=record.ts_local)
