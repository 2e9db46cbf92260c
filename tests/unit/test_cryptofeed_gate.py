"""Gate v4 captures (fixtures/raw/cryptofeed/GATEIO.* spot 2021-04-22, GATEIO_FUTURES.*
USDT futures 2023-05-24, whole files): values read off the raw lines; futures books
checked against Gate's own book_ticker at the same update id."""

import json
import lzma
from decimal import Decimal

from arbflow.connectors.venues import gate
from arbflow.model.market import OrderBook
from tests.unit.cryptofeed_capture import RAW, convert, invalid, line, of, received

D = Decimal
SPOT, FUTURES = "GATEIO.ws.1.0.xz", "GATEIO_FUTURES.ws.1.0.xz"


def test_a_spot_trade_keeps_the_taker_side_and_fractional_ms() -> None:
    # GATEIO.ws.1.0, received 1619093543.755753: {"channel":"spot.trades","event":"update","result":{
    #   "id":816995772,"create_time":1619093543,"create_time_ms":"1619093543708.2642","side":"sell",
    #   "currency_pair":"DIS_USDT","amount":"0.2010000000","price":"121.5800000000"}}
    trade = next(t for t in of(convert(SPOT)[0], "md.trade") if t.trade_id == "816995772")
    assert (trade.venue, trade.symbol, trade.market, trade.px, trade.qty, trade.side, trade.ts_exchange,
            trade.ts_local) == ("gate", "DIS/USDT", "spot", D("121.58"), D("0.201"), "sell", 1619093543708,
                                1619093543755)


def test_the_first_spot_book_is_the_rest_snapshot_after_stale_updates() -> None:
    # GATEIO.http.0.0 line 1, received 1619093533.764683: HAI_ETH snapshot "id":2691446,
    #   bids [["0.00010322","5360.209"],["0.00010276","20.80412499"],…], asks [["0.00010396","5876.967"],…]
    # The only earlier update (U = u = 2691446) is not after the snapshot id, so it is dropped.
    book = next(b for b in of(convert(SPOT)[0], "md.book") if b.symbol == "HAI/ETH")
    assert (book.bids[:2], book.asks[0], book.seq, book.ts_local) == (
        ((D("0.00010322"), D("5360.209")), (D("0.00010276"), D("20.80412499"))), (D("0.00010396"), D("5876.967")),
        2691446, 1619093533764)


def test_futures_books_turn_contracts_into_coins_with_the_quanto_multiplier() -> None:
    # GATEIO_FUTURES.http.0.0 line 5, received 1684930167.675714: QUICK_USDT "id":124930263,
    #   bids [{"s":100,"p":"56.91"},{"s":1001,"p":"56.9"},…], asks [{"s":46,"p":"57"},…];
    # GATEIO_FUTURES.0: QUICK_USDT "quanto_multiplier":"0.01" → 100 contracts = 1 QUICK
    book = next(b for b in of(convert(FUTURES)[0], "md.book") if b.symbol == "QUICK/USDT:USDT")
    assert (book.bids[:2], book.asks[0], book.ts_local) == (
        ((D("56.91"), D(1)), (D("56.9"), D("10.01"))), (D(57), D("0.46")), 1684930167675)


def test_funding_and_open_interest_come_from_the_contract_list() -> None:
    # GATEIO_FUTURES.0, received 1684930163.9483538: {"name":"INJ_USDT","quanto_multiplier":"0.1",
    #   "funding_rate":"0.000025","funding_rate_indicative":"0.000025","funding_interval":28800,
    #   "funding_next_apply":1684944000,"position_size":9232447,…}
    items, _ = convert(FUTURES)
    funding = next(f for f in of(items, "md.funding") if f.symbol == "INJ/USDT:USDT")
    assert (funding.venue, funding.market, funding.rate, funding.predicted_rate, funding.interval_ms,
            funding.next_funding_time, funding.ts_local) == (
        "gate", "perp", D("0.000025"), D("0.000025"), 28_800_000, 1_684_944_000_000, 1684930163948)
    oi = next(o for o in of(items, "md.oi") if o.symbol == "INJ/USDT:USDT")
    assert oi.open_interest == D("923244.7")  # 9,232,447 contracts × 0.1 INJ
    assert len(of(items, "md.funding")) == len(of(items, "md.oi")) == 302


