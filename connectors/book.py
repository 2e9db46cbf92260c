"""A level-2 order book kept from a snapshot and diffs (connector-side state).

Venue modules own the *sequencing* rules (update ids, checksums, when to resync); this
class only holds price levels: `apply` sets a level's quantity, 0 removes it. Levels are
kept in sorted maps (sortedcontainers), so the top N is a slice, not a sort.
"""

from collections.abc import Iterable
from decimal import Decimal

from sortedcontainers import SortedDict

from arbflow.model.market import Level

_ZERO = Decimal(0)


class L2Book:
    """Bids and asks as price → quantity. Invariant after a valid update: best bid < best ask."""

    __slots__ = ("_asks", "_bids")

    def __init__(self) -> None:
        self._bids: SortedDict = SortedDict()
        self._asks: SortedDict = SortedDict()

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    def load(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the whole book with a snapshot (zero quantities are skipped)."""
        self.clear()
        self.apply(bids, asks)

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Set each given level; a quantity of 0 deletes the level."""
        for side, levels in ((self._bids, bids), (self._asks, asks)):
            for price, qty in levels:
                if qty == _ZERO:
                    side.pop(price, None)
                else:
                    side[price] = qty

    @property
    def empty(self) -> bool:
        return not self._bids or not self._asks

    def crossed(self) -> bool:
        """True when both sides exist and best bid >= best ask (the book is wrong)."""
        return not self.empty and self._bids.peekitem(-1)[0] >= self._asks.peekitem(0)[0]

    def top(self, depth: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """The best `depth` levels per side: bids descending, asks ascending."""
        bids = self._bids
        count = len(bids)
        top_bids = tuple(bids.peekitem(count - 1 - i) for i in range(min(depth, count)))
        top_asks = tuple(self._asks.peekitem(i) for i in range(min(depth, len(self._asks))))
        return top_bids, top_asks
