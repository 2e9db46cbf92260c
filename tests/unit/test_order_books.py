"""Order books from snapshots and diffs: Binance sequencing rules on hand-made diffs, and
on the real captures checked against Binance's own bookTicker for the same update id."""

import lzma
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.connectors.book import L2Book
from arbflow.connectors.captures.hftbacktest import read_capture
from arbflow.connectors.venues import binance
from arbflow.model.market import OrderBook
from arbflow.model.money import venue_decimal

RAW = Path(__file__).resolve().parents[2] / "fixtures" / "raw"
D = Decimal


def _diff(first: int, last: int, bids: list[list[str]], asks: list[list[str]], pu: int | None = None) -> dict:
    data: dict = {"e": "depthUpdate", "E": 1_723_161_255_000 + last, "s": "BTCUSDT", "U": first, "u": last,
                  "b": bids, "a": asks}
    if pu is not None:
        data["pu"] = pu
    return data


SNAPSHOT = {"lastUpdateId": 10, "bids": [["100", "1"], ["99", "2"]], "asks": [["101", "1"], ["102", "3"]]}


def test_l2_book_keeps_sorted_levels_and_deletes_zero_quantities() -> None:
    book = L2Book()
    book.load([(D(99), D(2)), (D(100), D(1))], [(D(102), D(3)), (D(101), D(1))])
    book.apply([(D(100), D(0)), (D("99.5"), D(4))], [(D(101), D("0.5"))])
    assert book.top(5) == (((D(99.5), D(4)), (D(99), D(2))), ((D(101), D("0.5")), (D(102), D(3))))
    assert not book.crossed()
    book.apply([(D(103), D(1))], [])
    assert book.crossed()


def test_spot_diffs_before_the_snapshot_are_buffered_and_stale_ones_dropped() -> None:
    sync = binance.DepthSync(symbol="BTC/USDT", market="spot", futures=False, depth=2)
    assert sync.on_diff(_diff(5, 9, [["98", "7"]], []), 1) == []  # before the snapshot; u <= 10: stale
    assert sync.on_diff(_diff(10, 12, [["100", "5"]], []), 2) == []  # straddles 11: the first to apply
    [book] = sync.on_snapshot(SNAPSHOT, 3)
    assert (book.bids, book.asks, book.seq, book.ts_local) == (
        ((D(100), D(5)), (D(99), D(2))), ((D(101), D(1)), (D(102), D(3))), 12, 3)
    [book] = sync.on_diff(_diff(13, 13, [], [["101", "0"]]), 4)
    assert book.asks == ((D(102), D(3)),) and book.seq == 13


def test_a_spot_gap_drops_the_book_until_the_next_snapshot() -> None:
    sync = binance.DepthSync(symbol="BTC/USDT", market="spot", futures=False)
    sync.on_snapshot(SNAPSHOT, 1)
    assert len(sync.on_diff(_diff(11, 11, [["100", "2"]], []), 2)) == 1
    assert sync.on_diff(_diff(13, 14, [["100", "3"]], []), 3) == []  # 12 is missing
    assert (sync.gaps, sync.resyncs, sync.synced) == (1, 1, False)
    assert sync.on_diff(_diff(15, 15, [], []), 4) == []  # buffered until a snapshot
    assert sync.pending == 1


def test_futures_diffs_chain_by_previous_update_id() -> None:
    sync = binance.DepthSync(symbol="BTC/USDT:USDT", market="perp", futures=True)
    sync.on_snapshot(SNAPSHOT, 1)
    assert len(sync.on_diff(_diff(8, 12, [["100", "4"]], [], pu=7), 2)) == 1  # U <= 10 <= u: first
    assert len(sync.on_diff(_diff(13, 20, [], [["101", "2"]], pu=12), 3)) == 1
    assert sync.on_diff(_diff(25, 30, [], [], pu=21), 4) == []  # pu != 20
    assert sync.gaps == 1


def test_a_crossed_book_is_never_published() -> None:
    sync = binance.DepthSync(symbol="BTC/USDT", market="spot", futures=False)
    sync.on_snapshot(SNAPSHOT, 1)
    assert sync.on_diff(_diff(11, 11, [["101.5", "1"]], []), 2) == []  # bid above the best ask
    assert (sync.crossed, sync.synced) == (1, False)


def test_coin_margined_contracts_become_coins() -> None:
    # BTCUSD_PERP contracts are 100 USD each: 10 contracts at 50,000 = 1,000 USD = 0.02 BTC.
    assert binance.coin_m_scale("BTCUSD_PERP")(D(50_000), D(10)) == D("0.02")
    assert binance.coin_m_scale("ETHUSD_PERP")(D(2_000), D(10)) == D("0.05")  # 10 USD contracts


