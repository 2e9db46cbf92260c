"""Spot–perp basis per venue from tickers (docs/architecture.md §3.3), the first signal of the
pipeline. State is per base asset (the Bytewax key) and holds, per venue, the latest
spot and perp mids; every ticker that completes a pair emits a `BasisPoint`.

Rolling medians, Basis-at-Risk and percentiles build on this in the signal dataflow.
"""

from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.market import Ticker
from arbflow.model.money import mid, ratio, to_bps
from arbflow.model.signals import BasisPoint
from arbflow.model.symbols import base_asset


@dataclass(frozen=True, slots=True)
class Mid:
    """The latest mid of one instrument and the stream time it was seen."""

    symbol: str
    mid: Decimal
    ts: int
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True, slots=True)
class BasisState:
    """Latest spot and perp mid per venue for one asset; venue → Mid."""

    spot: tuple[tuple[str, Mid], ...] = ()
    perp: tuple[tuple[str, Mid], ...] = ()


_EMPTY = BasisState()


def _is_linear(symbol: str) -> bool:
    """`BASE/QUOTE:SETTLE` with SETTLE == QUOTE."""
    pair, _, settle = symbol.partition(":")
    return pair.endswith("/" + settle)


def _with(entries: tuple[tuple[str, Mid], ...], venue: str, value: Mid) -> tuple[tuple[str, Mid], ...]:
    if len(entries) == 1 and entries[0][0] == venue:  # the common single-venue case
        return ((venue, value),)
    return (*((v, m) for v, m in entries if v != venue), (venue, value))


def _find(entries: tuple[tuple[str, Mid], ...], venue: str) -> Mid | None:
    for v, m in entries:  # a venue or two: a loop, no generator
        if v == venue:
            return m
    return None


def basis_fraction(spot_mid: Decimal, perp_mid: Decimal) -> Decimal:
    """`(perp_mid − spot_mid) / spot_mid` (docs/architecture.md §3.3), a fraction (× 10⁴ for bps)."""
    return ratio(perp_mid - spot_mid, spot_mid)


def update_basis(state: BasisState | None, ticker: Ticker) -> tuple[BasisState, BasisPoint | None]:
    """Fold one ticker into the state; emit the venue's basis when it changes.

    A point is emitted once both legs of a venue are known and then whenever either
    leg's mid changes; a ticker that only changes quantities (most of a bookTicker
    stream: 9,409 of the 172,198 in the bundled capture move a price) emits nothing.
    Linear perps only (quote = settle = the spot's quote): an inverse perp's mid is in a
    different unit of account and never pairs with spot here. Stream time is the
    triggering ticker's `ts_local`.
    """
    state = state or _EMPTY
    spot: Mid | None
    perp: Mid | None
    held = _find(state.spot if ticker.market == "spot" else state.perp, ticker.venue)
    if held is not None and held.bid == ticker.bid and held.ask == ticker.ask and held.symbol == ticker.symbol:
        return state, None  # only quantities moved (the common case): no mid to compute
    venue_mid = Mid(symbol=ticker.symbol, mid=mid(ticker.bid, ticker.ask), ts=ticker.ts_local, bid=ticker.bid,
                    ask=ticker.ask)
    unchanged = held is not None and held.mid == venue_mid.mid and held.symbol == venue_mid.symbol
    if ticker.market == "spot":
        state = BasisState(spot=_with(state.spot, ticker.venue, venue_mid), perp=state.perp)
        spot, perp = venue_mid, _find(state.perp, ticker.venue)
    else:
        if not _is_linear(ticker.symbol):
            return state, None  # inverse or cross-settled perp: no spot counterpart
        state = BasisState(spot=state.spot, perp=_with(state.perp, ticker.venue, venue_mid))
        spot, perp = _find(state.spot, ticker.venue), venue_mid
    if unchanged:  # bid and ask moved but not the mid: remember them, emit nothing
        return state, None
    if spot is None or perp is None or spot.symbol != perp.symbol.split(":", 1)[0]:
        return state, None
    basis = basis_fraction(spot.mid, perp.mid)
    return state, BasisPoint(asset=base_asset(ticker.symbol), venue=ticker.venue, spot_symbol=spot.symbol,
                             perp_symbol=perp.symbol, spot_mid=spot.mid, perp_mid=perp.mid, basis=basis,
                             basis_bps=to_bps(basis), ts=ticker.ts_local)
