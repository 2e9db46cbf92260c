"""Bybit v5 live path, offline: the real `ccxt.pro.bybit` against the stub (NautilusTrader's
v5 ticker/trade/instrument payloads and the genuine Bybit ob500 archive, served as
BTCUSDT — see tests/stubs/bybit.py) → normaliser → Tansu → read back and compared by value
with the frames the stub sent."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.model import reasons, topics
from arbflow.model.config import Config
from arbflow.model.market import FundingRate, MarketTrade, OpenInterest, OrderBook, Ticker
from tests.integration.ingest_support import (
    CLOCK_MS,
    Run,
    apply_levels,
    arbflow_cli,
    dead_letters,
    era_clock,
    ingest,
    subsequence,
    top,
)
from tests.stubs.bybit import Bybit
from tests.stubs.recorded import STUB
from tests.stubs.server import Drop, Malform, StubServer

pytestmark = pytest.mark.integration
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
BOOK = "orderbook.50.BTCUSDT"


def book_states(frames: list[Any], symbol: str, ts_local: int = CLOCK_MS, depth: int = 20) -> list[OrderBook]:
    """Bybit v5: a `snapshot` replaces the book, a `delta` sets levels (size "0" deletes);
    the exchange time is the message's `ts`; ccxt keeps no sequence for Bybit books."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    states = []
    for frame in frames:
        if frame["type"] == "snapshot":
            bids, asks = {}, {}
        apply_levels(bids, frame["data"]["b"])
        apply_levels(asks, frame["data"]["a"])
        states.append(OrderBook(venue="bybit", symbol=symbol, market="spot" if symbol == SPOT else "perp",
                                bids=top(bids, depth, True), asks=top(asks, depth, False), depth=depth,
                                ts_exchange=frame["ts"], ts_local=ts_local))
    return states


def test_bybit_records_equal_the_recorded_frames_the_stub_sent(config: Config) -> None:
    venue = Bybit(frames_per_channel=40)
    final = {s: book_states(venue.recorded(BOOK, "spot"), s)[-1] for s in (SPOT, PERP)}
    spot_top = final[SPOT]
    spot_ticker = Ticker(venue="bybit", symbol=SPOT, market="spot", bid=spot_top.bids[0][0], ask=spot_top.asks[0][0],
                         bid_qty=spot_top.bids[0][1], ask_qty=spot_top.asks[0][1], ts_exchange=spot_top.ts_exchange,
                         ts_local=CLOCK_MS)
    # ws_ticker_linear.json by hand: bid1Price 17215.50 × 84.489, ask1Price 17216.00 × 83.020, lastPrice
    # 17216.00, markPrice 17217.33, indexPrice 17227.36, message ts 1673272861686.
    perp_ticker = Ticker(venue="bybit", symbol=PERP, market="perp", bid=Decimal("17215.50"), ask=Decimal("17216.00"),
                         bid_qty=Decimal("84.489"), ask_qty=Decimal("83.020"), last=Decimal("17216.00"),
                         mark=Decimal("17217.33"), index=Decimal("17227.36"), ts_exchange=1673272861686,
                         ts_local=CLOCK_MS)

    def done(run: Run) -> bool:
        return (all(run.last(topics.MD_BOOK, s) == final[s] for s in final)
                and run.last(topics.MD_TICKER, SPOT) == spot_ticker and run.last(topics.MD_TICKER, PERP) == perp_ticker
                and run.emitter.counts[topics.MD_TRADE] == 1 and run.emitter.counts[topics.MD_FUNDING] >= 2)

    with StubServer(venue) as stub:
        run = ingest(config, stub, ["BTC"], until=done)
    books = run.read(topics.MD_BOOK)
    for symbol in (SPOT, PERP):
        mine = [b for b in books if b.symbol == symbol]
        assert mine[-1] == final[symbol] and subsequence(mine, book_states(venue.recorded(BOOK, "spot"), symbol))
    # The state after the archive's first 40 lines, worked out separately: best bid 1.9537 × 4740,
    # best ask 1.9538 × 9220, line 40's ts 1733011204490.
    assert (final[PERP].bids[0], final[PERP].asks[0]) == ((Decimal("1.9537"), Decimal("4740")),
                                                          (Decimal("1.9538"), Decimal("9220")))
    assert final[PERP].ts_exchange == 1733011204490
    tickers = run.read(topics.MD_TICKER)
    assert [t for t in tickers if t.symbol == PERP] == [perp_ticker]
    assert [t for t in tickers if t.symbol == SPOT][-1] == spot_ticker  # the top of the spot book
    # ws_public_trade.json: S Buy, v 0.010, p 27451.00, i 9dc75fca-…, T 1709891679000.
    assert run.read(topics.MD_TRADE) == [MarketTrade(
        venue="bybit", symbol=PERP, market="perp", px=Decimal("27451.00"), qty=Decimal("0.010"), side="buy",
        trade_id="9dc75fca-4bdd-4773-9f78-6f5d7ab2a110", ts_exchange=1709891679000, ts_local=CLOCK_MS)]
    # REST tickers row: fundingRate -0.000212, nextFundingTime 1673280000000, fundingIntervalHour "8"
    # (the venue's own interval), response time 1673272861686; Bybit gives no predicted rate.
    assert FundingRate(venue="bybit", symbol=PERP, market="perp", rate=Decimal("-0.000212"), interval_ms=28_800_000,
                       next_funding_time=1673280000000, ts_exchange=1673272861686, ts_local=CLOCK_MS) \
        in run.read(topics.MD_FUNDING)
    assert not dead_letters(run, topics.MD_BOOK) and not stub.unhandled


