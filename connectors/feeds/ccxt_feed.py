"""One venue's live feed: per stream × market an async `watch_*` loop → normalised records.

Streams: `ticker` (`watch_bids_asks` / `watch_ticker` / top of the book, per the venue
spec) → md.ticker; `book` (`watch_order_book`: ccxt does snapshot + diff + sequence
checks; arbflow publishes the top `depth` levels) → md.book; `trade` (`watch_trades`,
de-duplicated by trade id) → md.trade; `funding` (`watch_funding_rate` per perp where
`exchange.has` offers it, with the REST poll — `fetch_funding_rates`, or
`fetch_funding_rate` per symbol, every `funding_poll_s` — for the other perps and as the
fallback of a missing, stale or stopped stream; spot markets get the sentinel; see
`funding_feed`) → md.funding. Opt-in: `oi` (REST `fetch_open_interests`, or `fetch_open_interest`
per perp, every `oi_poll_s`) → md.oi; `liquidation` (`watch_liquidations` per perp, where
`exchange.has` offers it) → md.liquidation. Records that fail normalisation or validation go to
`dlq.<topic>` with their reason; nothing is dropped silently.

ccxt resolves one waiter per burst of messages, so tickers and books are *conflated*: each
loop publishes the latest state ccxt holds when it runs (a book always includes every
applied diff; trades are never conflated — ccxt buffers them).

Resilience:
- reconnect: a `ccxt.NetworkError` ends the stream's session; if it had delivered data
  the next session starts after `backoff_initial_s` + up to `backoff_jitter_s`, else after
  tenacity's exponential backoff with jitter (`backoff_initial_s` doubling up to
  `backoff_max_s`, + up to `backoff_jitter_s`), for ever; each retry counts
  `reconnects{reason}`. Other ccxt errors (`AuthenticationError`, `BadSymbol`, …) are
  not retried: the stream stops (`status.streams[…].failed` says why), a critical
  `FEED_FAILED` alert goes out, and the venue's other streams go on.
- resync: `ccxt.InvalidNonce`/`ChecksumError` (a sequence gap ccxt detected) → the book is
  re-watched (ccxt resubscribes and loads a new snapshot), counted as
  `resyncs{reason=SEQUENCE_GAP}`; a snapshot sync ccxt gave up on (`ExchangeError` "nonce is
  behind the cache after N tries", "orderbook is not initiated": ccxt then closes that
  websocket) is retried the same way, counted as `resyncs{reason=SNAPSHOT_SYNC}`. The pause
  before re-watching is `backoff_initial_s` after a book was delivered and doubles (to
  `backoff_max_s`, + up to `backoff_jitter_s`) with each resync in a row that delivered
  none; `status.streams[…].resyncs` counts them. A book stream's first book after a
  reconnect counts `resyncs{reason=RECONNECT}`.
- staleness: no streamed update from the venue for `stale_after_s` → a `STALE_FEED`
  warning on risk.alert, the `stale` gauge set, and (by default) the venue's websockets
  are failed with `StaleStream` so every stream reconnects; the first update afterwards
  sends `FEED_RECOVERED`. Ages use the monotonic clock; records use the injected clock.
"""

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from typing import Any

import ccxt
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from arbflow.connectors.feeds import normalise
from arbflow.connectors.feeds.exchange import with_retries
from arbflow.connectors.feeds.funding import FundingIntervals
from arbflow.connectors.feeds.funding_feed import FundingFallback, FundingLoops
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.normalise import FeedMarket
from arbflow.connectors.feeds.settings import (
    FEED_FAILED,
    FEED_RECOVERED,
    QUIET_STREAMS,
    STALE_FEED,
    Clock,
    Emit,
    FeedSettings,
    StaleStream,
    StreamStatus,
    VenueStatus,
)
from arbflow.connectors.feeds.spec import LiveSpec
from arbflow.connectors.payload import PayloadError
from arbflow.model import reasons, topics
from arbflow.model.errors import FeedUnavailable
from arbflow.model.portfolio import Alert, Severity
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe

log = logging.getLogger(__name__)


Loop = tuple[str, FeedMarket, Callable[[], Awaitable[Any]], Callable[[Any], None]]  # stream, market, fetch, handle


# ccxt's own messages when its REST-snapshot sync of a websocket book gives up
# (ccxt/async_support/base/exchange.py `load_order_book`, an `ExchangeError`): the venue
# is fine, the book is not — re-watching resubscribes and loads a fresh snapshot.
BOOK_SYNC_ERRORS = ("nonce is behind the cache", "orderbook is not initiated")


class _Resync(Exception):
    """Internal: the book must be re-watched; `reason` is the resyncs metric's label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def book_sync_error(error: BaseException) -> bool:
    """True for the ccxt errors that mean "this book lost its snapshot sync" (retryable):
    an `ExchangeError` carrying one of `BOOK_SYNC_ERRORS`."""
    return isinstance(error, ccxt.ExchangeError) and any(text in str(error) for text in BOOK_SYNC_ERRORS)


class _Dropped(Exception):
    """Internal: a session that delivered data lost its connection; reconnect after a pause."""


def _reason(error: BaseException | None) -> str:
    if isinstance(error, StaleStream):
        return "STALE"
    return "TIMEOUT" if isinstance(error, ccxt.RequestTimeout) else "NETWORK_ERROR"


class VenueFeed(FundingLoops):
    """The loops of one venue. `run()` runs until cancelled; `close()` closes ccxt."""

    def __init__(self, venue: str, exchange: Any, spec: LiveSpec, markets: list[FeedMarket], settings: FeedSettings,
                 *, universe: Universe, funding_interval_ms: int, clock: Clock, emit: Emit,
                 metrics: FeedMetrics) -> None:
        self.venue, self.exchange, self.spec, self.markets, self.settings = venue, exchange, spec, markets, settings
        self.universe, self.clock, self.emit, self.metrics = universe, clock, emit, metrics
        self.status = VenueStatus(venue, {s: StreamStatus() for s in settings.streams})
        self._intervals = FundingIntervals(funding_interval_ms)
        self._funding_fallback = FundingFallback(settings.funding_poll_s)
        self._trade_ids: dict[str, tuple[deque[str], set[str]]] = {}
        self._had_book: set[str] = set()
        self._resync_streak: dict[tuple[str, str], int] = {}  # (stream, symbol) → resyncs without data

    # -- publishing -----------------------------------------------------------------------

    def _updated(self, stream: str, m: FeedMarket) -> None:
        now = time.monotonic()
        state = self.status.streams[stream]
        state.messages += 1
        state.last_monotonic = now
        if stream not in QUIET_STREAMS:
            self.status.last_monotonic = now
        self.metrics.messages.labels(venue=self.venue, market=m.market).inc()

    def _publish(self, topic: str, m: FeedMarket, build: Callable[[], Any], raw: Any) -> Any:
        """Build a record (PayloadError → dead letter), validate it, emit it; the record or None."""
        source = f"{self.venue}:{topic}:{m.ccxt_symbol}"
        try:
            out = normalise.finish(topic, build(), self.universe, source=source, raw=raw)
        except PayloadError as error:
            out = normalise.rejected(error, source=source, raw=raw, ts_local=self.clock())
        if isinstance(out, Rejected):
            self.metrics.rejects.labels(venue=self.venue, market=m.market, reason=out.reason).inc()
            self.emit(topics.dlq_topic(topic), m.key, out)
            return None
        self.emit(topic, m.key, out)
        return out

    def _alert(self, code: str, severity: Severity, message: str, value: Decimal | None = None) -> None:
        self.emit(topics.RISK_ALERT, None, Alert(code=code, severity=severity, message=message, venue=self.venue,
                                                 value=value, ts=self.clock()))

    # -- stream handlers ----------------------------------------------------------------

    def _on_ticker(self, m: FeedMarket, t: Any) -> None:
        self._updated("ticker", m)
        info = t.get("info") if isinstance(t, dict) else None
        self._publish(topics.MD_TICKER, m, lambda: normalise.ticker(m, t, self.spec.ticker_fields(info),
                                                                     self.clock()), info)

    def _on_book(self, m: FeedMarket, ob: Any, *, as_book: bool, as_ticker: bool) -> None:
        if as_book:
            self._updated("book", m)
        if as_ticker:
            self._updated("ticker", m)
        depth = self.settings.depth
        raw = {"bids": list(ob.get("bids", []))[:depth], "asks": list(ob.get("asks", []))[:depth],
               "nonce": ob.get("nonce"), "timestamp": ob.get("timestamp")}
        ts_local = self.clock()
        if as_book:
            self._publish(topics.MD_BOOK, m, lambda: normalise.book(m, ob, depth, ts_local), raw)
        if as_ticker:
            def top() -> Any:
                derived = normalise.ticker_from_book(normalise.book(m, ob, 1, ts_local))
                if derived is None:
                    raise PayloadError(reasons.MISSING_FIELD, "book has an empty side", topics.MD_TICKER)
                return derived
            self._publish(topics.MD_TICKER, m, top, raw)

    def _on_trades(self, m: FeedMarket, trades: Any) -> None:
        self._updated("trade", m)
        order, seen = self._trade_ids.setdefault(m.ccxt_symbol, (deque(), set()))
        for tr in trades:
            trade_id = str(tr.get("id"))
            if trade_id in seen:
                continue  # a venue replaying recent trades after a (re)subscribe
            seen.add(trade_id)
            order.append(trade_id)
            if len(order) > 10_000:
                seen.discard(order.popleft())
            info = tr.get("info")
            build = partial(normalise.trade, m, tr, self.spec.trade_fields(info), self.clock())
            self._publish(topics.MD_TRADE, m, build, info)

    def _on_liquidations(self, m: FeedMarket, liquidations: Any) -> None:
        self._updated("liquidation", m)
        for liq in liquidations:
            info = liq.get("info")
            build = partial(normalise.liquidation, m, liq, self.spec.liquidation_fields(info), self.clock())
            self._publish(topics.MD_LIQUIDATION, m, build, info)

    # -- the watch loops ------------------------------------------------------------------

    def _loops(self) -> list[Loop]:
        ex, streams = self.exchange, self.settings.streams
        loops: list[Loop] = []
        for m in self.markets:
            symbol = m.ccxt_symbol
            source = self.spec.ticker_source.get(m.market, "ticker")
            book_ticker = "ticker" in streams and source == "book"
            if "book" in streams or book_ticker:
                loops.append(("book" if "book" in streams else "ticker", m, partial(ex.watch_order_book, symbol),
                              partial(self._on_book, m, as_book="book" in streams, as_ticker=book_ticker)))
            if "ticker" in streams and source == "bids_asks":
                async def bids_asks(symbol: str = symbol) -> Any:
                    found = await ex.watch_bids_asks([symbol])
                    return ex.bidsasks.get(symbol) or found[symbol]  # the latest state (conflated)
                loops.append(("ticker", m, bids_asks, partial(self._on_ticker, m)))
            elif "ticker" in streams and source == "ticker":
                async def one_ticker(symbol: str = symbol) -> Any:
                    found = await ex.watch_ticker(symbol)
                    return ex.tickers.get(symbol) or found
                loops.append(("ticker", m, one_ticker, partial(self._on_ticker, m)))
            if "trade" in streams:
                loops.append(("trade", m, partial(ex.watch_trades, symbol), partial(self._on_trades, m)))
            if "liquidation" in streams and m.market == "perp" and ex.has.get("watchLiquidations"):
                loops.append(("liquidation", m, partial(ex.watch_liquidations, symbol),
                              partial(self._on_liquidations, m)))
        return loops + self._funding_watches()

    async def _session(self, stream: str, m: FeedMarket, fetch: Callable[[], Awaitable[Any]],
                       handle: Callable[[Any], None]) -> None:
        delivered = False
        try:
            while True:
                data = await fetch()
                if not delivered and stream == "book" and m.ccxt_symbol in self._had_book:
                    self.metrics.resyncs.labels(venue=self.venue, market=m.market, reason="RECONNECT").inc()
                delivered = True
                self._resync_streak.pop((stream, m.ccxt_symbol), None)
                if stream == "book":
                    self._had_book.add(m.ccxt_symbol)
                handle(data)
        except ccxt.InvalidNonce as error:  # before NetworkError: InvalidNonce subclasses it
            raise _Resync("SEQUENCE_GAP", str(error)) from error
        except ccxt.NetworkError as error:
            if delivered:
                raise _Dropped(str(error)) from error
            raise
        except ccxt.ExchangeError as error:
            if stream in ("book", "ticker") and book_sync_error(error):
                raise _Resync("SNAPSHOT_SYNC", str(error)) from error
            raise

    def _resync_pause(self, stream: str, m: FeedMarket) -> float:
        """Seconds before re-watching a book: `backoff_initial_s` doubling per resync in a
        row without a delivered book, capped at `backoff_max_s`, plus jitter after the first."""
        s = self.settings
        key = (stream, m.ccxt_symbol)
        streak = self._resync_streak[key] = self._resync_streak.get(key, 0) + 1
        if streak == 1:
            return s.backoff_initial_s
        return min(s.backoff_initial_s * 2 ** (streak - 1), s.backoff_max_s) + random.uniform(0, s.backoff_jitter_s)

    def _reconnecting(self, stream: str, m: FeedMarket, error: BaseException | None) -> None:
        reason = _reason(error)
        self.status.streams[stream].reconnects += 1
        self.metrics.reconnects.labels(venue=self.venue, reason=reason).inc()
        log.warning("%s %s %s: reconnecting (%s: %s)", self.venue, stream, m.symbol, reason, error)

    def _before_sleep(self, stream: str, m: FeedMarket, state: RetryCallState) -> None:
        self._reconnecting(stream, m, state.outcome.exception() if state.outcome else None)

    async def _supervise(self, stream: str, m: FeedMarket, fetch: Callable[[], Awaitable[Any]],
                         handle: Callable[[Any], None]) -> None:
        s = self.settings
        try:
            while True:
                backoff = wait_exponential_jitter(multiplier=s.backoff_initial_s, max=s.backoff_max_s,
                                                  jitter=s.backoff_jitter_s)
                retrying = AsyncRetrying(retry=retry_if_exception_type(ccxt.NetworkError), wait=backoff,
                                         before_sleep=partial(self._before_sleep, stream, m), reraise=True)
                try:
                    await retrying(self._session, stream, m, fetch, handle)
                except _Resync as gap:
                    self.status.streams[stream].resyncs += 1
                    self.metrics.resyncs.labels(venue=self.venue, market=m.market, reason=gap.reason).inc()
                    pause = self._resync_pause(stream, m)
                    log.warning("%s %s %s: resync in %.2f s after %s: %s", self.venue, stream, m.symbol, pause,
                                gap.reason, gap)
                    # Yield before re-watching: ccxt may hold the rejection of a gap it
                    # found while nobody was waiting, and awaiting a finished future never
                    # yields — a venue failing every check would otherwise starve the loop.
                    await asyncio.sleep(pause)
                except _Dropped as dropped:
                    self._reconnecting(stream, m, dropped.__cause__)
                    # A short jittered pause: no herd of reconnects, and ccxt has finished
                    # with the old client (it may report that close twice, by URL).
                    await asyncio.sleep(s.backoff_initial_s + random.uniform(0, s.backoff_jitter_s))
        except ccxt.BaseError as error:
            if stream == "funding":  # the REST poll takes the perp over
                self._funding_watch_stopped(m, error)
                return
            self.status.streams[stream].failed = f"{type(error).__name__}: {error}"
            self._alert(FEED_FAILED, "critical", f"{stream} {m.symbol} stopped: {type(error).__name__}: {error}")
            log.error("%s %s %s stopped: %s", self.venue, stream, m.symbol, error)

    # -- open interest (REST polling) and staleness --------------------------------------------------

    async def _fetch_open_interest(self, perps: list[FeedMarket]) -> dict[str, Any]:
        symbols = [m.ccxt_symbol for m in perps]
        if self.exchange.has.get("fetchOpenInterests"):
            found: dict[str, Any] = await self.exchange.fetch_open_interests(symbols)
            return found
        rows = await asyncio.gather(*(self.exchange.fetch_open_interest(s) for s in symbols))
        return dict(zip(symbols, rows, strict=True))

    def _on_open_interest(self, m: FeedMarket, oi: Any) -> None:
        self._updated("oi", m)
        info = oi.get("info")
        build = partial(normalise.open_interest, m, oi, self.spec.oi_fields(info), self.clock())
        self._publish(topics.MD_OI, m, build, info)

    async def _poll_open_interest(self) -> None:
        """md.oi for every perp every `oi_poll_s`; a venue without ccxt's
        `fetchOpenInterest` is counted once (`UNSUPPORTED`) and not polled."""
        perps = [m for m in self.markets if m.market == "perp"]
        if not perps:
            return
        if not (self.exchange.has.get("fetchOpenInterests") or self.exchange.has.get("fetchOpenInterest")):
            self.metrics.oi_poll_failures.labels(venue=self.venue, reason="UNSUPPORTED").inc()
            log.warning("%s: ccxt has no fetchOpenInterest; no md.oi", self.venue)
            return
        while True:
            try:
                found = await with_retries(f"{self.venue} open interest", partial(self._fetch_open_interest, perps),
                                           attempts=self.settings.rest_attempts,
                                           initial_s=self.settings.backoff_initial_s)
            except FeedUnavailable as error:
                self.metrics.oi_poll_failures.labels(venue=self.venue, reason=_reason(error.__cause__)).inc()
                log.warning("%s", error)
            else:
                for m in perps:
                    if isinstance(found.get(m.ccxt_symbol), dict):
                        self._on_open_interest(m, found[m.ccxt_symbol])
            await asyncio.sleep(self.settings.oi_poll_s)

    def _fail_connections(self, age_s: float) -> None:
        for client in list((self.exchange.clients or {}).values()):
            client.on_error(StaleStream(f"{self.venue}: no message for {age_s:.1f} s"))

    async def _watch_staleness(self) -> None:
        s = self.settings
        started = time.monotonic()
        forced_at = 0.0
        while True:
            await asyncio.sleep(min(0.25, s.stale_after_s / 4))
            now = time.monotonic()
            age_s = now - (self.status.last_monotonic or started)
            self.metrics.last_message_age.labels(venue=self.venue).set(age_s)
            age = Decimal(int(age_s * 1000)) / 1000
            if age_s >= s.stale_after_s:
                if not self.status.stale:
                    self.status.stale = True
                    self.metrics.stale.labels(venue=self.venue).set(1)
                    self._alert(STALE_FEED, "warning", f"no update for {age} s", age)
                if s.reconnect_when_stale and now - forced_at >= s.stale_after_s:
                    forced_at = now
                    self._fail_connections(age_s)
            elif self.status.stale:
                self.status.stale = False
                self.metrics.stale.labels(venue=self.venue).set(0)
                self._alert(FEED_RECOVERED, "info", "updates flowing again")

    async def run(self) -> None:
        """All loops of the venue until cancelled (a failed stream does not stop the others)."""
        watched = self._loops()
        now = time.monotonic()
        for stream, m, *_ in watched:
            if stream == "funding":
                self._funding_fallback.watched(m.ccxt_symbol, now)
        loops = [self._supervise(*loop) for loop in watched]
        if any(stream not in QUIET_STREAMS for stream, *_ in watched):
            loops.append(self._watch_staleness())
        if "funding" in self.settings.streams:
            loops.append(self._poll_funding(_reason))
        if "oi" in self.settings.streams:
            loops.append(self._poll_open_interest())
        await asyncio.gather(*loops)

    async def close(self) -> None:
        await self.exchange.close()
