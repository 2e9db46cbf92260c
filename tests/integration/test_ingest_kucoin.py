"""KuCoin live path, offline: the real `ccxt.pro.kucoin` against the stub (cryptofeed's
KuCoin spot capture of 2021-04-25: `/market/ticker`, `/market/level2` + the REST level-2
snapshot, `/market/match`; see tests/stubs/kucoin.py) → normaliser → Tansu → read back and
compared by value with the frames the stub sent. The captured instruments are served
under their own names (BCHSV-USDT, DAPPT-BTC), so the tests run with a universe holding
them.

Not covered by a recording: KuCoin USDT perps (no KuCoin futures payload is recorded in
the data we have; the stub lists no contracts) and, with them, funding."""

import dataclasses
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.model import topics
from arbflow.model.config import Config
from arbflow.model.market import FundingRate, MarketTrade, OrderBook, Ticker
from tests.integration.ingest_support import (
    CLOCK_MS,
    Run,
    arbflow_cli,
    dead_letters,
    era_clock,
    ingest,
    subsequence,
    top,
)
from tests.stubs.kucoin import Kucoin
from tests.stubs.server import Drop, StubServer

pytestmark = pytest.mark.integration
BSV, DAPPT = "BCHSV/USDT", "DAPPT/BTC"  # arbflow names them by KuCoin's ids (ccxt says BSV/USDT)
CCXT = {BSV: "BSV/USDT", DAPPT: "DAPPT/BTC"}
LEVEL2, TICKER, MATCH = "/market/level2:BCHSV-USDT", "/market/ticker:BCHSV-USDT", "/market/match:DAPPT-BTC"


@pytest.fixture
def kucoin_config(config: Config) -> Config:
    universe = dataclasses.replace(config.universe, assets=("BTC", "BCHSV", "DAPPT"), quotes=("USDT", "BTC"))
    return dataclasses.replace(config, universe=universe)


def book_states(snapshot: Any, frames: list[Any], ts_local: int = CLOCK_MS, depth: int = 20) -> list[OrderBook]:
    """KuCoin's rule: load the snapshot at `sequence`, then apply each change whose own
    sequence is past the book's (size "0" deletes; price "0" only advances the sequence).
    Level-2 updates of this API generation carry no time: after the first applied update
    the book's exchange time is unknown (None)."""
    data = snapshot["data"]
    bids = {Decimal(p): Decimal(q) for p, q in data["bids"]}
    asks = {Decimal(p): Decimal(q) for p, q in data["asks"]}
    seq, ts = int(data["sequence"]), data["time"]

    def state() -> OrderBook:
        return OrderBook(venue="kucoin", symbol=BSV, market="spot", bids=top(bids, depth, True),
                         asks=top(asks, depth, False), depth=depth, seq=seq, ts_exchange=ts, ts_local=ts_local)

    states = [state()]
    for frame in frames:
        update = frame["data"]
        if update["sequenceEnd"] <= seq:
            continue
        for side, book in (("bids", bids), ("asks", asks)):
            for price, size, sequence in update["changes"][side]:
                if int(sequence) <= seq or price == "0":
                    continue
                if Decimal(size) == 0:
                    book.pop(Decimal(price), None)
                else:
                    book[Decimal(price)] = Decimal(size)
        seq, ts = update["sequenceEnd"], None
        states.append(state())
    return states


def expected_tickers(frames: list[Any]) -> list[Ticker]:
    # /market/ticker: bestBid × bestBidSize, bestAsk × bestAskSize, price = last trade, time ms.
    return [Ticker(venue="kucoin", symbol=BSV, market="spot", bid=Decimal(d["bestBid"]), ask=Decimal(d["bestAsk"]),
                   bid_qty=Decimal(d["bestBidSize"]), ask_qty=Decimal(d["bestAskSize"]), last=Decimal(d["price"]),
                   ts_exchange=d["time"], ts_local=CLOCK_MS) for d in (f["data"] for f in frames)]


def expected_trades(frames: list[Any]) -> list[MarketTrade]:
    # /market/match: price, size (base units), side = the taker's, tradeId, time in ns.
    return [MarketTrade(venue="kucoin", symbol=DAPPT, market="spot", px=Decimal(d["price"]), qty=Decimal(d["size"]),
                        side=d["side"], trade_id=d["tradeId"], ts_exchange=int(d["time"]) // 1_000_000,
                        ts_local=CLOCK_MS) for d in (f["data"] for f in frames)]


