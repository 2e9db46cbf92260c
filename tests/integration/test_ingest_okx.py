"""OKX live path, offline: the real `ccxt.pro.okx` against the stub (the cryptofeed OKX
capture of 2022-05-13: BTC-USDT tickers, trades, books; the same frames renamed
BTC-USDT-SWAP for the swap, whose sizes are contracts of 0.01 BTC) → normaliser → Tansu →
read back and compared by value with the frames the stub sent."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.model import reasons, topics
from arbflow.model.config import Config
from arbflow.model.market import FundingRate, MarketTrade, OrderBook, Ticker
from tests.integration.ingest_support import (
    CLOCK_MS,
    REPO,
    Run,
    apply_levels,
    arbflow_cli,
    dead_letters,
    era_clock,
    ingest,
    subsequence,
    top,
)
from tests.stubs.okx import Okx
from tests.stubs.server import Drop, Malform, StubServer

pytestmark = pytest.mark.integration
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
INST = {SPOT: "BTC-USDT", PERP: "BTC-USDT-SWAP"}
CT_VAL = {SPOT: Decimal(1), PERP: Decimal("0.01")}  # instruments: BTC-USDT-SWAP ctVal "0.01" (BTC per contract)


def market(symbol: str) -> Any:
    return "spot" if symbol == SPOT else "perp"


def expected_tickers(frames: list[Any], symbol: str) -> list[Ticker]:
    rows = [f["data"][0] for f in frames]
    size = CT_VAL[symbol]
    return [Ticker(venue="okx", symbol=symbol, market=market(symbol), bid=Decimal(r["bidPx"]), ask=Decimal(r["askPx"]),
                   bid_qty=Decimal(r["bidSz"]) * size, ask_qty=Decimal(r["askSz"]) * size, last=Decimal(r["last"]),
                   ts_exchange=int(r["ts"]), ts_local=CLOCK_MS) for r in rows]


def expected_trades(frames: list[Any], symbol: str) -> list[MarketTrade]:
    return [MarketTrade(venue="okx", symbol=symbol, market=market(symbol), px=Decimal(r["px"]),
                        qty=Decimal(r["sz"]) * CT_VAL[symbol], side=r["side"], trade_id=r["tradeId"],
                        ts_exchange=int(r["ts"]), ts_local=CLOCK_MS) for f in frames for r in f["data"]]


def book_states(frames: list[Any], symbol: str, ts_local: int = CLOCK_MS, depth: int = 20) -> list[OrderBook]:
    """The book after each frame: `snapshot` loads, `update` sets levels (size "0" deletes)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    states = []
    for frame in frames:
        data = frame["data"][0]
        if frame["action"] == "snapshot":
            bids, asks = {}, {}
        apply_levels(bids, data["bids"], CT_VAL[symbol])
        apply_levels(asks, data["asks"], CT_VAL[symbol])
        states.append(OrderBook(venue="okx", symbol=symbol, market=market(symbol), bids=top(bids, depth, True),
                                asks=top(asks, depth, False), depth=depth, seq=None, ts_exchange=int(data["ts"]),
                                ts_local=ts_local))
    return states


