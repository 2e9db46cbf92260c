"""Latency per venue: rolling mean, clock-offset removal, staleness (docs/architecture.md §3.4)."""

import gzip
import statistics
from pathlib import Path

import orjson
import pytest

from arbflow.operators.signals.latency import observe_message, observe_server_time

BUNDLED = Path(__file__).resolve().parents[2] / "fixtures" / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"


def test_the_mean_covers_the_last_ten_seconds_of_stream_time() -> None:
    state = None
    for ts_exchange, ts_local in ((1_000, 1_050), (2_000, 2_030), (11_000, 11_010)):
        state, reading = observe_message(state, "binance", ts_exchange, ts_local)
    # At 11,010 the window (1,010, 11,010] holds the raws 30 and 10; 50 (at 1,050) is still in.
    assert (reading.raw_mean_ms, reading.samples) == (pytest.approx((50 + 30 + 10) / 3), 3)
    state, reading = observe_message(state, "binance", 11_500, 11_510)
    # Now (1,510, 11,510]: 30, 10, 10.
    assert (reading.raw_mean_ms, reading.samples) == (pytest.approx(50 / 3), 3)


def test_a_clock_behind_the_venue_is_an_offset_not_negative_latency() -> None:
    # Local clock 1,270 ms behind: raws -1,270 + true delays 5, 20, 5, 305 ms.
    state = None
    for i, delay in enumerate((5, 20, 5)):
        state, reading = observe_message(state, "binance", 10_000 + i * 100, 10_000 + i * 100 - 1_270 + delay)
    assert reading.offset_ms == -1_265 and reading.offset_source == "min"
    assert reading.corrected_mean_ms == pytest.approx((0 + 15 + 0) / 3)
    assert not reading.stale
    for i in range(20):  # a burst of slow messages
        state, reading = observe_message(state, "binance", 10_400 + i, 10_400 + i - 1_270 + 600)
    assert reading.stale and reading.corrected_mean_ms > 200


def test_a_server_time_poll_sets_the_offset_when_there_is_one() -> None:
    state = observe_server_time(None, ts_request=10_000, ts_server=11_300, ts_response=10_040)
    # midpoint 10,020 - 11,300 = -1,280: local is 1,280 ms behind the venue.
    state, reading = observe_message(state, "binance", 11_400, 10_400)
    assert (reading.offset_ms, reading.offset_source) == (-1_280, "poll")
    assert reading.corrected_mean_ms == 280 and reading.stale  # raw -1,000 is really 280 ms late


def test_the_bundled_capture_shows_the_recorder_offset_and_small_corrected_latency() -> None:
    """PROVENANCE: local − exchange E ≈ −1,270 ms on every Binance file (median −1,268 …
    −1,274 ms, p5–p95 spread < 16 ms). Spot bookTicker has no exchange time; perps do."""
    state = None
    readings = []
    with gzip.open(BUNDLED, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            if record["ts_exchange"] is not None:
                state, reading = observe_message(state, "binance", record["ts_exchange"], record["ts_local"])
                readings.append(reading)
    raw = statistics.median(r.raw_mean_ms for r in readings)
    assert -1_275 <= raw <= -1_265
    assert all(r.offset_ms < -1_200 for r in readings)
    late = readings[len(readings) // 10:]  # once a minute of offset history exists
    assert statistics.median(r.corrected_mean_ms for r in late) < 50
    assert not any(r.stale for r in late)
