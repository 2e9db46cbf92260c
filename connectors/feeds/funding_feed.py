"""Funding of one venue's live feed: a websocket stream per perp where ccxt.pro offers one,
the REST poll as the fallback (docs/architecture.md §3.2; issue 4).

Sources, per perp:
- stream: `watch_funding_rate(symbol)` when `exchange.has["watchFundingRate"]` (in ccxt
  4.5: OKX `funding-rate`, KuCoin `funding-fee`; Binance, Bybit, Gate, Bitget and
  Hyperliquid have none; Paradex's is switched off in its spec). Supervised like every
  other watch loop (reconnect with backoff); its records do not count for staleness.
- REST poll every `funding_poll_s`: `fetch_funding_rates` (or `fetch_funding_rate` per
  symbol) for the perps without a stream, and for a streamed perp only when its stream
  is `MISSING` (nothing delivered for `funding_poll_s` since it started), `STALE` (last
  published update older than `funding_poll_s`) or `FAILED` (stopped on a non-retryable
  error: a `FUNDING_FALLBACK` warning, not `FEED_FAILED`, since funding still flows) —
  each such perp and poll counted in `arbflow_feed_funding_fallbacks_total{venue,reason}`
  and in `status.streams["funding"].fallbacks`. A stream whose update was refused to the
  dead-letter topic is not fresh: REST gets its chance.
- spot markets: the sentinel (rate 0, interval 0, next 0) every poll.

Both sources feed the same `_on_funding` → `normalise.funding` → md.funding, with one
`FundingIntervals` per venue, so `interval_ms` follows the same rules whichever source
delivered (venue field, else inferred, else the configured default).
Freshness uses the monotonic clock; records carry the injected clock.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Literal

from arbflow.connectors.feeds import normalise
from arbflow.connectors.feeds.exchange import with_retries
from arbflow.connectors.feeds.funding import FundingIntervals
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.normalise import FeedMarket
from arbflow.connectors.feeds.settings import FUNDING_FALLBACK, Clock, FeedSettings, VenueStatus
from arbflow.connectors.feeds.spec import LiveSpec
from arbflow.model import topics
from arbflow.model.errors import FeedUnavailable

log = logging.getLogger(__name__)

Fallback = Literal["MISSING", "STALE", "FAILED"]
WATCH_FLAGS: Final = ("watchFundingRate",)  # ccxt's capability flag behind a per-perp funding stream


@dataclass(slots=True)
class FundingFallback:
    """When the REST poll covers a perp that has a funding stream. Times are monotonic
    seconds given by the caller; nothing here reads a clock.

    Invariant: `due` is asked only for symbols that `streams` (were `watched`); a perp
    without a stream is always polled and that is not a fallback."""

    window_s: float
    _started: dict[str, float] = field(default_factory=dict)
    _fresh: dict[str, float] = field(default_factory=dict)
    _failed: set[str] = field(default_factory=set)

    def watched(self, symbol: str, now: float) -> None:
        """The symbol's stream starts now: it has `window_s` to deliver before REST takes over."""
        self._started.setdefault(symbol, now)

    def delivered(self, symbol: str, now: float) -> None:
        """The stream published a funding record of the symbol."""
        self._fresh[symbol] = now

    def failed(self, symbol: str) -> None:
        """The stream stopped for good (non-retryable error)."""
        self._failed.add(symbol)

    def streams(self, symbol: str) -> bool:
        return symbol in self._started

    def due(self, symbol: str, now: float) -> Fallback | None:
        """Why the poll must fetch a streamed symbol now, or None when its stream is fresh
        (updated within `window_s`, or started less than `window_s` ago)."""
        if symbol in self._failed:
            return "FAILED"
        last = self._fresh.get(symbol)
        if last is None:
            return "MISSING" if now - self._started[symbol] >= self.window_s else None
        return "STALE" if now - last >= self.window_s else None