def test_okx_spot_and_swap_records_equal_the_recorded_frames_the_stub_sent(config: Config) -> None:
    venue = Okx(frames_per_channel=40)
    final = {s: book_states(venue.recorded("books", INST[s]), s)[-1] for s in INST}
    last_ticker = {s: expected_tickers(venue.recorded("tickers", INST[s]), s)[-1] for s in INST}
    trades = sum(len(expected_trades(venue.recorded("trades", INST[s]), s)) for s in INST)

    def done(run: Run) -> bool:
        return (all(run.last(topics.MD_BOOK, s) == final[s] and run.last(topics.MD_TICKER, s) == last_ticker[s]
                    for s in INST)
                and run.emitter.counts[topics.MD_TRADE] == trades and run.emitter.counts[topics.MD_FUNDING] >= 2)

    with StubServer(venue) as stub:
        run = ingest(config, stub, ["BTC"], until=done)
        sent = {(channel, s): stub.frames(f"{channel}:{INST[s]}") for channel in ("tickers", "trades") for s in INST}

    tickers, trade_records, books = run.read(topics.MD_TICKER), run.read(topics.MD_TRADE), run.read(topics.MD_BOOK)
    for symbol in INST:
        mine = [t for t in tickers if t.symbol == symbol]
        wanted = expected_tickers(sent[("tickers", symbol)], symbol)
        assert mine and subsequence(mine, wanted) and mine[-1] == wanted[-1]
        assert [t for t in trade_records if t.symbol == symbol] == expected_trades(sent[("trades", symbol)], symbol)
        assert subsequence([b for b in books if b.symbol == symbol], book_states(venue.recorded("books", INST[symbol]),
                                                                                 symbol))
    # By hand from the first BTC-USDT ticker: bidPx 30228.6 × bidSz 0.23393; as the swap the same
    # size is 0.23393 contracts × 0.01 BTC = 0.0023393 BTC.
    assert expected_tickers(sent[("tickers", PERP)], PERP)[0].bid_qty == Decimal("0.0023393")
    assert next(t for t in tickers if t.symbol == PERP).bid == Decimal("30228.6")
    # ws_funding_rate row: fundingRate 0.0001 at fundingTime 1744590349506, nextFundingRate 0.0002,
    # nextFundingTime 1744619149506 → OKX's own interval 28,800,000 ms.
    assert FundingRate(venue="okx", symbol=PERP, market="perp", rate=Decimal("0.0001"),
                       predicted_rate=Decimal("0.0002"), interval_ms=28_800_000, next_funding_time=1744590349506,
                       ts_local=CLOCK_MS) in run.read(topics.MD_FUNDING)
    assert not stub.unhandled


FUNDING_CHANNEL = f"funding-rate:{INST[PERP]}"
FUNDING_REST = "/api/v5/public/funding-rate"


def expected_funding(row: Any) -> FundingRate:
    """An OKX funding-rate row (push or REST) as md.funding: `fundingRate` settles at
    `fundingTime`; `nextFundingRate` is the forecast after it; interval = nextFundingTime − fundingTime."""
    return FundingRate(venue="okx", symbol=PERP, market="perp", rate=Decimal(row["fundingRate"]),
                       predicted_rate=Decimal(row["nextFundingRate"]),
                       interval_ms=int(row["nextFundingTime"]) - int(row["fundingTime"]),
                       next_funding_time=int(row["fundingTime"]), ts_local=CLOCK_MS)


def perp_funding(run: Run) -> list[FundingRate]:
    return [f for f in run.read(topics.MD_FUNDING) if f.symbol == PERP]


def test_okx_funding_streams_over_the_websocket_and_the_rest_poll_skips_the_fresh_perp(config: Config) -> None:
    with StubServer(Okx()) as stub:
        run = ingest(config, stub, [PERP], streams=("funding",),
                     until=lambda r: r.last(topics.MD_FUNDING, PERP) is not None)
        sent = stub.frames(FUNDING_CHANNEL)
        rest_hits = stub.rest_hits[FUNDING_REST]
    # The stub pushed the recorded message once, unchanged; ccxt → normaliser → Kafka gives back its row.
    assert sent == [json.loads((REPO / "fixtures/stub/okx/ws_funding_rate.json").read_text())]
    assert perp_funding(run) == [expected_funding(sent[0]["data"][0])]
    # By hand: rate 0.0001 for fundingTime 1744590349506, forecast 0.0002, 1744619149506 − 1744590349506 = 8 h.
    assert perp_funding(run) == [FundingRate(venue="okx", symbol=PERP, market="perp", rate=Decimal("0.0001"),
                                             predicted_rate=Decimal("0.0002"), interval_ms=28_800_000,
                                             next_funding_time=1744590349506, ts_local=CLOCK_MS)]
    assert rest_hits == 0  # the stream was fresh: the poll (60 s) did not ask REST for it
    assert run.feed.status.streams["funding"].fallbacks == 0
    assert not stub.unhandled


def test_okx_rest_poll_publishes_funding_when_the_stream_delivers_nothing(config: Config) -> None:
    with StubServer(Okx(funding_pushes=False)) as stub:
        run = ingest(config, stub, [PERP], streams=("funding",), funding_poll_s=0.2,
                     until=lambda r: r.last(topics.MD_FUNDING, PERP) is not None)
        sent, rest_hits = stub.frames(FUNDING_CHANNEL), stub.rest_hits[FUNDING_REST]
    row = json.loads((REPO / "fixtures/stub/okx/ws_funding_rate.json").read_text())["data"][0]
    assert sent == [] and rest_hits >= 1
    assert perp_funding(run) and all(f == expected_funding(row) for f in perp_funding(run))
    assert run.metric("arbflow_feed_funding_fallbacks_total", venue="okx", reason="MISSING") >= 1
    assert run.feed.status.streams["funding"].fallbacks >= 1