def test_a_coin_m_book_ticker_is_in_coins() -> None:
    # cm capture: "b":"61804.7","B":"35","a":"61804.8","A":"1645" (contracts of 100 USD)
    tickers = [r for t, r in read_capture(RAW / "cm_btcusd_perp_20240808.head.txt.xz", streams=("bookTicker",))
               if t == "md.ticker"]
    first = tickers[0]
    assert first.symbol == "BTC/USD:BTC" and (first.bid, first.ask) == (D("61804.7"), D("61804.8"))
    assert first.bid_qty.quantize(D("1E-20")) == (D(35) * 100 / D("61804.7")).quantize(D("1E-20"))
    assert first.ask_qty.quantize(D("1E-20")) == (D(1645) * 100 / D("61804.8")).quantize(D("1E-20"))


@pytest.mark.parametrize("name", ["spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz",
                                  "cm_btcusd_perp_20240808.head.txt.xz"])
def test_the_rebuilt_book_top_equals_binances_book_ticker_at_the_same_update_id(name: str) -> None:
    """Binance's bookTicker carries the book update id `u`: wherever a rebuilt book has
    that id as its `seq`, both must show the same best bid and ask."""
    import orjson

    tops = {}
    with lzma.open(RAW / name, "rb") as handle:
        for line in handle:
            message = orjson.loads(line.split(b" ", 1)[1])
            if message.get("stream", "").endswith("@bookTicker"):
                data = message["data"]
                tops[data["u"]] = (D(data["b"]), D(data["a"]))
    counts: Counter[str] = Counter()
    books = [r for t, r in read_capture(RAW / name, streams=("depth",), counts=counts) if isinstance(r, OrderBook)]
    compared = [(b.bids[0][0], b.asks[0][0]) == tops[b.seq] for b in books if b.seq in tops]
    assert books and compared and all(compared), f"{compared.count(False)} of {len(compared)} disagree"
    assert counts["rejected"] == 0 and counts["snapshot"] == 1
    assert all(b.bids[0][0] < b.asks[0][0] and len(b.bids) <= 20 for b in books)


def test_hyperliquid_books_and_trades_are_read_as_sent() -> None:
    # first line: {"channel":"l2Book","data":{"coin":"BTC","levels":[[{"n":5,"px":"105055.0","sz":"3.03622"},…],
    #   [{"n":13,"px":"105056.0","sz":"6.34472"},…]],"time":1737918843542}} received at ns 1737918843893903000
    out = list(read_capture(RAW / "hyperliquid_btcusd_20250126.txt.xz"))
    book = out[0][1]
    assert (out[0][0], book.symbol, book.bids[0], book.asks[0], book.ts_exchange, book.ts_local) == (
        "md.book", "BTC/USDC:USDC", (D(105055), D("3.03622")), (D(105056), D("6.34472")), 1737918843542,
        1737918843893)
    ticker = out[1][1]
    assert (out[1][0], ticker.bid, ticker.ask, ticker.bid_qty) == ("md.ticker", D(105055), D(105056), D("3.03622"))
    # first trade: {"coin":"BTC","px":"105056.0","side":"B","sz":"0.00219","tid":121451470284048,"time":1737918794873}
    trade = next(r for t, r in out if t == "md.trade")
    assert (trade.px, trade.qty, trade.side, trade.trade_id, trade.ts_exchange) == (
        D(105056), D("0.00219"), "buy", "121451470284048", 1737918794873)


# -- the fast book (dict + sorted prices + cached top) against the obvious one ------------


