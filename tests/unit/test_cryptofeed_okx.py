"""OKX v5 capture (fixtures/raw/cryptofeed/OKX.ws.1.0.xz, OKX.0.xz): values read off the
raw lines, books checked by OKX's own CRC32 checksum on every real message."""

import copy
from decimal import Decimal

from arbflow.connectors.payload import SequencedBook
from arbflow.connectors.venues import okx
from arbflow.model.market import OrderBook
from arbflow.model.money import ratio
from tests.unit.cryptofeed_capture import convert, invalid, line, of, received

D = Decimal
WS = "OKX.ws.1.0.xz"


def test_a_spot_ticker_is_read_as_sent() -> None:
    # line 25, received 1652459225.5069652: {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{
    #   "instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7",
    #   "askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393",…,"ts":"1652459224956"}]}
    ticker = next(t for t in of(convert(WS)[0], "md.ticker") if t.symbol == "BTC/USDT")
    assert (ticker.venue, ticker.symbol, ticker.market, ticker.bid, ticker.ask, ticker.bid_qty, ticker.ask_qty,
            ticker.last, ticker.ts_exchange, ticker.ts_local) == (
        "okx", "BTC/USDT", "spot", D("30228.6"), D("30228.7"), D("0.23393"), D("1.55896972"), D(30236),
        1652459224956, 1652459225506)


def test_trades_keep_the_taker_side_and_inverse_contracts_become_coins() -> None:
    # line 27: {"instId":"UNI-USD-SWAP","tradeId":"12883020","px":"5.123","sz":"100","side":"sell",
    #   "ts":"1652459215150"}; OKX.0 lists UNI-USD-SWAP as ctType inverse, ctVal "10", ctValCcy USD,
    #   so 100 contracts are 1,000 USD = 1000 / 5.123 UNI.
    # line 28: {"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy",…}
    trades = of(convert(WS)[0], "md.trade")
    uni = next(t for t in trades if t.trade_id == "12883020")
    assert (uni.symbol, uni.px, uni.side, uni.ts_exchange) == ("UNI/USD:UNI", D("5.123"), "sell", 1652459215150)
    assert uni.qty == ratio(D(1000), D("5.123"))
    btc = next(t for t in trades if t.trade_id == "338476307")
    assert (btc.symbol, btc.px, btc.qty, btc.side) == ("BTC/USDT", D(30236), D("0.0002"), "buy")


def test_the_instrument_list_gives_contract_values() -> None:
    # OKX.0 line 2 (SWAP list): BTC-USDT-SWAP ctType linear, ctVal "0.01" (BTC);
    #   UNI-USD-SWAP ctType inverse, ctVal "10" (USD)
    swaps = {i["instId"]: i for i in line("OKX.0.xz", 2)["data"]}
    assert okx.contract_scale(swaps["BTC-USDT-SWAP"])(D(30000), D(3)) == D("0.03")
    assert okx.contract_scale(swaps["UNI-USD-SWAP"])(D(5), D(100)) == D(200)


def test_the_first_book_after_a_snapshot_is_its_top_levels() -> None:
    # line 31, received 1652459225.7021418: books snapshot of BTC-USDT, 400 levels a side,
    #   bids [["30243.4","0.0012029","0","1"],["30236.6","0.007903","0","1"],…],
    #   asks [["30243.5","1.44679","0","6"],["30244","0.08","0","1"],…], "ts":"1652459225381"
    # line 30: UNI-USD-SWAP snapshot, bids [["5.14","251","0","2"],…], asks [["5.148","60","0","1"],…]
    books = of(convert(WS)[0], "md.book")
    btc = next(b for b in books if b.symbol == "BTC/USDT")
    assert (btc.bids[:2], btc.asks[:2], btc.ts_exchange, btc.ts_local, btc.depth) == (
        ((D("30243.4"), D("0.0012029")), (D("30236.6"), D("0.007903"))),
        ((D("30243.5"), D("1.44679")), (D(30244), D("0.08"))), 1652459225381, 1652459225702, 20)
    assert len(btc.bids) == len(btc.asks) == 20
    uni = next(b for b in books if b.symbol == "UNI/USD:UNI")
    assert uni.bids[0] == (D("5.14"), ratio(D(2510), D("5.14")))  # 251 contracts × 10 USD
    assert uni.asks[0] == (D("5.148"), ratio(D(600), D("5.148")))


def _book_messages() -> list[tuple[int, dict]]:
    return [(n, m) for n, _, m in received(WS) if m.get("arg", {}).get("channel") == "books" and "data" in m]