def test_okx_rest_poll_takes_over_when_the_funding_stream_goes_stale(config: Config) -> None:
    # The stub pushes its one recorded message and then nothing: after a poll period REST serves the perp.
    def stale(r: Run) -> bool:
        return r.metric("arbflow_feed_funding_fallbacks_total", venue="okx", reason="STALE") >= 1 \
            and r.emitter.counts[topics.MD_FUNDING] >= 2

    with StubServer(Okx()) as stub:
        run = ingest(config, stub, [PERP], streams=("funding",), funding_poll_s=0.3, until=stale)
        sent = stub.frames(FUNDING_CHANNEL)
    records = perp_funding(run)
    assert len(sent) == 1 and len(records) >= 2
    assert all(f == expected_funding(sent[0]["data"][0]) for f in records)


def test_okx_reconnects_after_a_mid_stream_drop_and_rebuilds_the_book_from_the_new_snapshot(config: Config) -> None:
    venue = Okx(frames_per_channel=40)
    frames = venue.recorded("books", INST[PERP])
    with StubServer(venue, drops=[Drop(f"books:{INST[PERP]}", 15)]) as stub:
        final = book_states(frames, PERP, ts_local=CLOCK_MS + 2000)[-1]
        trades = len(expected_trades(venue.recorded("trades", INST[PERP]), PERP))
        run = ingest(config, stub, [PERP], streams=("book", "trade"), clock=era_clock(stub),
                     until=lambda r: r.last(topics.MD_BOOK, PERP) == final
                     and r.emitter.counts[topics.MD_TRADE] == trades)
    books = run.read(topics.MD_BOOK)
    before = [b for b in books if b.ts_local == CLOCK_MS + 1000]
    after = [b for b in books if b.ts_local == CLOCK_MS + 2000]
    assert before[-1] == book_states(frames[:15], PERP, ts_local=CLOCK_MS + 1000)[-1]
    # Rebuilt from the new snapshot: every later book is the replay's state after some frame.
    assert after and subsequence(after, book_states(frames, PERP, ts_local=CLOCK_MS + 2000))
    assert after[-1] == final
    # One connection carries every OKX channel: the trades replayed after the reconnect are
    # de-duplicated by trade id, each published once.
    trade_ids = [t.trade_id for t in run.read(topics.MD_TRADE)]
    assert len(trade_ids) == len(set(trade_ids)) == trades
    assert run.metric("arbflow_feed_reconnects_total", venue="okx", reason="NETWORK_ERROR") == 2  # book and trades
    assert run.metric("arbflow_feed_resyncs_total", venue="okx", market="perp", reason="RECONNECT") == 1


def test_okx_trade_with_a_negative_size_goes_to_the_dead_letter_topic(config: Config) -> None:
    def negative(frame: Any) -> Any:
        return {**frame, "data": [{**frame["data"][0], "sz": "-" + frame["data"][0]["sz"]}]}

    venue = Okx(frames_per_channel=20)
    with StubServer(venue, malforms=[Malform("trades:BTC-USDT", 4, negative)]) as stub:
        run = ingest(config, stub, [SPOT], streams=("trade",),
                     until=lambda r: r.emitter.counts[topics.MD_TRADE] == 19
                     and r.emitter.counts[topics.dlq_topic(topics.MD_TRADE)] == 1)
        sent = stub.frames("trades:BTC-USDT")
    [rejected] = dead_letters(run, topics.MD_TRADE)
    assert (rejected.reason, rejected.source) == (reasons.NEGATIVE_SIZE, f"okx:md.trade:{SPOT}")
    assert rejected.detail == f"qty = {sent[4]['data'][0]['sz']} is negative"
    assert json.loads(rejected.raw) == sent[4]["data"][0]
    assert run.read(topics.MD_TRADE) == expected_trades(sent[:4] + sent[5:], SPOT)


def test_okx_unknown_symbol_exits_2_with_the_closest_matches(tmp_path: Path, config: Config) -> None:
    with StubServer(Okx(frames_per_channel=1)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"okx": stub.endpoints}))
        result = arbflow_cli(["ingest", "--venues", "okx", "--symbols", "ETHH", "--endpoints", str(endpoints)],
                             env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or ""})
    assert result.returncode == 2, result.stderr
    assert "okx has no market for ETHH; closest: ETH" in result.stderr
