"""Settings, status and alert codes of the live feeds (shared by `ccxt_feed`, `runner`
and the CLI). Units are in the names: `_s` seconds, `_ms` milliseconds."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import ccxt

from arbflow.model import reasons

STREAMS: Final = ("ticker", "book", "trade", "funding")  # the default selection
# opt-in: `oi` (REST open interest poll → md.oi), `liquidation` (watch_liquidations → md.liquidation)
OPTIONAL_STREAMS: Final = ("oi", "liquidation")
ALL_STREAMS: Final = (*STREAMS, *OPTIONAL_STREAMS)
# streams whose records do not count as a venue's updates for staleness (polls, rare prints)
QUIET_STREAMS: Final = frozenset({"funding", "oi", "liquidation"})
# Alert codes on risk.alert (model.reasons).
STALE_FEED: Final = reasons.STALE_FEED
FEED_RECOVERED: Final = reasons.FEED_RECOVERED
FEED_FAILED: Final = reasons.FEED_FAILED
FUNDING_FALLBACK: Final = reasons.FUNDING_FALLBACK
Emit = Callable[[str, str | None, Any], None]  # (logical topic, key, record or Rejected)
Clock = Callable[[], int]  # wall-clock ms UTC


class StaleStream(ccxt.NetworkError):  # type: ignore[misc]  # ccxt is untyped
    """Raised into ccxt's websocket clients when a venue sent nothing for `stale_after_s`
    (a `NetworkError`, so every stream on them reconnects like after any drop)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedSettings:
    """Stream selection and resilience knobs.

    `depth`: levels per side in md.book. `stale_after_s`: no update from the venue for
    this long → stale (alert, gauge, and with `reconnect_when_stale` its websockets are
    failed so every stream reconnects). `funding_poll_s`: REST funding poll period — and,
    for perps with a websocket funding stream, how recent its last update must be for the
    poll to skip the perp;
    `oi_poll_s`: REST open-interest poll period.
    Backoff: `backoff_initial_s` doubling to `backoff_max_s`, plus up to `backoff_jitter_s`
    of random jitter. `rest_attempts`: tries of one REST call (markets, funding).
    """

    streams: tuple[str, ...] = STREAMS
    depth: int = 20
    stale_after_s: float = 10.0
    reconnect_when_stale: bool = True
    funding_poll_s: float = 60.0
    oi_poll_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter_s: float = 0.5
    rest_attempts: int = 4


@dataclass(slots=True)
class StreamStatus:
    """What one stream of a venue has done: updates, reconnects, books re-watched for a
    new snapshot (`resyncs`), the last update's monotonic time, and why it stopped (None
    while it runs). Funding only: `fallbacks` counts perps the REST poll served because
    their websocket funding stream was missing, stale or stopped; `watch_failed` says why
    a funding websocket stopped (the stream itself goes on over REST)."""

    messages: int = 0
    reconnects: int = 0
    resyncs: int = 0
    last_monotonic: float | None = None
    failed: str | None = None
    fallbacks: int = 0
    watch_failed: str | None = None


@dataclass(slots=True)
class VenueStatus:
    """A venue's streams, whether it is stale, and its last streamed update (monotonic s)."""

    venue: str
    streams: dict[str, StreamStatus] = field(default_factory=dict)
    stale: bool = False
    last_monotonic: float | None = None