def test_every_real_books_message_passes_its_checksum() -> None:
    """All three instruments, the dated future included: each message's `checksum` equals
    the CRC32 of the rebuilt book's top 25 levels, so every message yields a book."""
    books: dict[str, SequencedBook] = {}
    messages = _book_messages()
    emitted = 0
    for _, message in messages:
        inst = message["arg"]["instId"]
        book = books.setdefault(inst, SequencedBook(venue="okx", symbol=inst, market="spot", depth=20))
        emitted += len(okx.on_book(book, message["action"], message["data"][0], 0))
    assert len(messages) > 150 and emitted == len(messages)
    assert sum(b.checksum for b in books.values()) == 0 and len(books) == 3


def test_a_tampered_update_fails_the_checksum_and_drops_the_book() -> None:
    messages = {n: m for n, m in _book_messages()}
    book = SequencedBook(venue="okx", symbol="BTC/USDT", market="spot", depth=20)
    assert okx.on_book(book, "snapshot", messages[31]["data"][0], 1)
    tampered = copy.deepcopy(messages[33]["data"][0])  # line 33: asks [["30243.5","1.2112","0","4"],…]
    tampered["asks"][0][1] = "1.2113"
    assert okx.on_book(book, "update", tampered, 2) == []
    assert (book.checksum, book.synced) == (1, False)
    following = next(m for n, m in sorted(messages.items()) if n > 33 and m["arg"]["instId"] == "BTC-USDT")
    assert okx.on_book(book, "update", following["data"][0], 3) == [] and book.unsynced == 1
    assert okx.on_book(book, "update", messages[33]["data"][0], 4) == []  # the real one comes too late


def test_a_sequence_gap_drops_the_book_until_the_next_snapshot() -> None:
    """OKX's current books carry `seqId`/`prevSeqId` (the 2022 capture predates them): the
    real snapshot and update with sequence ids added; an update whose prevSeqId is not
    the book's seqId is a lost message."""
    messages = {n: m for n, m in _book_messages()}
    snapshot = {**messages[31]["data"][0], "seqId": 100, "prevSeqId": -1}
    update = {**messages[33]["data"][0], "seqId": 101, "prevSeqId": 100}
    book = SequencedBook(venue="okx", symbol="BTC/USDT", market="spot", depth=20)
    assert okx.on_book(book, "snapshot", snapshot, 1)[0].seq == 100
    gap = {**update, "seqId": 107, "prevSeqId": 105}
    assert okx.on_book(book, "update", gap, 2) == [] and (book.gaps, book.synced) == (1, False)
    assert okx.on_book(book, "update", update, 3) == [] and book.unsynced == 1
    [again] = okx.on_book(book, "snapshot", snapshot, 4)
    assert isinstance(again, OrderBook) and okx.on_book(book, "update", update, 5)[0].seq == 101


def test_tickers_show_tops_the_rebuilt_book_had() -> None:
    """OKX's tickers carry no book sequence and lag the 100 ms books (the ticker at ts
    1652459226124 still repeats the pre-subscription 30228.6/30228.7 while the book then
    shows 30243.4/30243.5), so a same-time comparison is impossible. What holds: every
    ticker whose best bid/ask changed shows a top the rebuilt book had at or before the
    ticker's exchange time."""
    items, _ = convert(WS)
    seen: list[tuple[int, Decimal, Decimal]] = []
    checked = previous = 0
    for topic, record in items:
        if record.symbol != "BTC/USDT":
            continue
        if topic == "md.book":
            seen.append((record.ts_exchange, record.bids[0][0], record.asks[0][0]))
        elif topic == "md.ticker":
            if seen and previous and (record.bid, record.ask) != previous:
                assert (record.bid, record.ask) in {(b, a) for ts, b, a in seen if ts <= record.ts_exchange}
                checked += 1
            previous = (record.bid, record.ask)
    assert checked >= 3


def test_every_record_is_valid_and_dated_futures_are_counted_not_converted() -> None:
    items, counts = convert(WS)
    assert invalid(items, venues=["okx"], assets=["BTC", "UNI"], quotes=["USDT", "USD"]) == []
    assert counts["rejected"] == 0 and counts["book:checksum"] == 0 and counts["book:gaps"] == 0
    assert counts["skipped:okx-dated-or-option"] > 0
    assert {r.symbol for _, r in items} == {"BTC/USDT", "UNI/USD:UNI"}