def test_bybit_reconnects_after_a_mid_stream_drop_and_rebuilds_the_book_from_the_new_snapshot(config: Config) -> None:
    venue = Bybit(frames_per_channel=40)
    frames = venue.recorded(BOOK)
    with StubServer(venue, drops=[Drop(f"linear:{BOOK}", 12)]) as stub:
        final = book_states(frames, PERP, ts_local=CLOCK_MS + 2000)[-1]
        run = ingest(config, stub, [PERP], streams=("book",), clock=era_clock(stub),
                     until=lambda r: r.last(topics.MD_BOOK, PERP) == final)
    books = run.read(topics.MD_BOOK)
    before = [b for b in books if b.ts_local == CLOCK_MS + 1000]
    after = [b for b in books if b.ts_local == CLOCK_MS + 2000]
    assert before[-1] == book_states(frames[:12], PERP, ts_local=CLOCK_MS + 1000)[-1]
    assert after and subsequence(after, book_states(frames, PERP, ts_local=CLOCK_MS + 2000)) and after[-1] == final
    assert run.metric("arbflow_feed_reconnects_total", venue="bybit", reason="NETWORK_ERROR") == 1
    assert run.metric("arbflow_feed_resyncs_total", venue="bybit", market="perp", reason="RECONNECT") == 1


def test_bybit_crossed_ticker_goes_to_the_dead_letter_topic(config: Config) -> None:
    def crossed(frame: Any) -> Any:
        return {**frame, "data": {**frame["data"], "bid1Price": "17300.00"}}  # above ask1Price 17216.00

    with StubServer(Bybit(), malforms=[Malform("linear:tickers.BTCUSDT", 0, crossed)]) as stub:
        run = ingest(config, stub, [PERP], streams=("ticker",),
                     until=lambda r: r.emitter.counts[topics.dlq_topic(topics.MD_TICKER)] == 1)
        sent = stub.frames("linear:tickers.BTCUSDT")
    [rejected] = dead_letters(run, topics.MD_TICKER)
    assert (rejected.reason, rejected.detail) == (reasons.CROSSED_BOOK, "bid 17300 >= ask 17216")
    assert json.loads(rejected.raw)["bid1Price"] == "17300.00" == sent[0]["data"]["bid1Price"]
    assert not run.read(topics.MD_TICKER)
    assert run.metric("arbflow_feed_rejects_total", venue="bybit", market="perp", reason=reasons.CROSSED_BOOK) == 1


def test_bybit_open_interest_polled_equals_the_recorded_answer(config: Config) -> None:
    # ccxt's recorded fetchOpenInterest answer (fixtures/stub/bybit/v5_market_open_interest.json):
    # BTCUSDT linear, list[0] openInterest "62129.45500000" (base coin: BTC), timestamp "1739725200000".
    recorded = json.loads((STUB / "bybit/v5_market_open_interest.json").read_bytes())
    [row] = recorded["result"]["list"]
    wanted = OpenInterest(venue="bybit", symbol=PERP, market="perp", open_interest=Decimal(row["openInterest"]),
                          ts_exchange=int(row["timestamp"]), ts_local=CLOCK_MS)
    with StubServer(Bybit()) as stub:
        run = ingest(config, stub, ["BTC"], streams=("oi",), oi_poll_s=0.2,
                     until=lambda r: r.emitter.counts[topics.MD_OI] >= 2)
        hits = dict(stub.rest_hits)
    records = run.read(topics.MD_OI)
    assert len(records) >= 2 and set(records) == {wanted}  # polled again, the same recorded answer
    assert wanted.open_interest == Decimal("62129.455") and wanted.ts_exchange == 1739725200000
    assert hits["/v5/market/open-interest"] >= 2 and not stub.unhandled
    assert not dead_letters(run, topics.MD_OI)


def test_bybit_unknown_symbol_exits_2_with_the_closest_matches(tmp_path: Path, config: Config) -> None:
    with StubServer(Bybit(frames_per_channel=1)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"bybit": stub.endpoints}))
        result = arbflow_cli(["ingest", "--venues", "bybit", "--symbols", "BTC/USDT:USD", "--endpoints",
                              str(endpoints)], env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or ""})
    assert result.returncode == 2, result.stderr
    assert "bybit has no market for BTC/USDT:USD; closest: BTC/USDT:USDT" in result.stderr