def test_kucoin_records_equal_the_recorded_frames_the_stub_sent(kucoin_config: Config) -> None:
    venue = Kucoin()
    snapshot = venue.books["BCHSV-USDT"]
    final = book_states(snapshot, venue.recorded(LEVEL2))[-1]
    last_ticker = expected_tickers(venue.recorded(TICKER))[-1]
    trades = expected_trades(venue.recorded(MATCH))

    def done(run: Run) -> bool:
        return (run.last(topics.MD_BOOK, BSV) == final and run.last(topics.MD_TICKER, BSV) == last_ticker
                and run.emitter.counts[topics.MD_TRADE] == len(trades) and run.emitter.counts[topics.MD_FUNDING] >= 2)

    with StubServer(venue) as stub:
        run = ingest(kucoin_config, stub, list(CCXT.values()), until=done)
        sent_tickers, sent_trades = stub.frames(TICKER), stub.frames(MATCH)

    books = [b for b in run.read(topics.MD_BOOK) if b.symbol == BSV]
    assert books and subsequence(books, book_states(snapshot, venue.recorded(LEVEL2))) and books[-1] == final
    # The snapshot by hand: sequence 1613277183892, time 1619378326628, best bid 242.649 × 5.
    assert book_states(snapshot, [])[0].bids[0] == (Decimal("242.649"), Decimal(5))
    tickers = [t for t in run.read(topics.MD_TICKER) if t.symbol == BSV]
    wanted = expected_tickers(sent_tickers)
    assert tickers and subsequence(tickers, wanted) and tickers[-1] == wanted[-1]
    # The first ticker by hand: bestBid 242.654 × 0.68148185, bestAsk 242.951 × 4.51280965, time 1619378326330.
    assert wanted[0] == Ticker(venue="kucoin", symbol=BSV, market="spot", bid=Decimal("242.654"),
                               ask=Decimal("242.951"), bid_qty=Decimal("0.68148185"), ask_qty=Decimal("4.51280965"),
                               last=Decimal("243.65"), ts_exchange=1619378326330, ts_local=CLOCK_MS)
    assert run.read(topics.MD_TRADE) == expected_trades(sent_trades) == trades
    assert trades[0].ts_exchange == 1619378327739  # time 1619378327739050725 ns, truncated to ms
    assert FundingRate(venue="kucoin", symbol=BSV, market="spot", rate=Decimal(0), interval_ms=0,
                       next_funding_time=0, ts_local=CLOCK_MS) in run.read(topics.MD_FUNDING)
    assert not dead_letters(run, topics.MD_BOOK) and not dead_letters(run, topics.MD_TICKER)
    assert not stub.unhandled


def test_kucoin_reconnects_after_a_mid_stream_drop_and_rebuilds_the_book_from_a_new_snapshot(
        kucoin_config: Config) -> None:
    venue = Kucoin()
    snapshot, frames = venue.books["BCHSV-USDT"], venue.recorded(LEVEL2)
    with StubServer(venue, drops=[Drop(LEVEL2, 60)]) as stub:
        final = book_states(snapshot, frames, ts_local=CLOCK_MS + 2000)[-1]
        run = ingest(kucoin_config, stub, [CCXT[BSV]], streams=("book",), clock=era_clock(stub),
                     until=lambda r: r.last(topics.MD_BOOK, BSV) == final)
        snapshots_served = stub.rest_hits["/api/v1/market/orderbook/level2_100"]
    books = run.read(topics.MD_BOOK)
    before = [b for b in books if b.ts_local == CLOCK_MS + 1000]
    after = [b for b in books if b.ts_local == CLOCK_MS + 2000]
    assert before[-1] == book_states(snapshot, frames[:60], ts_local=CLOCK_MS + 1000)[-1]
    assert after and subsequence(after, book_states(snapshot, frames, ts_local=CLOCK_MS + 2000))
    assert after[-1] == final and snapshots_served == 2
    assert run.metric("arbflow_feed_reconnects_total", venue="kucoin", reason="NETWORK_ERROR") == 1
    assert run.metric("arbflow_feed_resyncs_total", venue="kucoin", market="spot", reason="RECONNECT") == 1


def test_kucoin_unknown_symbol_exits_2_with_the_closest_matches(tmp_path: Path, config: Config) -> None:
    with StubServer(Kucoin(frames_per_channel=1)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"kucoin": stub.endpoints}))
        result = arbflow_cli(["ingest", "--venues", "kucoin", "--symbols", "BTCC", "--endpoints", str(endpoints)],
                             env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or ""})
    assert result.returncode == 2, result.stderr
    assert "kucoin has no market for BTCC; closest: BTC" in result.stderr
