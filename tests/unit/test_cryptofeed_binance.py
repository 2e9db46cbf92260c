"""Binance cryptofeed captures (fixtures/raw/cryptofeed/BINANCE*, spot 2021-10-12, USDⓈ-M and
COIN-M 2021-07-22; BINANCE_DELIVERY.ws is its first 1,500 lines): values read off the raw
lines; rebuilt books checked against Binance's bookTicker at the same update id."""

import json
import lzma
from decimal import Decimal

import pytest

from arbflow.connectors.venues import binance
from arbflow.model.market import OrderBook
from arbflow.model.money import ratio
from tests.unit.cryptofeed_capture import RAW, convert, invalid, of, received

D = Decimal
SPOT, USDM, COINM = "BINANCE.ws.1.0.xz", "BINANCE_FUTURES.ws.1.0.xz", "BINANCE_DELIVERY.ws.1.0.xz"


def test_a_spot_book_ticker_has_no_exchange_time() -> None:
    # BINANCE.ws.1.0 line 9, received 1633998513.377805: {"stream":"nknusdt@bookTicker","data":{
    #   "u":499869768,"s":"NKNUSDT","b":"0.35210000","B":"672.00000000","a":"0.35260000","A":"3199.00000000"}}
    ticker = of(convert(SPOT)[0], "md.ticker")[0]
    assert (ticker.venue, ticker.symbol, ticker.bid, ticker.bid_qty, ticker.ask, ticker.ask_qty, ticker.ts_exchange,
            ticker.ts_local) == ("binance", "NKN/USDT", D("0.3521"), D(672), D("0.3526"), D(3199), None,
                                 1633998513377)


def test_agg_trades_take_the_taker_side_from_the_maker_flag() -> None:
    # BINANCE.ws.1.0 line 110: {"stream":"nknusdt@aggTrade","data":{"e":"aggTrade","E":1633998523963,
    #   "s":"NKNUSDT","a":15683430,"p":"0.35280000","q":"58.00000000",…,"m":false,"M":true}} — the buyer
    #   was not the maker, so the taker bought
    trade = next(t for t in of(convert(SPOT)[0], "md.trade") if t.trade_id == "15683430")
    assert (trade.symbol, trade.px, trade.qty, trade.side, trade.ts_exchange) == (
        "NKN/USDT", D("0.3528"), D(58), "buy", 1633998523963)
    # BINANCE_DELIVERY.ws.1.0 line 41: {"stream":"bchusd_perp@aggTrade","data":{…,"a":11285749,
    #   "s":"BCHUSD_PERP","p":"427.91","q":"3",…,"m":true}}: 3 contracts of 10 USD (exchangeInfo
    #   "contractSize":10) = 30 / 427.91 BCH, sold by the taker
    coin = next(t for t in of(convert(COINM)[0], "md.trade") if t.trade_id == "11285749")
    assert (coin.symbol, coin.side, coin.qty) == ("BCH/USD:BCH", "sell", ratio(D(30), D("427.91")))


def test_a_coin_m_book_ticker_uses_the_exchange_info_contract_size() -> None:
    # BINANCE_DELIVERY.ws.1.0 line 2: {"stream":"bchusd_perp@bookTicker","data":{"u":167006084895,
    #   "e":"bookTicker","s":"BCHUSD_PERP","ps":"BCHUSD","b":"427.84","B":"24","a":"427.90","A":"669",
    #   "T":1626916403864,"E":1626916403871}}; BINANCE_DELIVERY.0: BCHUSD_PERP "contractSize":10
    ticker = next(t for t in of(convert(COINM)[0], "md.ticker") if t.symbol == "BCH/USD:BCH")
    assert (ticker.bid, ticker.ask, ticker.ts_exchange) == (D("427.84"), D("427.90"), 1626916403871)
    assert (ticker.bid_qty, ticker.ask_qty) == (ratio(D(240), D("427.84")), ratio(D(6690), D("427.90")))


