"""Synthetic markets that the tests and the output-digest tool replay: small, hand-made,
with every number chosen so that the expected decisions can be worked out by hand."""

from decimal import Decimal as D
from pathlib import Path

from arbflow.connectors.replay import ReplayWriter
from arbflow.model import topics
from arbflow.model.market import FundingRate, MarketTrade, Ticker

T = 1_723_161_600_000 + 3_600_000  # an hour after a funding settlement
H8 = 8 * 3_600_000


def two_venue_market(path: Path) -> Path:
    """Bybit's perp bids 149 USD above Binance's ask (≈ 20.8 bps after the fallback
    slippage of a ticker-only book, > 14 bps of fees) and pays 0.03 %/8h more funding; both
    touches are 10 BTC deep."""
    with ReplayWriter(path) as writer:
        for venue, rate in (("binance", "0.0001"), ("bybit", "0.0004")):
            writer.write(topics.MD_FUNDING, FundingRate(
                venue=venue, symbol="BTC/USDT:USDT", market="perp", rate=D(rate), interval_ms=H8,
                next_funding_time=T + 7 * 3_600_000, ts_local=T - 1_000))
        for step in range(40):  # 4 s of tickers every 100 ms
            ts = T + step * 100
            writer.write(topics.MD_TICKER, Ticker(venue="binance", symbol="BTC/USDT:USDT", market="perp",
                                                  bid=D(60_000), ask=D(60_001), bid_qty=D(10), ask_qty=D(10),
                                                  ts_exchange=ts - 5, ts_local=ts))
            writer.write(topics.MD_TICKER, Ticker(venue="bybit", symbol="BTC/USDT:USDT", market="perp",
                                                  bid=D(60_150), ask=D(60_151), bid_qty=D(10), ask_qty=D(10),
                                                  ts_exchange=ts - 5, ts_local=ts + 1))
            if step in (12, 13, 14):  # buyers lift bybit's ask: the resting short fills from these
                writer.write(topics.MD_TRADE, MarketTrade(venue="bybit", symbol="BTC/USDT:USDT", market="perp",
                                                          px=D(60_151), qty=D(3), side="buy", trade_id=f"b{step}",
                                                          ts_exchange=ts + 20, ts_local=ts + 25))
    return path
