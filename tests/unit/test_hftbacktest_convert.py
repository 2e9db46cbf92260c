"""Converting raw Binance captures (hftbacktest format) into replay records; expected
values are read off the raw lines quoted in each test."""

import gzip
from collections import Counter
from decimal import Decimal
from pathlib import Path

from arbflow.connectors.captures.hftbacktest import convert, read_capture
from arbflow.connectors.replay import merge_files
from arbflow.model import codec
from arbflow.model.market import MarketTrade, Ticker

RAW = Path(__file__).resolve().parents[2] / "fixtures" / "raw"
BUNDLED = RAW.parent / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"


def test_the_first_perp_book_ticker_becomes_an_exact_ticker() -> None:
    # 1723161255088169167 {"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,
    #   "s":"BTCUSDT","b":"61800.20","B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}
    records = [r for t, r in read_capture(RAW / "usdm_btcusdt_20240808.head.txt.xz") if t == "md.ticker"]
    assert records[0] == Ticker(venue="binance", symbol="BTC/USDT:USDT", market="perp", bid=Decimal("61800.20"),
                                ask=Decimal("61800.30"), bid_qty=Decimal("2.507"), ask_qty=Decimal("2.510"),
                                ts_exchange=1723161256313, ts_local=1723161255088)


def test_a_trade_takes_the_taker_side_from_the_maker_flag() -> None:
    # 1723161255088176367 {"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,
    #   "s":"BTCUSDT","t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}
    trades = [r for t, r in read_capture(RAW / "usdm_btcusdt_20240808.head.txt.xz") if t == "md.trade"]
    assert trades[0] == MarketTrade(venue="binance", symbol="BTC/USDT:USDT", market="perp", px=Decimal("61800.3"),
                                    qty=Decimal("0.006"), side="buy", trade_id="5266583935",
                                    ts_exchange=1723161256322, ts_local=1723161255088)


def test_spot_book_tickers_have_no_exchange_time() -> None:
    tickers = [r for t, r in read_capture(RAW / "spot_btcusdt_20240808.head.txt.xz") if t == "md.ticker"]
    assert tickers and all(t.ts_exchange is None and t.market == "spot" for t in tickers)


def test_conversion_merges_by_receive_time_and_reproduces_the_bundled_fixture(tmp_path: Path) -> None:
    out = tmp_path / "head.jsonl.gz"
    counts = convert([RAW / "spot_btcusdt_20240808.head.txt.xz", RAW / "usdm_btcusdt_20240808.head.txt.xz"], out,
                     streams=("bookTicker",))
    assert counts["skipped:trade"] > 0 and counts["skipped:depth"] > 0 and counts["rejected"] == 0
    lines = [line for line in merge_files([out]) if not isinstance(line, tuple)]
    times = [line.ts for line in lines]
    assert times == sorted(times) and len(lines) == counts["bookTicker"]
    # Every converted BTC record up to the end of the shorter capture is byte-identical
    # to the bundled fixture's BTC records over the same receive-time window.
    converted = [codec.decode(Ticker, line.value, source="t") for line in lines]
    end = min(max(t.ts_local for t in converted if t.market == market) for market in ("spot", "perp"))
    converted = [t for t in converted if t.ts_local <= end]
    with gzip.open(BUNDLED, "rb") as handle:
        bundled = []
        for raw in handle:
            if b'"BTC/' in raw:
                record = codec.decode(Ticker, b"{" + raw.split(b",", 1)[1], source="t")
                if record.ts_local > end:
                    break
                bundled.append(record)
    assert converted == bundled


def test_counts_say_what_was_converted_and_what_skipped() -> None:
    counts: Counter[str] = Counter()
    list(read_capture(RAW / "usdm_btcusdt_20240808.head.txt.xz", counts=counts))
    assert counts["bookTicker"] + counts["trade"] + counts["depth"] + counts["snapshot"] == 1500
    # The diffs received before the REST snapshot (line 55) are buffered and folded into one
    # book at the snapshot; every later diff publishes a book.
    import lzma

    with lzma.open(RAW / "usdm_btcusdt_20240808.head.txt.xz", "rb") as handle:
        lines = handle.read().splitlines()
    snapshot_line = next(i for i, line in enumerate(lines) if b"lastUpdateId" in line)
    after = sum(1 for line in lines[snapshot_line:] if b"@depth@" in line)
    assert counts["book"] == after + 1