def test_the_exchange_info_contract_sizes_match_binances_documented_faces() -> None:
    feed = binance.Feed(kind="coinm")
    with lzma.open(RAW / "BINANCE_DELIVERY.0.xz", "rt") as handle:
        feed.reference("", json.loads(handle.readline().split(": ", 1)[1]), 0)
    assert feed.scale("BTCUSD_PERP")(D(50_000), D(10)) == binance.coin_m_scale("BTCUSD_PERP")(D(50_000), D(10))
    assert feed.scale("ETHUSD_PERP")(D(2_000), D(10)) == binance.coin_m_scale("ETHUSD_PERP")(D(2_000), D(10))


@pytest.mark.parametrize("name", [SPOT, USDM, COINM])
def test_rebuilt_books_equal_binances_book_ticker_at_the_same_update_id(name: str) -> None:
    tops = {(m["data"]["s"], m["data"]["u"]): (D(m["data"]["b"]), D(m["data"]["a"]))
            for _, _, m in received(name) if m["stream"].endswith("@bookTicker")}
    books = [b for b in of(convert(name)[0], "md.book") if isinstance(b, OrderBook)]
    venue_symbols = {b.symbol: s for s, _ in tops for b in books if b.symbol.replace("/", "").split(":")[0]
                     == s.removesuffix("_PERP")}
    compared = [(b.bids[0][0], b.asks[0][0]) == tops[(venue_symbols[b.symbol], b.seq)]
                for b in books if b.symbol in venue_symbols and (venue_symbols[b.symbol], b.seq) in tops]
    assert compared and all(compared), f"{compared.count(False)} of {len(compared)} disagree"


def test_a_lost_diff_is_a_gap_and_no_book_is_published() -> None:
    """SUSHIUSDT on USDⓈ-M: the REST snapshot and the depth diffs in receive order, one diff
    after the snapshot left out: the next diff's `pu` no longer equals the book's `u`."""
    with lzma.open(RAW / "BINANCE_FUTURES.http.0.0.xz", "rt") as handle:
        url, rest = handle.readline().split(" -> ", 1)
    ts, body = rest.split(": ", 1)
    snapshot = (int(D(ts) * 1000), json.loads(body))
    diffs = [(int(D(t) * 1000), m["data"]) for _, t, m in received(USDM) if m["stream"] == "sushiusdt@depth@100ms"]
    feed = binance.Feed(kind="usdm")
    published = []
    after = [d for d in diffs if d[0] > snapshot[0]]
    for ts_local, data in [d for d in diffs if d[0] <= snapshot[0]]:
        feed.message({"stream": "sushiusdt@depth@100ms", "data": data}, ts_local)
    published += feed.snapshot(url, snapshot[1], snapshot[0])
    first = next(i for i, (_, data) in enumerate(after) if data["u"] >= snapshot[1]["lastUpdateId"])
    for ts_local, data in after[:first + 1] + after[first + 2:first + 5]:  # after[first + 1] is lost
        published += feed.message({"stream": "sushiusdt@depth@100ms", "data": data}, ts_local)
    assert feed.book_counts()["gaps"] == 1
    assert published[-1][1].seq == after[first][1]["u"]  # nothing is published after the gap


def test_every_record_is_valid_and_dated_futures_are_counted() -> None:
    for name, assets, quotes in [(SPOT, ["NKN", "BLZ", "LRC", "RUNE"], ["USDT", "ETH", "BTC", "EUR"]),
                                 (USDM, ["SUSHI", "AKRO", "KEEP", "CTK"], ["USDT"]),
                                 (COINM, ["BTC", "ETH", "BCH", "LINK", "TRX", "ETC", "XRP", "EOS"], ["USD"])]:
        items, counts = convert(name)
        assert invalid(items, venues=["binance"], assets=assets, quotes=quotes) == [], name
        assert counts["rejected"] == 0 and counts["book:gaps"] == 0, name
    assert convert(COINM)[1]["skipped:binance-dated-future"] > 0