def test_a_skipped_update_is_a_gap_and_drops_the_book() -> None:
    # RDNT_USDT: snapshot "id":203083287 (http line 1); updates at ws lines 76 (U 203083288),
    # 78 (U 203083300 … u 203083302), 84 (U 203083303, u 203083304), 86 (U 203083305)
    snapshot = _rest(1)
    book = gate.UpdateIdBook(venue="gate", symbol="RDNT/USDT:USDT", market="perp", depth=20)
    levels = gate._levels  # the venue's own level reader: spot lists and futures {"p","s"} alike
    assert book.on_snapshot(levels(snapshot["bids"], "bids"), levels(snapshot["asks"], "asks"), snapshot["id"], 1)
    for number in (76, 78):
        assert book.on_update(line(FUTURES, number)["result"], 2)
    assert book.on_update(line(FUTURES, 86)["result"], 3) == []  # 84 was lost: U 203083305 != 203083302 + 1
    assert (book.gaps, book.synced) == (1, False)
    assert book.on_update(line(FUTURES, 87)["result"], 4) == [] and len(book.buffer) == 1


def _rest(number: int) -> dict:
    with lzma.open(RAW / "GATEIO_FUTURES.http.0.0.xz", "rt") as handle:
        return json.loads(handle.readlines()[number - 1].split(": ", 1)[1])


def test_rebuilt_futures_books_equal_gates_book_ticker_at_the_same_update_id() -> None:
    """futures.book_ticker carries the book's update id `u`: wherever a rebuilt book has
    that id as its `seq`, both must show the same best bid and ask."""
    tops = {(m["result"]["s"], m["result"]["u"]): (D(m["result"]["b"]), D(m["result"]["a"]))
            for _, _, m in received(FUTURES) if m.get("channel") == "futures.book_ticker" and "result" in m
            and m.get("event") == "update"}
    books = [b for b in of(convert(FUTURES)[0], "md.book") if isinstance(b, OrderBook)]
    compared = [(b.bids[0][0], b.asks[0][0]) == tops[(b.symbol.split("/")[0] + "_USDT", b.seq)]
                for b in books if (b.symbol.split("/")[0] + "_USDT", b.seq) in tops]
    assert len(compared) >= 15 and all(compared)


def test_a_book_ticker_is_in_coins() -> None:
    # received 1684930167.1087258: {"channel":"futures.book_ticker","event":"update","result":{
    #   "t":1684930165621,"u":6159967,"s":"PHB_USDT","b":"0.7379","B":814,"a":"0.739","A":677}}
    # PHB_USDT quanto_multiplier "1"
    ticker = next(t for t in of(convert(FUTURES)[0], "md.ticker") if t.symbol == "PHB/USDT:USDT")
    assert (ticker.bid, ticker.ask, ticker.bid_qty, ticker.ask_qty, ticker.ts_exchange, ticker.ts_local) == (
        D("0.7379"), D("0.739"), D(814), D(677), 1684930165621, 1684930167108)


def test_every_record_is_valid() -> None:
    contracts = _contract_names()
    spot_items, spot_counts = convert(SPOT)
    assert invalid(spot_items, venues=["gate"], assets=["INK", "HAI", "BTC", "NANO", "QTUM3S", "DIS", "NEO", "FAST",
                                                        "ZKS", "OMG"], quotes=["USDT", "ETH", "USDC", "BTC"]) == []
    futures_items, futures_counts = convert(FUTURES)
    assert invalid(futures_items, venues=["gate"], assets=[n.split("_")[0] for n in contracts], quotes=["USDT"]) == []
    assert spot_counts["rejected"] == futures_counts["rejected"] == 0
    assert spot_counts["skipped:gate-spot.tickers"] == 22  # best bid/ask without sizes: not an md.ticker


def _contract_names() -> list[str]:
    with lzma.open(RAW / "GATEIO_FUTURES.0.xz", "rt") as handle:
        return [c["name"] for c in json.loads(handle.readline().split(": ", 1)[1])]