class ReferenceBook:
    """What L2Book did before (sorted maps): every level in a dict, the top cut by sorting."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, qty in levels:
                if qty == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty

    def top(self, depth: int) -> tuple[tuple[tuple[Decimal, Decimal], ...], ...]:
        return (tuple(sorted(self.bids.items(), reverse=True)[:depth]), tuple(sorted(self.asks.items())[:depth]))

    def crossed(self) -> bool:
        return bool(self.bids) and bool(self.asks) and max(self.bids) >= min(self.asks)


def _recorded_texts() -> tuple[list[str], list[str]]:
    """Price and quantity texts of the recorded spot BTC depth diffs (fixtures/raw)."""
    import orjson

    prices, qtys = set(), set()
    with lzma.open(RAW / "spot_btcusdt_20240808.head.txt.xz", "rb") as handle:
        for line in handle:
            message = orjson.loads(line.split(b" ", 1)[1])
            if "@depth" in message.get("stream", ""):
                for price, qty in message["data"]["b"] + message["data"]["a"]:
                    prices.add(price)
                    qtys.add(qty)
    return sorted(prices)[:400], sorted(qtys)[:400] + ["0.00000000"] * 40


PRICES, QTYS = _recorded_texts()
TEXT_LEVELS = st.lists(st.tuples(st.sampled_from(PRICES), st.sampled_from(QTYS)), max_size=30)


@settings(max_examples=300, deadline=None, database=None)
@given(steps=st.lists(st.tuples(TEXT_LEVELS, TEXT_LEVELS, st.sampled_from([1, 5, 20, 20, 20])), max_size=25),
       snapshot=st.tuples(TEXT_LEVELS, TEXT_LEVELS), texts=st.booleans())
def test_the_book_equals_the_sorted_reference_after_any_diffs_of_recorded_levels(
        steps: list[tuple[list[tuple[str, str]], list[tuple[str, str]], int]],
        snapshot: tuple[list[tuple[str, str]], list[tuple[str, str]]], texts: bool) -> None:
    """Recorded price/quantity texts as random snapshots and diffs (zeros delete), applied
    as Decimal levels or as texts: after every diff each top N (N changing between reads,
    as the OKX checksum does) and the crossed check equal the reference's."""
    def parsed(levels: list[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
        return [(binance._number(p, "p"), binance._number(q, "q")) for p, q in levels]

    book, reference = L2Book(), ReferenceBook()
    book.load(parsed(snapshot[0]), parsed(snapshot[1]))
    reference.apply(parsed(snapshot[0]), parsed(snapshot[1]))
    for bids, asks, depth in steps:
        if texts:
            book.apply_texts([list(level) for level in bids], [list(level) for level in asks], binance._number)
        else:
            book.apply(parsed(bids), parsed(asks))
        reference.apply(parsed(bids), parsed(asks))
        assert book.top(depth) == reference.top(depth)
        assert book.crossed() == reference.crossed()
        assert book.empty == (not reference.bids or not reference.asks)


@pytest.mark.parametrize("name", ["spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz"])
def test_every_book_of_the_recorded_diffs_equals_the_reference_book(name: str) -> None:
    """The recorded snapshot and diffs through DepthSync (the fast text path) and through
    the reference book: every emitted top 20 is the reference's, level for level, with the
    same Decimal texts (sign, digits, exponent)."""
    import orjson

    from arbflow.connectors.captures.hftbacktest import new_sync

    def levels(raw: list[list[str]]) -> list[tuple[Decimal, Decimal]]:
        return [(venue_decimal(p), venue_decimal(q)) for p, q in raw]

    sync = new_sync(RAW / name)
    reference, before = ReferenceBook(), []
    compared = 0
    with lzma.open(RAW / name, "rb") as handle:
        for line in handle:
            message = orjson.loads(line.split(b" ", 1)[1])
            if "lastUpdateId" in message:  # the snapshot, then the diffs buffered before it that follow it
                [book] = sync.on_snapshot(message, 1)
                reference.apply(levels(message["bids"]), levels(message["asks"]))
                for data in before:
                    if data["u"] > message["lastUpdateId"] - sync.futures:
                        reference.apply(levels(data["b"]), levels(data["a"]))
                assert (book.bids, book.asks) == reference.top(20)
                continue
            if "@depth" not in message["stream"]:
                continue
            data = message["data"]
            books = sync.on_diff(data, 1)
            if not sync.synced:
                before.append(data)
            elif books:
                reference.apply(levels(data["b"]), levels(data["a"]))
                [book] = books
                want = reference.top(20)
                assert (book.bids, book.asks) == want
                assert [(p.as_tuple(), q.as_tuple()) for p, q in book.bids + book.asks] == [
                    (p.as_tuple(), q.as_tuple()) for p, q in want[0] + want[1]]
                compared += 1
    assert compared > 100 and sync.gaps == 0


def test_a_diff_with_a_bad_level_is_refused_and_drops_the_book_until_the_next_snapshot() -> None:
    sync = binance.DepthSync(symbol="BTC/USDT", market="spot", futures=False)
    sync.on_snapshot(SNAPSHOT, 1)
    with pytest.raises(binance.PayloadError) as refused:
        sync.on_diff(_diff(11, 11, [["99.5", "1"], "100x2"], []), 2)
    assert (refused.value.reason, refused.value.detail) == ("WRONG_TYPE", "b[1]: expected [price, quantity]")
    sync.on_snapshot(SNAPSHOT, 3)
    with pytest.raises(binance.PayloadError) as refused:
        sync.on_diff(_diff(11, 11, [], [["101.5", "1"], ["102", "1e99"]]), 4)
    assert refused.value.reason == "INVALID_NUMBER"
    assert (sync.gaps, sync.synced) == (2, False)  # the first level may be in: the book is not trusted
    assert sync.on_diff(_diff(11, 11, [["100", "3"]], []), 5) == []  # buffered until a snapshot
    [book] = sync.on_snapshot(SNAPSHOT, 6)
    assert (book.bids, book.asks, book.seq) == (((D(100), D(3)), (D(99), D(2))), ((D(101), D(1)), (D(102), D(3))), 11)
