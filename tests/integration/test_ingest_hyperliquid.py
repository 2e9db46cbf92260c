"""Hyperliquid live path, offline: the real `ccxt.pro.hyperliquid` against the stub (the
hftbacktest BTC capture of 2025-01-26: l2Book snapshots and trades; NautilusTrader's
meta and asset contexts for markets and funding) → normaliser → Tansu → read back and
compared by value with the frames the stub sent. Also the staleness path: a venue that
goes silent is flagged on risk.alert and reconnected."""

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.connectors.feeds.settings import FEED_RECOVERED, STALE_FEED
from arbflow.model import reasons, topics
from arbflow.model.config import Config
from arbflow.model.market import MarketTrade, OpenInterest, OrderBook, Ticker
from tests.integration.ingest_support import (
    CLOCK_MS,
    Run,
    arbflow_cli,
    dead_letters,
    era_clock,
    ingest,
    subsequence,
)
from tests.stubs.hyperliquid import Hyperliquid
from tests.stubs.server import Drop, Malform, StubServer

pytestmark = pytest.mark.integration
PERP = "BTC/USDC:USDC"


def book_states(frames: list[Any], ts_local: int = CLOCK_MS, depth: int = 20) -> list[OrderBook]:
    """Every l2Book message is a full snapshot: levels [[bids best first], [asks best first]]."""
    return [OrderBook(venue="hyperliquid", symbol=PERP, market="perp", depth=depth,
                      bids=tuple((Decimal(lv["px"]), Decimal(lv["sz"])) for lv in f["data"]["levels"][0][:depth]),
                      asks=tuple((Decimal(lv["px"]), Decimal(lv["sz"])) for lv in f["data"]["levels"][1][:depth]),
                      ts_exchange=f["data"]["time"], ts_local=ts_local) for f in frames]


def tickers_of(books: list[OrderBook]) -> list[Ticker]:
    return [Ticker(venue="hyperliquid", symbol=PERP, market="perp", bid=b.bids[0][0], ask=b.asks[0][0],
                   bid_qty=b.bids[0][1], ask_qty=b.asks[0][1], ts_exchange=b.ts_exchange, ts_local=b.ts_local)
            for b in books]


def expected_trades(frames: list[Any]) -> list[MarketTrade]:
    # side is the taker's: B buy, A sell; tid the trade id; time in ms.
    return [MarketTrade(venue="hyperliquid", symbol=PERP, market="perp", px=Decimal(t["px"]), qty=Decimal(t["sz"]),
                        side="buy" if t["side"] == "B" else "sell", trade_id=str(t["tid"]), ts_exchange=t["time"],
                        ts_local=CLOCK_MS) for f in frames for t in f["data"]]


def test_hyperliquid_records_equal_the_recorded_frames_the_stub_sent(config: Config) -> None:
    venue = Hyperliquid(frames_per_channel=40)
    states = book_states(venue.recorded("l2Book", "BTC"))
    trades = expected_trades(venue.recorded("trades", "BTC"))

    def done(run: Run) -> bool:
        return (run.last(topics.MD_BOOK, PERP) == states[-1] and run.emitter.counts[topics.MD_TRADE] == len(trades)
                and run.emitter.counts[topics.MD_FUNDING] >= 1)

    with StubServer(venue) as stub:
        run = ingest(config, stub, ["BTC"], until=done)
        sent_trades = stub.frames("trades:BTC")
    books = run.read(topics.MD_BOOK)
    assert subsequence(books, states) and books[-1] == states[-1]
    tickers = run.read(topics.MD_TICKER)
    assert subsequence(tickers, tickers_of(states)) and tickers[-1] == tickers_of(states)[-1]
    # The first l2Book of the capture by hand: best bid 105055.0 × 3.03622 (5 orders).
    assert states[0].bids[0] == (Decimal("105055.0"), Decimal("3.03622"))
    assert run.read(topics.MD_TRADE) == expected_trades(sent_trades) == trades
    [funding, *_] = run.read(topics.MD_FUNDING)
    # metaAndAssetCtxs: BTC is universe[0], its context funding "-0.0000015186" per hour; no
    # interval field → the configured 1 h; ccxt puts the next settlement at the next full hour.
    assert (funding.symbol, funding.rate, funding.predicted_rate, funding.interval_ms) == (
        PERP, Decimal("-0.0000015186"), None, 3_600_000)
    assert funding.next_funding_time % 3_600_000 == 0 and funding.ts_exchange is None
    assert not stub.unhandled


