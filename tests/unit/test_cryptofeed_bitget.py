"""Bitget legacy v1 capture (fixtures/raw/cryptofeed/BITGET.ws.1.0.xz = spot, BITGET.ws.2.0.xz
= USDT-M, the first 250 lines of each): values read off the raw lines; books checked by
Bitget's own CRC32 checksum on every real message.

No top-of-book comparison: Bitget v1 tickers carry no book sequence and no sizes, spot
tickers round prices (CULTUSDT `"bestBid":"0.000036","bestAsk":"0.000036"` while the book
shows 0.00003505/0.0000353), and USDT-M tickers are separate snapshots that disagree with
the latest rebuilt book about a third of the time (e.g. DASHUSDT 113.36/113.41 against
113.37/113.42) — no time or id lines them up. The checksum is the independent check."""

import copy
from decimal import Decimal

from arbflow.connectors.payload import SequencedBook
from arbflow.connectors.venues import bitget
from tests.unit.cryptofeed_capture import convert, invalid, of, received

D = Decimal
SPOT, MIX = "BITGET.ws.1.0.xz", "BITGET.ws.2.0.xz"


def test_a_trade_update_keeps_the_taker_side() -> None:
    # BITGET.ws.2.0 line 41, received 1649290079.001875: {"action":"update","arg":{"instType":"mc",
    #   "channel":"trade","instId":"UNIUSDT"},"data":[["1649290078916","9.977","1","sell"]]}
    items, counts = convert(MIX)
    trade = next(t for t in of(items, "md.trade") if t.symbol == "UNI/USDT:USDT")
    assert (trade.venue, trade.market, trade.px, trade.qty, trade.side, trade.trade_id, trade.ts_exchange,
            trade.ts_local) == ("bitget", "perp", D("9.977"), D(1), "sell", "1649290078916:9.977:1:sell",
                                1649290078916, 1649290079001)
    assert counts["skipped:bitget-trade-history"] == 10  # the snapshots of past trades (no ids)


def test_the_first_book_after_a_snapshot_is_its_top_levels() -> None:
    # BITGET.ws.1.0 line 35, received 1649290077.520031: CULTUSDT snapshot, "ts":"1649290077496",
    #   bids [["0.00003505","285020"],["0.00003504","529739"],…], asks [["0.00003530","145214"],…]
    # BITGET.ws.2.0 line 11: DASHUSDT (USDT-M, sizes in DASH) bids [["113.37","237.61"],…],
    #   asks [["113.42","6.40"],…]
    books = of(convert(SPOT)[0], "md.book")
    cult = next(b for b in books if b.symbol == "CULT/USDT")
    assert (cult.bids[:2], cult.asks[0], cult.ts_exchange, cult.ts_local) == (
        ((D("0.00003505"), D(285020)), (D("0.00003504"), D(529739))), (D("0.0000353"), D(145214)),
        1649290077496, 1649290077520)
    dash = next(b for b in books if b.symbol == "DASH/USDT:USDT")
    assert (dash.bids[0], dash.asks[0], dash.ts_exchange) == ((D("113.37"), D("237.61")), (D("113.42"), D("6.4")),
                                                              1649290077548)


def test_funding_and_open_interest_come_from_the_usdt_m_ticker() -> None:
    # BITGET.ws.2.0 line 13, received 1649290077.583327: {"instId":"DASHUSDT",…,"capitalRate":"-0.000100",
    #   "nextSettleTime":1649314800000,"systemTime":1649290077309,…,"holding":"21957.17",…}
    items, _ = convert(MIX)
    funding = next(f for f in of(items, "md.funding") if f.symbol == "DASH/USDT:USDT")
    assert (funding.rate, funding.predicted_rate, funding.interval_ms, funding.next_funding_time,
            funding.ts_exchange, funding.ts_local) == (D("-0.0001"), None, 28_800_000, 1649314800000,
                                                       1649290077309, 1649290077583)
    oi = next(o for o in of(items, "md.oi") if o.symbol == "DASH/USDT:USDT")
    assert oi.open_interest == D("21957.17")


def _books(name: str) -> list[tuple[int, dict]]:
    return [(n, m) for n, _, m in received(name) if m.get("arg", {}).get("channel") == "books" and "data" in m]


def test_every_real_books_message_passes_its_checksum() -> None:
    emitted = total = 0
    for name in (SPOT, MIX):
        books: dict[str, SequencedBook] = {}
        for _, message in _books(name):
            inst = message["arg"]["instId"]
            book = books.setdefault(inst, SequencedBook(venue="bitget", symbol=inst, market="spot", depth=20))
            emitted += len(bitget.on_book(book, message["action"], message["data"][0], 0))
            total += 1
        assert sum(b.checksum for b in books.values()) == 0
    assert total > 100 and emitted == total


def test_a_tampered_or_lost_update_fails_the_checksum_and_drops_the_book() -> None:
    """v1 books have no sequence numbers: a lost update shows up as a checksum mismatch."""
    messages = [m for _, m in _books(SPOT) if m["arg"]["instId"] == "CULTUSDT"]
    snapshot, first, second = messages[0]["data"][0], messages[1]["data"][0], messages[2]["data"][0]
    book = SequencedBook(venue="bitget", symbol="CULT/USDT", market="spot", depth=20)
    bitget.on_book(book, "snapshot", snapshot, 1)
    tampered = copy.deepcopy(first)
    tampered["asks"][0][1] = "600001"  # line 67: asks [["0.00003614","600000"],…]
    assert bitget.on_book(book, "update", tampered, 2) == [] and book.checksum == 1
    assert bitget.on_book(book, "update", second, 3) == [] and book.unsynced == 1
    bitget.on_book(book, "snapshot", snapshot, 4)
    assert bitget.on_book(book, "update", second, 5) == [] and book.checksum == 2  # `first` was lost


def test_every_record_is_valid() -> None:
    items, counts = convert(SPOT)  # the sibling BITGET.ws.2.0 is read too
    assets = ["EOS", "GOG", "VVS", "AVAX", "CULT", "HOT", "SUN", "STG", "DASH", "UNI"]
    assert invalid(items, venues=["bitget"], assets=assets, quotes=["USDT"]) == []
    assert counts["rejected"] == 0 and counts["book:checksum"] == 0 and counts["md.book"] > 100