class FundingLoops:
    """md.funding of a `VenueFeed` (mixed into it; see the module docstring)."""

    venue: str
    exchange: Any
    spec: LiveSpec
    markets: list[FeedMarket]
    settings: FeedSettings
    status: VenueStatus
    metrics: FeedMetrics
    clock: Clock
    _intervals: FundingIntervals
    _funding_fallback: FundingFallback

    # provided by VenueFeed
    _updated: Callable[[str, FeedMarket], None]
    _publish: Callable[[str, FeedMarket, Callable[[], Any], Any], Any]
    _alert: Callable[..., None]

    def _funding_watches(self) -> list[tuple[str, FeedMarket, Callable[[], Awaitable[Any]], Callable[[Any], None]]]:
        """(stream, market, fetch, handle) of every perp's funding stream, where ccxt has one."""
        if "funding" not in self.settings.streams or not any(self.exchange.has.get(f) for f in WATCH_FLAGS):
            return []
        return [("funding", m, partial(self.exchange.watch_funding_rate, m.ccxt_symbol),
                 partial(self._on_funding, m, streamed=True)) for m in self.markets if m.market == "perp"]

    def _on_funding(self, m: FeedMarket, fr: Any, *, streamed: bool = False) -> None:
        self._updated("funding", m)
        info = fr.get("info")
        fields = self.spec.funding_fields(info)

        def build() -> Any:
            next_time = fr.get("fundingTimestamp")
            interval_ms, _ = self._intervals.interval(m.symbol, next_time if type(next_time) is int else 0,
                                                      fields.get("interval_ms"))
            return normalise.funding(m, fr, fields, interval_ms, self.clock())
        if self._publish(topics.MD_FUNDING, m, build, info) is not None and streamed:
            self._funding_fallback.delivered(m.ccxt_symbol, time.monotonic())

    def _funding_watch_stopped(self, m: FeedMarket, error: BaseException) -> None:
        """A funding websocket refused for good: REST serves the perp from the next poll on."""
        why = f"{type(error).__name__}: {error}"
        self._funding_fallback.failed(m.ccxt_symbol)
        self.status.streams["funding"].watch_failed = why
        self._alert(FUNDING_FALLBACK, "warning", f"funding stream {m.symbol} stopped, polled over REST: {why}")
        log.warning("%s funding stream %s stopped, REST poll takes over: %s", self.venue, m.symbol, why)

    def _polled(self, perps: list[FeedMarket], now: float) -> list[FeedMarket]:
        """The perps this poll fetches; a streamed perp only when its stream is not fresh (counted)."""
        out = []
        for m in perps:
            if self._funding_fallback.streams(m.ccxt_symbol):
                reason = self._funding_fallback.due(m.ccxt_symbol, now)
                if reason is None:
                    continue
                self.status.streams["funding"].fallbacks += 1
                self.metrics.funding_fallbacks.labels(venue=self.venue, reason=reason).inc()
            out.append(m)
        return out

    async def _fetch_rates(self, perps: list[FeedMarket]) -> dict[str, Any]:
        symbols = [m.ccxt_symbol for m in perps]
        if self.exchange.has.get("fetchFundingRates"):
            rates: dict[str, Any] = await self.exchange.fetch_funding_rates(symbols)
            return rates
        found = await asyncio.gather(*(self.exchange.fetch_funding_rate(s) for s in symbols))
        return dict(zip(symbols, found, strict=True))

    async def _poll_funding(self, reason_of: Callable[[BaseException | None], str]) -> None:
        """Every `funding_poll_s`: spot sentinels, then REST for the perps `_polled` picks.
        A poll failing after `rest_attempts` is counted (`poll_failures{reason}`) and retried
        at the next one."""
        perps = [m for m in self.markets if m.market == "perp"]
        while True:
            for m in self.markets:
                if m.market == "spot":
                    self._updated("funding", m)
                    self._publish(topics.MD_FUNDING, m, partial(normalise.spot_funding, m, self.clock()), None)
            polled = self._polled(perps, time.monotonic())
            if polled:
                try:
                    rates = await with_retries(f"{self.venue} funding", partial(self._fetch_rates, polled),
                                               attempts=self.settings.rest_attempts,
                                               initial_s=self.settings.backoff_initial_s)
                except FeedUnavailable as error:
                    self.metrics.poll_failures.labels(venue=self.venue, reason=reason_of(error.__cause__)).inc()
                    log.warning("%s", error)
                else:
                    for m in polled:
                        if isinstance(rates.get(m.ccxt_symbol), dict):
                            self._on_funding(m, rates[m.ccxt_symbol])
            await asyncio.sleep(self.settings.funding_poll_s)