def test_hyperliquid_reconnects_after_a_mid_stream_drop_and_publishes_the_new_snapshots(config: Config) -> None:
    venue = Hyperliquid(frames_per_channel=40)
    frames = venue.recorded("l2Book", "BTC")
    trades = expected_trades(venue.recorded("trades", "BTC"))
    final = book_states(frames)[-1]

    def stamped(book: OrderBook | None) -> OrderBook | None:
        return None if book is None else dataclasses.replace(book, ts_local=CLOCK_MS)

    with StubServer(venue, drops=[Drop("l2Book:BTC", 15)]) as stub:
        run = ingest(config, stub, [PERP], streams=("book", "trade"), clock=era_clock(stub),
                     until=lambda r: stamped(r.last(topics.MD_BOOK, PERP)) == final
                     and r.emitter.counts[topics.MD_TRADE] == len(trades))
    books = run.read(topics.MD_BOOK)
    before = [b for b in books if b.ts_local == CLOCK_MS + 1000]
    assert before[-1] == book_states(frames[:15], ts_local=CLOCK_MS + 1000)[-1]
    # Book and trades share one socket and reconnect together; ccxt may open one connection
    # per stream on the way (it forgets the first new client when the old one reports its
    # close a second time), so "after" is any later connection, and two replays can
    # interleave: every book is one of the recorded snapshots, the last is the last one.
    after = [stamped(b) for b in books if b.ts_local > CLOCK_MS + 1000]
    snapshots = book_states(frames)
    assert after and all(b in snapshots for b in after) and after[-1] == final
    # Hyperliquid replays recent trades on every subscription: each is published once.
    assert [t.trade_id for t in run.read(topics.MD_TRADE)] == [t.trade_id for t in trades]
    assert run.metric("arbflow_feed_reconnects_total", venue="hyperliquid", reason="NETWORK_ERROR") == 2
    assert run.metric("arbflow_feed_resyncs_total", venue="hyperliquid", market="perp", reason="RECONNECT") == 1


def test_hyperliquid_trade_with_a_negative_size_goes_to_the_dead_letter_topic(config: Config) -> None:
    def negative(frame: Any) -> Any:
        first, *rest = frame["data"]
        return {**frame, "data": [{**first, "sz": "-" + first["sz"]}, *rest]}

    venue = Hyperliquid()
    trades = expected_trades(venue.recorded("trades", "BTC"))
    with StubServer(venue, malforms=[Malform("trades:BTC", 7, negative)]) as stub:
        run = ingest(config, stub, [PERP], streams=("trade",),
                     until=lambda r: r.emitter.counts[topics.MD_TRADE] == len(trades) - 1
                     and r.emitter.counts[topics.dlq_topic(topics.MD_TRADE)] == 1)
        bad = stub.frames("trades:BTC")[7]["data"][0]
    [rejected] = dead_letters(run, topics.MD_TRADE)
    assert (rejected.reason, rejected.detail) == (reasons.NEGATIVE_SIZE, f"qty = {bad['sz']} is negative")
    assert json.loads(rejected.raw) == bad
    assert run.read(topics.MD_TRADE) == [t for t in trades if t.trade_id != str(bad["tid"])]  # the others went on


def test_hyperliquid_silent_feed_is_flagged_stale_and_reconnected(config: Config) -> None:
    venue = Hyperliquid(frames_per_channel=5)

    def recovered(run: Run) -> bool:
        alert = run.last(topics.RISK_ALERT, None)
        return alert is not None and alert.code == FEED_RECOVERED

    with StubServer(venue) as stub:
        run = ingest(config, stub, [PERP], streams=("book",), stale_after_s=0.5, until=recovered)
        connections = stub.connections
    stale, back = run.read(topics.RISK_ALERT)[:2]
    assert (stale.code, stale.severity, stale.venue) == (STALE_FEED, "warning", "hyperliquid")
    assert stale.value is not None and stale.value >= Decimal("0.5") and stale.ts == CLOCK_MS
    assert (back.code, back.severity, back.venue) == (FEED_RECOVERED, "info", "hyperliquid")
    assert connections >= 2
    assert run.metric("arbflow_feed_reconnects_total", venue="hyperliquid", reason="STALE") >= 1
    assert run.metric("arbflow_feed_stale", venue="hyperliquid") == 0


def test_hyperliquid_open_interest_polled_from_meta_and_asset_ctxs(config: Config) -> None:
    # ws_all_dexs_asset_ctxs.default_dex_first3.json, BTC (index 0 of the universe):
    # openInterest "27353.17682" coins; Hyperliquid states no time and no quote value.
    wanted = OpenInterest(venue="hyperliquid", symbol="BTC/USDC:USDC", market="perp",
                          open_interest=Decimal("27353.17682"), ts_local=CLOCK_MS)
    with StubServer(Hyperliquid()) as stub:
        run = ingest(config, stub, ["BTC"], streams=("oi",), oi_poll_s=0.2,
                     until=lambda r: r.emitter.counts[topics.MD_OI] >= 2)
    records = run.read(topics.MD_OI)
    assert len(records) >= 2 and set(records) == {wanted}  # polled again, same recorded answer
    assert run.metric("arbflow_feed_oi_poll_failures_total", venue="hyperliquid", reason="NETWORK_ERROR") == 0
    assert not dead_letters(run, topics.MD_OI) and run.feed.status.stale is False


def test_hyperliquid_unknown_symbol_exits_2_with_the_closest_matches(tmp_path: Path, config: Config) -> None:
    with StubServer(Hyperliquid(frames_per_channel=1)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"hyperliquid": stub.endpoints}))
        result = arbflow_cli(["ingest", "--venues", "hyperliquid", "--symbols", "ETHH", "--endpoints",
                              str(endpoints)], env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or ""})
    assert result.returncode == 2, result.stderr
    assert "hyperliquid has no market for ETHH; closest: ETH" in result.stderr
