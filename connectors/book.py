"""A level-2 order book kept from a snapshot and diffs (connector-side state).

Venue modules own the *sequencing* rules (update ids, checksums, when to resync); this
class only holds price levels: `apply` sets a level's quantity, 0 removes it.

Layout, per side: a plain dict price → quantity, and a list kept sorted ascending with
`bisect` whose last item is the best level: the bid prices, and the ask prices negated
(`Decimal.copy_negate`, exact whatever the digits, so negating back gives the same
price). Inserts and deletes happen mostly near the touch, so they move few list items (a
list insert is a memmove of everything after it: ≈ 7 µs at the front of a 5,000-level
list, ≈ 0.1 µs at its end). A quantity change touches only the dict; a new or vanished
price also the list. The top N
(`top`) is cut from the sorted list and kept as tuples until a change reaches it: a level
at or better than the cached N-th best price marks that side stale (a change below it
cannot alter the top N), so most diffs emit the same tuples again without rebuilding them.
"""

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from arbflow.model.market import Level
from arbflow.model.money import PLAIN_DECIMALS, plain_decimal_miss

_NEGATE = Decimal.copy_negate
Read = Callable[[Any, str], Decimal]  # (text, "p" | "q") → Decimal, raising the caller's error


class LevelError(ValueError):
    """A level of `apply_texts` that is not a list of at least [price, quantity]:
    `side` is "b" or "a", `index` its position."""

    def __init__(self, side: str, index: int) -> None:
        super().__init__(f"{side}[{index}]: expected [price, quantity]")
        self.side, self.index = side, index


