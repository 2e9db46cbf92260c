"""Websocket funding with the REST poll as its fallback (connectors/feeds/funding_feed.py):
the freshness rule on its own, and a `VenueFeed` whose funding stream stops for good,
driven by a scripted stand-in for ccxt.pro's OKX (the I/O seam is the exchange object)."""

import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import ccxt
import pytest
from rich.console import Console

from arbflow.cli.ingest import _status_table
from arbflow.connectors.feeds.ccxt_feed import VenueFeed
from arbflow.connectors.feeds.funding_feed import Fallback, FundingFallback
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.normalise import FeedMarket
from arbflow.connectors.feeds.settings import FEED_FAILED, FUNDING_FALLBACK, FeedSettings, StreamStatus, VenueStatus
from arbflow.connectors.venues import okx
from arbflow.model import topics
from arbflow.model.config import parse_config
from arbflow.model.market import FundingRate
from arbflow.model.validation import Universe
from tests.stubs.recorded import STUB
from tests.unit.feed_support import drive

PERP = FeedMarket(venue="okx", ccxt_symbol="BTC/USDT:USDT", symbol="BTC/USDT:USDT", market="perp",
                  contract_size=Decimal("0.01"))
CLOCK_MS = 1_723_161_300_000


@pytest.mark.parametrize(("delivered_at", "failed", "now", "due"), [
    (None, False, 59.9, None),        # started at 0, still within its first poll period
    (None, False, 60.0, "MISSING"),   # a poll period without anything from the stream
    (5.0, False, 64.9, None),         # updated 59.9 s ago: fresh
    (5.0, False, 65.0, "STALE"),      # updated a poll period ago
    (5.0, True, 6.0, "FAILED"),       # stopped for good: REST at once, however fresh
])
def test_the_poll_is_due_for_a_streamed_perp_when_its_stream_is_missing_stale_or_failed(
        delivered_at: float | None, failed: bool, now: float, due: Fallback | None) -> None:
    fallback = FundingFallback(window_s=60.0)
    fallback.watched("BTC/USDT:USDT", 0.0)
    if delivered_at is not None:
        fallback.delivered("BTC/USDT:USDT", delivered_at)
    if failed:
        fallback.failed("BTC/USDT:USDT")
    assert fallback.streams("BTC/USDT:USDT") and not fallback.streams("ETH/USDT:USDT")
    assert fallback.due("BTC/USDT:USDT", now) == due


def recorded_row() -> dict[str, Any]:
    row: dict[str, Any] = json.loads((STUB / "okx/ws_funding_rate.json").read_text())["data"][0]
    return row


class StoppedFundingStream:
    """OKX as ccxt.pro shapes it: `watch_funding_rate` refuses the symbol; REST answers the
    recorded row (parsed the way ccxt's `okx.parse_funding_rate` does: floats + `info`)."""

    def __init__(self, error: Exception) -> None:
        self.has = {"watchFundingRate": True, "fetchFundingRate": True}
        self.clients: dict[str, Any] = {}
        self.error, self.watch_calls, self.rest_calls = error, 0, 0

    async def watch_funding_rate(self, symbol: str) -> Any:
        self.watch_calls += 1
        raise self.error

    async def fetch_funding_rate(self, symbol: str) -> Any:
        self.rest_calls += 1
        row = recorded_row()
        return {"info": row, "symbol": symbol, "fundingRate": float(row["fundingRate"]),
                "fundingTimestamp": int(row["fundingTime"]), "nextFundingRate": float(row["nextFundingRate"]),
                "nextFundingTimestamp": int(row["nextFundingTime"]), "timestamp": None}

    async def close(self) -> None:
        return None


def run_until(exchange: Any, done: Callable[[VenueFeed, list[Any]], bool]) -> tuple[VenueFeed, list[Any]]:
    out: list[Any] = []
    settings = FeedSettings(streams=("funding",), funding_poll_s=0.05, backoff_initial_s=0.001,
                            backoff_jitter_s=0.001)
    feed = VenueFeed("okx", exchange, okx.LIVE, [PERP], settings, universe=Universe.from_config(parse_config({}, {})),
                     funding_interval_ms=28_800_000, clock=lambda: CLOCK_MS, emit=lambda *item: out.append(item),
                     metrics=FeedMetrics())

    drive(feed, out, done)
    return feed, out


def test_a_stopped_funding_stream_is_a_warning_and_the_rest_poll_serves_the_perp() -> None:
    def published(feed: VenueFeed, out: list[Any]) -> bool:
        return any(topic == topics.MD_FUNDING for topic, _, _ in out)

    feed, out = run_until(StoppedFundingStream(ccxt.BadSymbol("okx does not have market symbol")), published)
    alerts = [record for topic, _, record in out if topic == topics.RISK_ALERT]
    assert [(a.code, a.severity, a.venue) for a in alerts] == [(FUNDING_FALLBACK, "warning", "okx")]
    assert FEED_FAILED not in {a.code for a in alerts}
    status = feed.status.streams["funding"]
    assert status.failed is None and status.watch_failed == "BadSymbol: okx does not have market symbol"
    assert feed.exchange.watch_calls == 1 and status.fallbacks >= 1
    assert feed.metrics.value("arbflow_feed_funding_fallbacks_total", venue="okx", reason="FAILED") >= 1
    # The recorded row by hand: 0.0001 settling at fundingTime, forecast 0.0002, 8 h apart.
    funding = [record for topic, _, record in out if topic == topics.MD_FUNDING]
    assert funding[0] == FundingRate(venue="okx", symbol="BTC/USDT:USDT", market="perp", rate=Decimal("0.0001"),
                                     predicted_rate=Decimal("0.0002"), interval_ms=28_800_000,
                                     next_funding_time=1744590349506, ts_local=CLOCK_MS)


def test_a_venue_without_a_funding_stream_is_polled_from_the_start_and_counts_no_fallback() -> None:
    exchange = StoppedFundingStream(ccxt.BadSymbol("unused"))
    exchange.has = {"fetchFundingRate": True}  # Binance, Bybit, Gate, …: no watchFundingRate in ccxt
    feed, out = run_until(exchange, lambda f, o: bool(o))
    assert exchange.watch_calls == 0 and exchange.rest_calls >= 1
    assert feed.status.streams["funding"].fallbacks == 0
    assert [topic for topic, _, _ in out] == [topics.MD_FUNDING]


def test_the_status_table_says_how_often_rest_served_a_streamed_perp_and_why_its_stream_stopped() -> None:
    status = VenueStatus("okx", {"funding": StreamStatus(messages=3, fallbacks=2, watch_failed="BadSymbol: gone")})
    console = Console(width=200, record=True, color_system=None)
    console.print(_status_table([SimpleNamespace(venue="okx", status=status)], SimpleNamespace(counts=Counter())))
    text = console.export_text()
    assert "flowing (2 REST fallbacks) (stream stopped, REST only: BadSymbol: gone)" in text
