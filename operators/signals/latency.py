"""Exchange latency per venue (docs/architecture.md §3.4): rolling 10 s mean of
`ts_local − ts_exchange`, raw and corrected for the clock offset between our host (or a
recorder) and the venue.

Why a correction: the two timestamps come from different clocks. The bundled Binance
capture's recorder ran ~1.27 s *behind* Binance, so raw latency is about −1,270 ms —
not a meaningful delay. The offset is estimated two ways:
- from server-time polls when they exist (`observe_server_time`): offset = the midpoint
  of request and response in local time minus the server's time (NTP-style; needs the
  round trip to be roughly symmetric);
- otherwise as the minimum raw latency over `offset_window_ms` (the fastest message is
  taken as zero excess delay). Then `corrected` is the delay *in excess of the fastest*
  and a constant true delay is invisible — that is the price of having no server time.
Stale: corrected mean above `stale_ms` (200 ms).

State is a mutable object owned by the step that holds it (a 10 s window at thousands
of messages per second is too large to copy per message); it is plain data, so Bytewax
can snapshot it, and the functions here are deterministic in their inputs.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import Final

from arbflow.model.signals import LatencyReading

MEAN_WINDOW_MS: Final = 10_000
OFFSET_WINDOW_MS: Final = 60_000
POLL_VALID_MS: Final = 300_000
STALE_MS: Final = 200


@dataclass(slots=True)
class VenueLatency:
    """Rolling windows of one venue: (ts_local, raw) for the mean, a monotonic deque for
    the sliding minimum, and the latest poll offset."""

    window: deque[tuple[int, int]] = field(default_factory=deque)
    total: int = 0
    minima: deque[tuple[int, int]] = field(default_factory=deque)
    poll_offset_ms: float | None = None
    poll_ts: int = 0


def observe_server_time(state: VenueLatency | None, ts_request: int, ts_server: int,
                        ts_response: int) -> VenueLatency:
    """Record a server-time poll: offset = (request + response) / 2 − server time."""
    state = state or VenueLatency()
    state.poll_offset_ms = (ts_request + ts_response) / 2 - ts_server
    state.poll_ts = ts_response
    return state


def observe_message(state: VenueLatency | None, venue: str, ts_exchange: int, ts_local: int, *,
                    mean_window_ms: int = MEAN_WINDOW_MS, offset_window_ms: int = OFFSET_WINDOW_MS,
                    stale_ms: int = STALE_MS) -> tuple[VenueLatency, LatencyReading]:
    """Fold one message's timestamps in; return the venue's reading at `ts_local`."""
    state = observe(state, ts_exchange, ts_local, mean_window_ms=mean_window_ms, offset_window_ms=offset_window_ms)
    return state, reading(state, venue, ts_local, stale_ms=stale_ms)


def observe(state: VenueLatency | None, ts_exchange: int, ts_local: int, *, mean_window_ms: int = MEAN_WINDOW_MS,
            offset_window_ms: int = OFFSET_WINDOW_MS) -> VenueLatency:
    """Fold one message's timestamps in (the hot path: no record is built)."""
    state = state or VenueLatency()
    raw = ts_local - ts_exchange
    state.window.append((ts_local, raw))
    state.total += raw
    while state.window[0][0] <= ts_local - mean_window_ms:
        state.total -= state.window.popleft()[1]
    while state.minima and state.minima[-1][1] >= raw:
        state.minima.pop()
    state.minima.append((ts_local, raw))
    while state.minima[0][0] <= ts_local - offset_window_ms:
        state.minima.popleft()
    return state


def offset(state: VenueLatency, now: int) -> tuple[float, str]:
    """(local − venue clock in ms, "poll" or "min") at stream time `now`."""
    if state.poll_offset_ms is not None and now - state.poll_ts <= POLL_VALID_MS:
        return state.poll_offset_ms, "poll"
    return float(state.minima[0][1]), "min"


def corrected_mean(state: VenueLatency, now: int) -> float:
    """The offset-corrected rolling mean (ms) — what staleness is judged on."""
    return state.total / len(state.window) - offset(state, now)[0]


def reading(state: VenueLatency, venue: str, now: int, *, stale_ms: int = STALE_MS, asset: str = "") -> LatencyReading:
    """The venue's `LatencyReading` at stream time `now` (after at least one message)."""
    shift, source = offset(state, now)
    samples = len(state.window)
    raw_mean = state.total / samples
    corrected = raw_mean - shift
    return LatencyReading(venue=venue, asset=asset, raw_mean_ms=raw_mean, corrected_mean_ms=corrected, offset_ms=shift,
                          offset_source=source, samples=samples, stale=corrected > stale_ms, ts=now)