class L2Book:
    """Bids and asks as price → quantity. Invariant after a valid update: best bid < best ask.

    `_bid_px` holds exactly the keys of `_bids`, ascending; `_ask_neg` exactly the keys of
    `_asks` negated, ascending (best ask last in both). The cached
    tops (`_top_bids`, bids descending; `_top_asks`, asks ascending) are `None` when stale;
    `_bid_edge` / `_ask_edge` are the worst price inside a cached top (None: the side had
    fewer than `_top_depth` levels, so any change reaches it).
    """

    __slots__ = ("_ask_edge", "_ask_neg", "_asks", "_bid_edge", "_bid_px", "_bids", "_top_asks", "_top_bids",
                 "_top_depth")

    def __init__(self) -> None:
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self._bid_px: list[Decimal] = []
        self._ask_neg: list[Decimal] = []
        self._top_depth = 0
        self._top_bids: tuple[Level, ...] | None = None
        self._top_asks: tuple[Level, ...] | None = None
        self._bid_edge: Decimal | None = None
        self._ask_edge: Decimal | None = None

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._bid_px.clear()
        self._ask_neg.clear()
        self._top_bids = self._top_asks = None

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book with a snapshot (levels applied in order, as `apply`
        would: a zero quantity deletes an earlier level of the same price)."""
        self._bids, self._asks = {}, {}
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for price, qty in levels:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self._bid_px = sorted(self._bids)
        self._ask_neg = sorted([price.copy_negate() for price in self._asks])
        self._top_bids = self._top_asks = None

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each given level; a quantity of 0 deletes the level."""
        if self._set_levels(bids, self._bids, self._bid_px, None if self._top_bids is None else self._bid_edge, True):
            self._top_bids = None
        if self._set_levels(asks, self._asks, self._ask_neg, None if self._top_asks is None else self._ask_edge,
                            False):
            self._top_asks = None

    def apply_texts(self, bids: list[Any], asks: list[Any], read: Read) -> None:
        """`apply` for levels as a venue sends them, `[price_text, qty_text, …]` lists
        (extra items ignored): each text is looked up in `model.money.PLAIN_DECIMALS`, a
        miss read by `plain_decimal`, and what that cannot read (a non-text, not a number,
        out of range) by `read(text, "p" | "q")`, which must refuse it. One pass, no
        intermediate levels. Not atomic: a bad level raises (the error of `read`, or
        `LevelError`) after the levels before it were applied, so the caller must drop the
        book then (Binance's `DepthSync` resyncs)."""
        if self._top_bids is None:
            self._set_texts(bids, self._bids, self._bid_px, None, True, read, "b")
        elif self._set_texts(bids, self._bids, self._bid_px, self._bid_edge, True, read, "b"):
            self._top_bids = None
        if self._top_asks is None:
            self._set_texts(asks, self._asks, self._ask_neg, None, False, read, "a")
        elif self._set_texts(asks, self._asks, self._ask_neg, self._ask_edge, False, read, "a"):
            self._top_asks = None

    @staticmethod
    def _set_texts(levels: list[Any], side: dict[Decimal, Decimal], prices: list[Decimal], edge: Decimal | None,
                   bids: bool, read: Read, name: str) -> bool:
        """The loop of `apply_texts` for one side; True if a level is at or better than
        `edge` (None: the top is stale anyway, or shorter than its depth). The hottest
        loop of the normaliser: no enumerate, the index of a bad level is found after."""
        known = PLAIN_DECIMALS.get
        touched = edge is None
        for level in levels:
            if type(level) is not list:
                raise LevelError(name, _position(levels, level))
            try:
                text_px, text_qty = level
            except ValueError:
                if len(level) < 2:
                    raise LevelError(name, _position(levels, level)) from None
                text_px, text_qty = level[0], level[1]
            try:
                price = known(text_px)
            except TypeError:  # an unhashable non-text: `read` refuses it
                price = None
            if price is None:
                price = plain_decimal_miss(text_px) if type(text_px) is str else None
                if price is None:
                    price = read(text_px, "p")  # raises
            try:
                qty = known(text_qty)
            except TypeError:
                qty = None
            if qty is None:
                qty = plain_decimal_miss(text_qty) if type(text_qty) is str else None
                if qty is None:
                    qty = read(text_qty, "q")  # raises
            if bids:
                if not touched:
                    touched = price >= edge  # type: ignore[operator]
                if qty:
                    if price not in side:
                        insort(prices, price)
                    side[price] = qty
                elif side.pop(price, None) is not None:
                    del prices[bisect_left(prices, price)]
            else:
                if not touched:
                    touched = price <= edge  # type: ignore[operator]
                if qty:
                    if price not in side:
                        insort(prices, price.copy_negate())
                    side[price] = qty
                elif side.pop(price, None) is not None:
                    del prices[bisect_left(prices, price.copy_negate())]
        return touched

    @staticmethod
    def _set_levels(levels: Iterable[Level], side: dict[Decimal, Decimal], prices: list[Decimal],
                    edge: Decimal | None, bids: bool) -> bool:
        """Set the levels of one side; True if one of them is at or better than `edge`,
        the worst price of the cached top (None: the top is stale anyway, or shorter than
        its depth), so that the cached top is stale now."""
        touched = edge is None
        for price, qty in levels:
            if not touched:
                touched = price >= edge if bids else price <= edge  # type: ignore[operator]
            if qty:
                if price not in side:
                    insort(prices, price if bids else price.copy_negate())
                side[price] = qty
            elif side.pop(price, None) is not None:
                del prices[bisect_left(prices, price if bids else price.copy_negate())]
        return touched

    @property
    def empty(self) -> bool:
        return not self._bids or not self._asks

    def crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask (the book is wrong)."""
        return bool(self._bid_px) and bool(self._ask_neg) and self._bid_px[-1] >= self._ask_neg[-1].copy_negate()

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best `depth` levels per side: bids descending, asks ascending."""
        if depth != self._top_depth:
            self._top_depth = depth
            self._top_bids = self._top_asks = None
        if self._top_bids is None:
            best = self._bid_px[:-depth - 1:-1] if depth > 0 else []
            self._top_bids = tuple(zip(best, map(self._bids.__getitem__, best), strict=True))
            self._bid_edge = best[-1] if len(best) == depth and depth > 0 else None
        if self._top_asks is None:
            best = list(map(_NEGATE, self._ask_neg[:-depth - 1:-1])) if depth > 0 else []
            self._top_asks = tuple(zip(best, map(self._asks.__getitem__, best), strict=True))
            self._ask_edge = best[-1] if len(best) == depth and depth > 0 else None
        return self._top_bids, self._top_asks



def _position(levels: list[Any], level: Any) -> int:
    """The index of the (bad) `level` object in `levels`."""
    return next(i for i, item in enumerate(levels) if item is level)
