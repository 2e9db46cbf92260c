"""Bybit legacy v2 capture (fixtures/raw/cryptofeed/BYBIT.ws.25.0.xz = USDT linear and
BYBIT.ws.26.0.xz = inverse, each the first 400 lines): values read off the raw lines.

No top-of-book check: the recording subscribed to `trade` and `orderBookL2_25` only, so
there is no ticker to compare the rebuilt book with; the books are checked by their
sequence (`cross_seq`) and level-id consistency instead."""

import copy
from decimal import Decimal

from arbflow.connectors.payload import usd_contracts
from arbflow.connectors.venues import bybit
from arbflow.model.money import ratio
from tests.unit.cryptofeed_capture import convert, invalid, line, of

D = Decimal
LINEAR, INVERSE = "BYBIT.ws.25.0.xz", "BYBIT.ws.26.0.xz"


def test_a_linear_trade_is_in_coins_with_the_taker_side() -> None:
    # BYBIT.ws.25.0 line 18, received 1618677786.799668: {"topic":"trade.BCHUSDT","data":[{"symbol":"BCHUSDT",
    #   "tick_direction":"MinusTick","price":"1053.90","size":0.14,…,"trade_time_ms":"1618677785116",
    #   "side":"Buy","trade_id":"01cacfe9-8d1c-5ee4-995d-d79a43f955a6"}]}
    trade = next(t for t in of(convert(LINEAR)[0], "md.trade") if t.symbol == "BCH/USDT:USDT")
    assert (trade.venue, trade.market, trade.px, trade.qty, trade.side, trade.trade_id, trade.ts_exchange,
            trade.ts_local) == ("bybit", "perp", D("1053.90"), D("0.14"), "buy",
                                "01cacfe9-8d1c-5ee4-995d-d79a43f955a6", 1618677785116, 1618677786799)


def test_an_inverse_trade_turns_usd_contracts_into_coins() -> None:
    # BYBIT.ws.26.0: {"topic":"trade.BTCUSD","data":[{"trade_time_ms":1618677786614,…,"symbol":"BTCUSD",
    #   "side":"Sell","size":4,"price":60621.5,…,"trade_id":"5ffb8b77-900c-507d-97a2-0922557ffe54"}…
    # 4 contracts of 1 USD = 4 / 60621.5 BTC; the price is a JSON number, read exactly.
    trade = next(t for t in of(convert(INVERSE)[0], "md.trade") if t.trade_id.startswith("5ffb8b77"))
    assert (trade.symbol, trade.px, trade.side, trade.ts_exchange) == ("BTC/USD:BTC", D("60621.5"), "sell",
                                                                       1618677786614)
    assert trade.qty == ratio(D(4), D("60621.5"))


def test_the_first_book_after_a_snapshot_is_its_top_levels() -> None:
    # BYBIT.ws.25.0 line 36, received 1618677786.9824052: BCHUSDT snapshot, 25 Buy + 25 Sell rows;
    #   best Buy rows {"price":"1054.35",…,"size":8.52}, {"price":"1054.30",…,"size":7.5};
    #   best Sell rows {"price":"1054.50",…,"size":30}, {"price":"1054.70",…,"size":5};
    #   "cross_seq":"864131773","timestamp_e6":"1618677786389362"
    book = next(b for b in of(convert(LINEAR)[0], "md.book") if b.symbol == "BCH/USDT:USDT")
    assert (book.bids[:2], book.asks[:2], book.seq, book.ts_exchange, book.ts_local) == (
        ((D("1054.35"), D("8.52")), (D("1054.30"), D("7.5"))), ((D("1054.50"), D(30)), (D("1054.70"), D(5))),
        864131773, 1618677786389, 1618677786982)
    assert len(book.bids) == len(book.asks) == 20


def test_an_inverse_book_is_in_coins() -> None:
    # BYBIT.ws.26.0 line 8: EOSUSD snapshot, best Buy {"price":"7.971","id":79710,"size":41516},
    #   best Sell {"price":"7.972","id":79720,"size":138299}, timestamp_e6 1618677786558146;
    # line 9: delta updating id 79710 to size 47766, cross_seq 1225777225
    books = [b for b in of(convert(INVERSE)[0], "md.book") if b.symbol == "EOS/USD:EOS"]
    assert books[0].bids[0] == (D("7.971"), ratio(D(41516), D("7.971")))
    assert books[0].asks[0] == (D("7.972"), ratio(D(138299), D("7.972")))
    assert books[0].ts_exchange == 1618677786558
    assert (books[1].bids[0], books[1].seq) == ((D("7.971"), ratio(D(47766), D("7.971"))), 1225777225)


def _book() -> bybit.IdBook:
    return bybit.IdBook(venue="bybit", symbol="EOS/USD:EOS", market="perp", depth=20,
                        scale=usd_contracts(D(1)))


def test_a_replayed_cross_seq_is_a_gap_and_drops_the_book_until_the_next_snapshot() -> None:
    snapshot, delta = line(INVERSE, 8), line(INVERSE, 9)
    book = _book()
    assert book.on_message(snapshot, 1) and book.on_message(delta, 2)
    assert book.on_message(delta, 3) == []  # cross_seq 1225777225 again: not after the book's
    assert (book.gaps, book.synced) == (1, False)
    assert book.on_message(line(INVERSE, 10), 4) == [] and book.unsynced == 1
    assert book.on_message(snapshot, 5)  # the next snapshot restores it


def test_a_delta_for_a_level_the_book_does_not_hold_is_a_gap() -> None:
    snapshot, delta = line(INVERSE, 8), copy.deepcopy(line(INVERSE, 9))
    delta["data"]["update"][0]["id"] = 79715  # no level has this id: a delta was lost
    book = _book()
    book.on_message(snapshot, 1)
    assert book.on_message(delta, 2) == [] and book.gaps == 1


def test_every_record_is_valid() -> None:
    items, counts = convert(LINEAR)  # the sibling BYBIT.ws.26.0 is read too
    assets = ["BCH", "XTZ", "UNI", "LTC", "DOT", "LINK", "ADA", "ETH", "BTC", "EOS"]
    assert invalid(items, venues=["bybit"], assets=assets, quotes=["USDT", "USD"]) == []
    assert counts["rejected"] == 0 and counts["book:gaps"] == 0 and counts["md.book"] > 500
    assert {r.symbol for r in of(items, "md.book")} >= {"BTC/USD:BTC", "EOS/USD:EOS", "ETH/USDT:USDT"}
