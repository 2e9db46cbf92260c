"""Funding intervals of live feeds (docs/architecture.md §3.2; issue 4 item 2).

`interval_ms` of a funding record comes, in this order, from:
1. the venue's own field when ccxt's `info` carries one (Bybit `fundingIntervalHour`,
   OKX `nextFundingTime − fundingTime`, Binance `fundingIntervalHours` in fundingInfo);
2. the difference between two consecutive `next_funding_time` values seen for the same
   symbol (a settlement passed: T1 → T2 gives T2 − T1), rounded to the minute and kept
   when it is a whole number of hours from 1 to 24;
3. the venue's configured `VenueConfig.funding_interval_ms` (8 h; Hyperliquid 1 h).

State is per (symbol) inside one `FundingIntervals`; nothing here does I/O or reads a clock.
"""

from dataclasses import dataclass, field
from typing import Final, Literal

HOUR_MS: Final = 3_600_000
MINUTE_MS: Final = 60_000
Source = Literal["venue", "inferred", "default"]


@dataclass(slots=True)
class FundingIntervals:
    """Chooses `interval_ms` per symbol (see the module docstring). `default_ms` is the
    venue's configured interval."""

    default_ms: int
    _last_next: dict[str, int] = field(default_factory=dict)
    _inferred: dict[str, int] = field(default_factory=dict)

    def interval(self, symbol: str, next_funding_time: int, venue_ms: int | None = None) -> tuple[int, Source]:
        """(interval_ms, where it came from) for a rate settling at `next_funding_time`."""
        previous = self._last_next.get(symbol)
        self._last_next[symbol] = next_funding_time
        if previous is not None and next_funding_time > previous:
            delta = round((next_funding_time - previous) / MINUTE_MS) * MINUTE_MS
            if delta % HOUR_MS == 0 and HOUR_MS <= delta <= 24 * HOUR_MS:
                self._inferred[symbol] = delta
        if venue_ms is not None and MINUTE_MS <= venue_ms <= 24 * HOUR_MS:
            return venue_ms, "venue"
        inferred = self._inferred.get(symbol)
        if inferred is not None:
            return inferred, "inferred"
        return self.default_ms, "default"
