"""KuCoin spot capture (fixtures/raw/cryptofeed/KUCOIN.ws.1.0.xz = its first 1,500 lines,
KUCOIN.http.0.0.xz = the level-2 snapshots): values read off the raw lines; rebuilt books
checked against KuCoin's ticker at the same book sequence."""

import json
import lzma
from decimal import Decimal

from arbflow.connectors.payload import levels
from arbflow.connectors.venues import kucoin
from tests.unit.cryptofeed_capture import RAW, convert, invalid, line, of, received

D = Decimal
WS = "KUCOIN.ws.1.0.xz"


def test_a_ticker_is_read_as_sent() -> None:
    # line 28, received 1619378326.364592: {"data":{"sequence":"1612844051653","bestAsk":"0.00028717",
    #   "size":"0.01745248","bestBidSize":"3.70422021","price":"0.00028676","time":1619378326323,
    #   "bestAskSize":"14.04274325","bestBid":"0.00028678"},"subject":"trade.ticker","topic":"/market/ticker:SNX-BTC"…}
    ticker = of(convert(WS)[0], "md.ticker")[0]
    assert (ticker.venue, ticker.symbol, ticker.bid, ticker.bid_qty, ticker.ask, ticker.ask_qty, ticker.last,
            ticker.ts_exchange, ticker.ts_local) == (
        "kucoin", "SNX/BTC", D("0.00028678"), D("3.70422021"), D("0.00028717"), D("14.04274325"), D("0.00028676"),
        1619378326323, 1619378326364)


def test_a_match_keeps_the_taker_side_and_its_nanosecond_time_in_ms() -> None:
    # received 1619378328.157583: {"data":{"symbol":"DAPPT-BTC","sequence":"1612701563869","side":"buy",
    #   "size":"81.8814","price":"0.0000001117",…,"time":"1619378327739050725","type":"match",…,
    #   "tradeId":"6085c09769bc506996295e36"},"subject":"trade.l3match",…}
    trade = next(t for t in of(convert(WS)[0], "md.trade") if t.trade_id == "6085c09769bc506996295e36")
    assert (trade.symbol, trade.px, trade.qty, trade.side, trade.ts_exchange, trade.ts_local) == (
        "DAPPT/BTC", D("0.0000001117"), D("81.8814"), "buy", 1619378327739, 1619378328157)


def test_the_first_book_is_the_snapshot_and_diffs_chain_by_sequence() -> None:
    # KUCOIN.http.0.0 line 1, received 1619378326.663214: BCHSV-USDT {"time":1619378326628,
    #   "sequence":"1613277183892","bids":[["242.649","5"],["242.646","0.68148185"],…],
    #   "asks":[["242.951","4.51280965"],…]}; earlier diffs (sequence ≤ …892) are stale.
    # ws line 60: {"sequenceStart":1613277183894,…,"bids":[["242.646","0","1613277183894"]]} deletes a bid
    books = [b for b in of(convert(WS)[0], "md.book") if b.symbol == "BCHSV/USDT"]
    first = books[0]
    assert (first.bids[:2], first.asks[0], first.seq, first.ts_exchange, first.ts_local) == (
        ((D("242.649"), D(5)), (D("242.646"), D("0.68148185"))), (D("242.951"), D("4.51280965")),
        1613277183892, 1619378326628, 1619378326663)
    after_delete = next(b for b in books if b.seq == 1613277183894)
    assert after_delete.bids[0] == (D("242.649"), D(5)) and after_delete.bids[1][0] < D("242.646")


def _snapshot() -> dict:
    with lzma.open(RAW / "KUCOIN.http.0.0.xz", "rt") as handle:
        return json.loads(handle.readline().split(": ", 1)[1])["data"]


def test_a_skipped_sequence_is_a_gap_and_drops_the_book() -> None:
    data = _snapshot()
    book = kucoin.SequenceBook(venue="kucoin", symbol="BCHSV/USDT", market="spot", depth=20)
    book.on_snapshot(levels(data["bids"], "bids", "md.book"), levels(data["asks"], "asks", "md.book"),
                     int(data["sequence"]), data["time"], 1)
    assert book.on_update(line(WS, 59)["data"], 2)  # …893
    assert book.on_update(line(WS, 62)["data"], 3) == []  # …895: …894 (line 60) was lost
    assert (book.gaps, book.synced) == (1, False)
    assert book.on_update(line(WS, 63)["data"], 4) == [] and len(book.buffer) == 1  # waits for a snapshot


def test_a_crossing_change_drops_the_book_and_is_never_published() -> None:
    data = _snapshot()  # best ask 242.951
    book = kucoin.SequenceBook(venue="kucoin", symbol="BCHSV/USDT", market="spot", depth=20)
    book.on_snapshot(levels(data["bids"], "bids", "md.book"), levels(data["asks"], "asks", "md.book"),
                     int(data["sequence"]), data["time"], 1)
    crossing = {"sequenceStart": 1613277183893, "sequenceEnd": 1613277183893,
                "changes": {"asks": [], "bids": [["243", "1", "1613277183893"]]}}
    assert book.on_update(crossing, 2) == [] and (book.crossed, book.synced) == (1, False)


def test_rebuilt_books_equal_kucoins_ticker_at_the_same_sequence() -> None:
    """A ticker's `sequence` is the book sequence its best bid/ask belong to."""
    tops = {(m["topic"].split(":")[1], int(m["data"]["sequence"])): (D(m["data"]["bestBid"]), D(m["data"]["bestAsk"]))
            for _, _, m in received(WS) if m.get("subject") == "trade.ticker"}
    books = of(convert(WS)[0], "md.book")
    compared = [(b.bids[0][0], b.asks[0][0]) == tops[(b.symbol.replace("/", "-"), b.seq)]
                for b in books if (b.symbol.replace("/", "-"), b.seq) in tops]
    assert len(compared) > 100 and all(compared), f"{compared.count(False)} of {len(compared)} disagree"


def test_every_record_is_valid() -> None:
    items, counts = convert(WS)
    assets = ["EQZ", "ANKR", "SNX", "FET", "BCHSV", "NRG", "CAPP", "DAPPT", "COV", "LTX"]
    assert invalid(items, venues=["kucoin"], assets=assets, quotes=["BTC", "USDT"]) == []
    assert counts["rejected"] == 0 and counts["book:gaps"] == 0 and counts["md.book"] > 1000
