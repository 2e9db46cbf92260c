"""The watch-loop supervision of `VenueFeed`, driven by a scripted stand-in for a ccxt.pro
exchange (the I/O seam is the exchange object; nothing is patched): which ccxt errors
reconnect with backoff, which resync a book, which stop a stream — and what is counted."""

import asyncio
from collections.abc import Callable
from typing import Any

import ccxt
import pytest

from arbflow.connectors.feeds.ccxt_feed import VenueFeed
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.normalise import FeedMarket
from arbflow.connectors.feeds.settings import FEED_FAILED, FEED_RECOVERED, STALE_FEED, FeedSettings
from arbflow.connectors.venues import binance
from arbflow.model import topics
from arbflow.model.config import parse_config
from arbflow.model.validation import Universe
from tests.unit.feed_support import drive

PERP = FeedMarket(venue="binance", ccxt_symbol="BTC/USDT:USDT", symbol="BTC/USDT:USDT", market="perp")


def book(nonce: int) -> dict[str, Any]:
    return {"bids": [[61800.2, 2.5]], "asks": [[61800.3, 1.0]], "nonce": nonce, "timestamp": 1723161256313}


class ScriptedExchange:
    """`watch_order_book` returns or raises the scripted items in order, then waits for ever."""

    def __init__(self, script: list[Any]) -> None:
        self.has: dict[str, bool] = {}
        self.clients: dict[str, Any] = {}
        self.script = list(script)
        self.calls = 0

    async def watch_order_book(self, symbol: str) -> Any:
        self.calls += 1
        if not self.script:
            await asyncio.Event().wait()
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    async def close(self) -> None:
        return None


def run_until(script: list[Any], done: Callable[[VenueFeed, list[Any]], bool],
              **knobs: Any) -> tuple[VenueFeed, list[Any]]:
    out: list[Any] = []
    settings = FeedSettings(**{"streams": ("book",), "backoff_initial_s": 0.001, "backoff_jitter_s": 0.001,
                               "stale_after_s": 60, **knobs})
    feed = VenueFeed("binance", ScriptedExchange(script), binance.LIVE, [PERP], settings,
                     universe=Universe.from_config(parse_config({}, {})), funding_interval_ms=28_800_000,
                     clock=lambda: 1_723_161_300_000, emit=lambda *item: out.append(item), metrics=FeedMetrics())

    drive(feed, out, done)
    return feed, out


def books(out: list[Any]) -> list[int]:
    return [record.seq for topic, _, record in out if topic == topics.MD_BOOK]


def test_network_errors_are_retried_and_a_drop_after_data_counts_a_reconnect_and_a_resync() -> None:
    script = [ccxt.NetworkError("refused"), ccxt.RequestTimeout("slow"), book(1), ccxt.NetworkError("dropped"),
              book(2)]
    feed, _ = run_until(script, lambda f, o: books(o) == [1, 2])
    value = feed.metrics.value
    assert value("arbflow_feed_reconnects_total", venue="binance", reason="NETWORK_ERROR") == 2
    assert value("arbflow_feed_reconnects_total", venue="binance", reason="TIMEOUT") == 1
    assert value("arbflow_feed_resyncs_total", venue="binance", market="perp", reason="RECONNECT") == 1
    assert feed.status.streams["book"].reconnects == 3 and feed.status.streams["book"].failed is None


def test_a_sequence_gap_reported_by_ccxt_resyncs_without_a_reconnect() -> None:
    feed, _ = run_until([book(1), ccxt.ChecksumError("gap"), book(5)], lambda f, o: books(o) == [1, 5])
    value = feed.metrics.value
    assert value("arbflow_feed_resyncs_total", venue="binance", market="perp", reason="SEQUENCE_GAP") == 1
    assert value("arbflow_feed_reconnects_total", venue="binance", reason="NETWORK_ERROR") == 0


def test_a_snapshot_sync_ccxt_gave_up_on_is_retried_with_backoff_and_the_stream_recovers() -> None:
    behind = ccxt.ExchangeError("gate nonce is behind the cache after 3 tries.")
    uninitiated = ccxt.ExchangeError("gate loadOrderBook() orderbook is not initiated")
    # Pauses 0.02, 0.04 + jitter, 0.08 + jitter: the venue goes stale (0.1 s) on the way.
    feed, out = run_until([behind, uninitiated, behind, book(7)], lambda f, o: books(o) == [7]
                          and any(r.code == FEED_RECOVERED for t, _, r in o if t == topics.RISK_ALERT),
                          backoff_initial_s=0.02, stale_after_s=0.1, reconnect_when_stale=False)
    value = feed.metrics.value
    assert value("arbflow_feed_resyncs_total", venue="binance", market="perp", reason="SNAPSHOT_SYNC") == 3
    assert value("arbflow_feed_reconnects_total", venue="binance", reason="NETWORK_ERROR") == 0
    status = feed.status.streams["book"]
    assert (status.resyncs, status.failed, feed.exchange.calls) == (3, None, 5)  # the 5th waits for more
    alerts = [r.code for t, _, r in out if t == topics.RISK_ALERT]
    assert alerts == [STALE_FEED, FEED_RECOVERED]


def test_resync_pauses_double_while_no_book_arrives_and_reset_after_one() -> None:
    feed, _ = run_until([], lambda f, o: True, backoff_initial_s=0.5, backoff_max_s=3, backoff_jitter_s=0)
    pauses = [feed._resync_pause("book", PERP) for _ in range(5)]
    assert pauses == [0.5, 1.0, 2.0, 3.0, 3.0]
    feed._resync_streak.clear()  # what a delivered book does
    assert feed._resync_pause("book", PERP) == 0.5


def test_other_exchange_errors_of_a_book_still_stop_it() -> None:
    feed, _ = run_until([ccxt.ExchangeError("gate watchOrderBook limit argument must be None, 25 or 100")],
                        lambda f, o: f.status.streams["book"].failed is not None)
    assert feed.status.streams["book"].resyncs == 0


@pytest.mark.parametrize("error", [ccxt.BadSymbol("no such market"), ccxt.AuthenticationError("bad key")])
def test_a_non_retryable_error_stops_the_stream_with_a_critical_alert(error: Exception) -> None:
    feed, out = run_until([error], lambda f, o: f.status.streams["book"].failed is not None)
    [(topic, key, alert)] = out
    assert (topic, key, alert.code, alert.severity, alert.venue) == (topics.RISK_ALERT, None, FEED_FAILED,
                                                                     "critical", "binance")
    assert type(error).__name__ in alert.message and feed.exchange.calls == 1
