"""The cryptofeed capture machinery: file naming, line classes, dead letters, merging."""

import lzma
import shutil
from pathlib import Path

import pytest

from arbflow.connectors.captures import cryptofeed
from arbflow.connectors.replay import read_file
from arbflow.model.rejected import Rejected
from tests.unit.cryptofeed_capture import RAW


@pytest.mark.parametrize("name", ["COINBASE.ws.28.0.xz", "okx.ws.1.0.xz", "OKX.ws.1.xz", "notes.txt"])
def test_unsupported_files_are_refused_naming_what_is_supported(name: str) -> None:
    with pytest.raises(ValueError, match="OKX, BYBIT, GATEIO, GATEIO_FUTURES, KUCOIN, BITGET, BINANCE"):
        cryptofeed.describe(Path(name))


def test_a_recording_is_found_from_any_of_its_files() -> None:
    found = cryptofeed.siblings(RAW / "GATEIO_FUTURES.http.0.0.xz")
    assert {k: [p.name for p in v] for k, v in found.items()} == {
        "reference": ["GATEIO_FUTURES.0.xz"], "http": ["GATEIO_FUTURES.http.0.0.xz"],
        "ws": ["GATEIO_FUTURES.ws.1.0.xz"]}


def test_lines_are_classified_with_receive_times_in_ms() -> None:
    lines = list(cryptofeed.read_lines(RAW / "OKX.ws.1.0.xz"))
    assert [(line.kind, line.ts_local) for line in lines[:3]] == [
        ("opened", 1652459224530), ("sent", 1652459225298), ("sent", 1652459225299)]
    assert lines[4].kind == "received" and lines[4].ts_local == 1652459225503 and lines[4].origin == "ws"
    assert lines[-1].kind == "received"


def _with_extra_lines(tmp_path: Path, extra: list[str]) -> Path:
    shutil.copy(RAW / "OKX.0.xz", tmp_path / "OKX.0.xz")
    with lzma.open(RAW / "OKX.ws.1.0.xz", "rt") as source, lzma.open(tmp_path / "OKX.ws.1.0.xz", "wt") as out:
        out.write(source.read() + "\n".join(extra) + "\n")
    return tmp_path / "OKX.ws.1.0.xz"


def test_bad_payloads_become_dead_letters_with_reason_and_source(tmp_path: Path) -> None:
    path = _with_extra_lines(tmp_path, [
        '1652459240.5: {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT",'
        '"instId":"BTC-USDT","last":"1","askPx":"NaN","askSz":"1","bidPx":"1","bidSz":"1","ts":"1652459240000"}]}',
        '1652459240.6: {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT",'
        '"tradeId":"1","px":"1","sz":"1","side":"sideways","ts":"1652459240000"}]}',
        '1652459240.65: {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":5}]}',
        '1652459240.66: {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[["not", "an", "object"]]}',
        "1652459240.7: not json",
        "garbage without a timestamp",
    ])
    items = list(cryptofeed.read_capture(path))
    dead = [(topic, r.reason, r.source) for topic, r in items if isinstance(r, Rejected)]
    assert dead == [("dlq.md.ticker", "NON_FINITE", "OKX.ws.1.0.xz:415"),
                    ("dlq.md.trade", "INVALID_VALUE", "OKX.ws.1.0.xz:416"),
                    ("dlq.md.book", "MISSING_FIELD", "OKX.ws.1.0.xz:417"),
                    ("dlq.md.trade", "WRONG_TYPE", "OKX.ws.1.0.xz:418"),
                    ("dlq.replay", "MALFORMED_JSON", "OKX.ws.1.0.xz:419"),
                    ("dlq.replay", "MALFORMED_JSON", "OKX.ws.1.0.xz:420")]


def test_unknown_streams_are_refused() -> None:
    with pytest.raises(ValueError, match="ticker, trade, book, funding, oi"):
        next(cryptofeed.read_capture(RAW / "OKX.ws.1.0.xz", streams=("bookTicker",)))


def test_a_swap_without_its_instrument_record_is_rejected(tmp_path: Path) -> None:
    shutil.copy(RAW / "OKX.ws.1.0.xz", tmp_path / "OKX.ws.1.0.xz")  # no OKX.0 beside it
    items = list(cryptofeed.read_capture(tmp_path / "OKX.ws.1.0.xz"))
    uni = [r for t, r in items if isinstance(r, Rejected)]
    assert uni and {r.reason for r in uni} == {"UNKNOWN_SYMBOL"}
    assert not any(getattr(r, "symbol", "").startswith("UNI") for _, r in items)


def test_convert_merges_recordings_by_receive_time_and_filters_streams(tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl.gz"
    counts = cryptofeed.convert([RAW / "OKX.ws.1.0.xz", RAW / "BINANCE.http.0.0.xz", RAW / "BINANCE.ws.1.0.xz"], out,
                                streams=("ticker", "trade"))
    lines = list(read_file(out))
    assert [line.ts for line in lines] == sorted(line.ts for line in lines)
    assert {line.topic for line in lines} == {"md.ticker", "md.trade"}
    assert len(lines) == counts["md.ticker"] + counts["md.trade"] and counts["md.book"] == 0
    assert {line.key for line in lines} == {"BTC", "UNI", "NKN", "LRC", "BLZ"}
