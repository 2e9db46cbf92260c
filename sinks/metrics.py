"""Prometheus metrics of the signal flow (DESIGN.md §4). Labels are only `venue`,
`market` and `reason` (low cardinality); per-asset detail lives in Kafka and Redis.

| metric | type | labels | meaning |
|---|---|---|---|
| `arbflow_records_decoded_total` | counter | market | market-data records accepted by the flow |
| `arbflow_dead_letters_total` | counter | reason | records refused to a dead-letter topic |
| `arbflow_opportunities_total` | counter | reason | scanned candidates by outcome (`ACCEPTED` or the refusal) |
| `arbflow_venue_latency_ms` | gauge | venue | offset-corrected 10 s mean latency |
| `arbflow_venue_clock_offset_ms` | gauge | venue | local − venue clock |
| `arbflow_venue_stale` | gauge | venue | 1 when the corrected latency is above 200 ms |
| `arbflow_end_to_end_seconds` | histogram | – | receipt (`ts_local`) to the Redis write, live data only |
| `arbflow_entries_denied_total` | counter | reason | accepted opportunities the execution desk refused |
"""

import time
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from model.signals import LatencyReading

ENTRIES_DENIED = Counter("arbflow_entries_denied", "Accepted opportunities the execution desk refused, by reason.",
                         ["reason"])
RECORDS = Counter("arbflow_records_decoded", "Market-data records accepted by the signal flow.", ["market"])
LATENCY = Gauge("arbflow_venue_latency_ms", "Offset-corrected 10 s mean latency per venue (ms).", ["venue"])
OFFSET = Gauge("arbflow_venue_clock_offset_ms", "Local minus venue clock (ms).", ["venue"])
STALE = Gauge("arbflow_venue_stale", "1 when the venue's corrected latency is above 200 ms.", ["venue"])
END_TO_END = Histogram("arbflow_end_to_end_seconds", "From receipt (ts_local) to the Redis write.",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
LIVE_WINDOW_MS = 3_600_000  # older event times are a replay: no end-to-end latency to speak of


def count_records(markets: Iterable[str]) -> None:
    """Count decoded records per market, one increment per label per batch."""
    for market, count in Tally(markets).items():
        RECORDS.labels(market=market).inc(count)


def observe_latency(reading: LatencyReading) -> None:
    LATENCY.labels(venue=reading.venue).set(reading.corrected_mean_ms)
    OFFSET.labels(venue=reading.venue).set(reading.offset_ms)
    STALE.labels(venue=reading.venue).set(1 if reading.stale else 0)


def observe_end_to_end(ts_local: int) -> None:
    """Record receipt → now for live data (ignored for replays of old data)."""
    age_ms = time.time() * 1000 - ts_local
    if 0 <= age_ms < LIVE_WINDOW_MS:
        END_TO_END.observe(age_ms / 1000)
