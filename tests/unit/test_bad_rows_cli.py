"""The one bad-row policy through the commands a user runs (`arbflow convert funding`, `convert
bars`, `study funding`), on files built here: impossible rates (1e50, 1E+999999), duplicate and
out-of-order settlements, a premium column where a price belongs, truncated .gz and .xz files.
Each case: the exit code, one line (no traceback), the dead letter's reason, file:line and raw
text, and every good row still converted."""

import gzip
import json
import lzma
import zlib
from decimal import Decimal as D
from pathlib import Path

from click.testing import CliRunner, Result

from arbflow.cli.main import main as cli
from arbflow.model import codec, reasons
from tests.conftest import BUNDLED

SUPERVIK_HEADER = "asset,venue,funding_time_ms_utc,date_as_published,funding_rate\n"
AHA_HEADER = "ts_ms_utc,time_as_published,exchange,asset,pair,market,open,high,low,close,volume,funding_rate\n"
T0 = 1_600_000_000_000
EIGHT_H = 28_800_000


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _lines(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return [codec.loads(line) for line in handle]


def _settlement(i: int, rate: str, ts: int | None = None) -> str:
    return f"BTC,binance,{T0 + i * EIGHT_H if ts is None else ts},x,{rate}"


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr


def test_impossible_duplicate_and_out_of_order_rows_are_dead_letters_and_the_rest_converts(tmp_path: Path) -> None:
    rows = [_settlement(0, "0.0001"),
            _settlement(1, "1e50"),                  # line 3: IMPOSSIBLE_RATE
            _settlement(1, "0.0002"),                # line 4: good (the refused row did not move the series)
            _settlement(2, "1E+999999"),             # line 5: IMPOSSIBLE_RATE, must not overflow
            _settlement(2, "0.0003"),                # line 6: good
            _settlement(2, "0.0003"),                # line 7: DUPLICATE_ROW
            _settlement(0, "0.0004"),                # line 8: OUT_OF_ORDER_ROW
            _settlement(3, "0.0001")]                # line 9: good
    (tmp_path / "sv.csv").write_text(SUPERVIK_HEADER + "\n".join(rows) + "\n")
    result = _run("convert", "funding", str(tmp_path / "sv.csv"), "--out", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.output
    _no_traceback(result)
    converted = _lines(tmp_path / "out.jsonl")
    assert [(r["rate"], r["ts_exchange"]) for r in converted] == [
        ("0.0001", T0), ("0.0002", T0 + EIGHT_H), ("0.0003", T0 + 2 * EIGHT_H), ("0.0001", T0 + 3 * EIGHT_H)]
    dead = _lines(tmp_path / "out.rejected.jsonl")
    assert [(d["source"], d["reason"], d["raw"]) for d in dead] == [
        ("sv.csv:3", reasons.IMPOSSIBLE_RATE, rows[1]), ("sv.csv:5", reasons.IMPOSSIBLE_RATE, rows[3]),
        ("sv.csv:7", reasons.DUPLICATE_ROW, rows[5]), ("sv.csv:8", reasons.OUT_OF_ORDER_ROW, rows[6])]
    assert "1E+50 per 8 h is beyond ±0.03" in str(dead[0]["detail"])
    assert "bad rows: IMPOSSIBLE_RATE" in result.stderr and "bad rows: DUPLICATE_ROW" in result.stderr
    assert f"dead letters: {tmp_path / 'out.rejected.jsonl'}" in result.stderr


def test_strict_turns_the_first_bad_row_into_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "sv.csv").write_text(SUPERVIK_HEADER + _settlement(0, "0.0001") + "\n" + _settlement(0, "0.0001") +
                                     "\n" + _settlement(1, "1e50") + "\n")
    result = _run("convert", "funding", str(tmp_path / "sv.csv"), "--out", str(tmp_path / "out.jsonl"), "--strict")
    assert result.exit_code == 2
    _no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("arbflow: sv.csv:3: DUPLICATE_ROW: binance BTC/USDT:USDT settlement")
    assert "--strict" in line


def test_the_rate_cap_is_configured_and_scaled_to_the_interval(tmp_path: Path) -> None:
    # dYdX settles hourly: 0.3 % per hour is 2.4 % per 8 h (kept), 0.5 % per hour is 4 % (refused)
    rows = [f"BTC,dydx,{T0 + i * 3_600_000},x,{rate}" for i, rate in enumerate(["0.0001", "0.003", "0.005"])]
    (tmp_path / "sv.csv").write_text(SUPERVIK_HEADER + "\n".join(rows) + "\n")
    result = _run("convert", "funding", str(tmp_path / "sv.csv"), "--out", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.output
    assert [r["rate"] for r in _lines(tmp_path / "out.jsonl")] == ["0.0001", "0.003"]
    [dead] = _lines(tmp_path / "out.rejected.jsonl")
    assert dead["detail"] == ("rate 0.005 per 1 h is beyond ±0.00375 (±0.03 per 8 h, "
                              "plausibility.max_funding_rate_8h)")
    loose = tmp_path / "loose.toml"
    loose.write_text("[plausibility]\nmax_funding_rate_8h = \"0.05\"\n")
    result = CliRunner().invoke(cli, ["--config", str(loose), "convert", "funding", str(tmp_path / "sv.csv"),
                                      "--out", str(tmp_path / "loose.jsonl")])
    assert result.exit_code == 0, result.output
    assert [r["rate"] for r in _lines(tmp_path / "loose.jsonl")] == ["0.0001", "0.003", "0.005"]


def _truncated(data: bytes, compress: str) -> tuple[bytes, int]:
    """`data` compressed and cut at two thirds, and how many complete lines of `data` the cut
    file still holds (what a decompressor yields before the break)."""
    packed = gzip.compress(data, mtime=0) if compress == "gz" else lzma.compress(data)
    cut = packed[: len(packed) * 2 // 3]
    if compress == "gz":
        readable = zlib.decompressobj(wbits=31).decompress(cut)
    else:
        readable = lzma.LZMADecompressor().decompress(cut)
    return cut, readable.count(b"\n")


def test_a_truncated_gz_converts_every_readable_row_then_names_the_break_and_exits_1(tmp_path: Path) -> None:
    rows = [_settlement(i, "0.0001") for i in range(20_000)]
    cut, complete = _truncated((SUPERVIK_HEADER + "\n".join(rows) + "\n").encode(), "gz")
    (tmp_path / "cut_utc.csv.gz").write_bytes(cut)
    result = _run("convert", "funding", str(tmp_path / "cut_utc.csv.gz"), "--out", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 1
    _no_traceback(result)
    converted = _lines(tmp_path / "out.jsonl")
    assert len(converted) == complete - 1 > 10_000  # every complete data row before the break (not the header)
    assert converted[-1]["ts_exchange"] == T0 + (complete - 2) * EIGHT_H
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"arbflow: {tmp_path / 'cut_utc.csv.gz'}: damaged gzip file: it breaks after line "
                           f"{complete:,} (byte ")
    assert "end-of-stream marker" in line


def test_a_truncated_xz_is_read_up_to_its_break_by_the_study_too(tmp_path: Path) -> None:
    rows = [f"BTC,{venue},{T0 + i * EIGHT_H},x,0.000{1 + i % 3}" for i in range(4_000)
            for venue in ("binance", "bybit")]
    cut, complete = _truncated((SUPERVIK_HEADER + "\n".join(rows) + "\n").encode(), "xz")
    (tmp_path / "cut_utc.csv.xz").write_bytes(cut)
    result = _run("study", "funding", "--data", str(tmp_path / "cut_utc.csv.xz"), "--out", str(tmp_path / "study"),
                  "--json")
    assert result.exit_code == 1
    _no_traceback(result)
    document = json.loads(result.stdout)  # the study of the readable rows was written and printed first
    assert sum(document["datasets"][0]["counts"][key] for key in ("md.funding",)) == complete - 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"arbflow: {tmp_path / 'cut_utc.csv.xz'}: damaged xz file: it breaks after line {complete:,}")


def test_the_study_leaves_out_a_rate_of_1e50_with_one_line_instead_of_an_overflow(tmp_path: Path) -> None:
    rows = [f"BTC,{venue},{T0 + i * EIGHT_H},x,{'1e50' if (i, venue) == (5, 'bybit') else '0.0001'}"
            for i in range(30) for venue in ("binance", "bybit")]
    (tmp_path / "sv.csv").write_text(SUPERVIK_HEADER + "\n".join(rows) + "\n")
    result = _run("study", "funding", "--data", str(tmp_path / "sv.csv"), "--out", str(tmp_path / "study"), "--json")
    assert result.exit_code == 0, result.output
    _no_traceback(result)
    assert json.loads(result.stdout)["datasets"][0]["counts"]["md.funding"] == 59  # 60 rows, one refused
    [dead] = _lines(tmp_path / "study" / "rejected.jsonl")
    assert (dead["source"], dead["reason"], dead["raw"]) == ("sv.csv:13", reasons.IMPOSSIBLE_RATE, rows[11])
    strict = _run("study", "funding", "--data", str(tmp_path / "sv.csv"), "--out", str(tmp_path / "s2"), "--strict")
    assert strict.exit_code == 2
    _no_traceback(strict)
    assert strict.stderr.strip().splitlines()[-1].startswith("arbflow: sv.csv:13: IMPOSSIBLE_RATE: rate 1E+50")


def _bar(venue: str, market: str, close: str, i: int = 0, rate: str = "0.0001") -> str:
    pair = {"spot": "BTC/USDT", "perp_linear": "BTCUSDT"}[market]
    funding = rate if market != "spot" else ""
    return f"{T0 + i * EIGHT_H},x,{venue},BTC,{pair},{market},{close},{close},{close},{close},1,{funding}"


def test_a_premium_column_mapped_as_a_price_is_refused_price_implausible(tmp_path: Path) -> None:
    rows = [_bar("binance", "perp_linear", "0.00066"),         # line 2: alone, below BTC's floor: a ratio
            _bar("binance", "spot", "67600"),                  # line 3: good
            _bar("bybit", "perp_linear", "67590"),             # line 4: good
            _bar("okx", "perp_linear", "0.00071"),             # line 5: next to 67,600: refused
            _bar("binance", "perp_linear", "67610", i=1)]      # line 6: good
    (tmp_path / "bars_utc.csv").write_text(AHA_HEADER + "\n".join(rows) + "\n")
    for command in ("funding", "bars"):
        out = tmp_path / f"{command}.jsonl"
        result = _run("convert", command, str(tmp_path / "bars_utc.csv"), "--out", str(out))
        assert result.exit_code == 0, result.output
        _no_traceback(result)
        dead = _lines(tmp_path / f"{command}.rejected.jsonl")
        assert [(d["source"], d["reason"]) for d in dead] == [("bars_utc.csv:2", reasons.PRICE_IMPLAUSIBLE),
                                                              ("bars_utc.csv:5", reasons.PRICE_IMPLAUSIBLE)]
        assert dead[0]["detail"] == ("close 0.00066 is below BTC's floor 1 (plausibility.price_floors): "
                                     "a ratio, not a price")
        assert dead[1]["detail"].startswith("close 0.00071 is outside ±20 % of the reference, median 67590 of 2 "
                                            "other instruments' mids")
        written = _lines(out)
        prices = [str(r.get("close") or r.get("bid")) for r in written if r["topic"] in ("md.candle", "md.ticker")]
        assert len(prices) == 3  # a candle (funding) or its quote (bars) per good row
        assert not any(p.startswith("0.000") for p in prices)
        # a refused row writes nothing, not even its settlement
        assert sorted(r["venue"] for r in written if r["topic"] == "md.funding") == ["binance", "bybit"]


def test_a_truncated_xz_capture_converts_every_line_before_the_break_then_exits_1(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "usdm_btcusdt_20240808.head.txt.xz"
    text = lzma.decompress(source.read_bytes())
    cut, complete = _truncated(text, "xz")
    (tmp_path / "usdm_btcusdt_20240808.txt.xz").write_bytes(cut)
    (tmp_path / "whole.txt").write_bytes(b"".join(text.splitlines(keepends=True)[:complete]))
    whole = tmp_path / "usdm_btcusdt_20240808.txt"  # the same complete lines, undamaged: what must come out
    (tmp_path / "whole.txt").rename(whole)
    result = _run("convert", "hftbacktest", str(tmp_path / "usdm_btcusdt_20240808.txt.xz"),
                  "--out", str(tmp_path / "cut.jsonl"))
    assert result.exit_code == 1
    _no_traceback(result)
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"arbflow: {tmp_path / 'usdm_btcusdt_20240808.txt.xz'}: damaged xz file: it breaks after line {complete:,}")
    reference = _run("convert", "hftbacktest", str(whole), "--out", str(tmp_path / "whole.jsonl"))
    assert reference.exit_code == 0, reference.output
    assert (tmp_path / "cut.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
    assert len(_lines(tmp_path / "cut.jsonl")) > 100


def test_a_zst_file_converts_like_the_plain_one_and_a_cut_one_up_to_its_break_then_exits_1(tmp_path: Path) -> None:
    import zstandard

    rows = [_settlement(i, f"0.000{1 + i % 9}") for i in range(20_000)]
    text = (SUPERVIK_HEADER + "\n".join(rows) + "\n").encode()
    (tmp_path / "sv_utc.csv").write_bytes(text)
    packed = zstandard.ZstdCompressor(write_checksum=True).compress(text)
    (tmp_path / "whole_utc.csv.zst").write_bytes(packed)
    plain = _run("convert", "funding", str(tmp_path / "sv_utc.csv"), "--out", str(tmp_path / "plain.jsonl"))
    whole = _run("convert", "funding", str(tmp_path / "whole_utc.csv.zst"), "--out", str(tmp_path / "zst.jsonl"))
    assert (plain.exit_code, whole.exit_code) == (0, 0), whole.output
    assert (tmp_path / "zst.jsonl").read_bytes() == (tmp_path / "plain.jsonl").read_bytes()
    # cut at two thirds: zstandard's own readers return the cut text as if it were whole; ours stop at the
    # last complete line and name the unfinished frame
    cut = packed[: len(packed) * 2 // 3]
    readable = zstandard.ZstdDecompressor().decompressobj().decompress(cut)
    complete = readable.count(b"\n")
    (tmp_path / "cut_utc.csv.zst").write_bytes(cut)
    result = _run("convert", "funding", str(tmp_path / "cut_utc.csv.zst"), "--out", str(tmp_path / "cut.jsonl"))
    assert result.exit_code == 1
    _no_traceback(result)
    converted = _lines(tmp_path / "cut.jsonl")
    assert len(converted) == complete - 1 > 10_000  # every complete data row before the break (not the header)
    assert converted == _lines(tmp_path / "plain.jsonl")[: complete - 1]
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"arbflow: {tmp_path / 'cut_utc.csv.zst'}: damaged zstd file: it breaks after line "
                           f"{complete:,} (byte ")
    assert "ended before the end of its zstd frame" in line


def test_a_flipped_byte_in_a_zst_frame_is_named_by_the_study_after_the_frames_before_it(tmp_path: Path) -> None:
    import zstandard

    rows = [f"BTC,{venue},{T0 + i * EIGHT_H},x,0.000{1 + i % 3}" for i in range(4_000)
            for venue in ("binance", "bybit")]
    first = (SUPERVIK_HEADER + "\n".join(rows[:5_000]) + "\n").encode()
    second = ("\n".join(rows[5_000:]) + "\n").encode()
    compressor = zstandard.ZstdCompressor(write_checksum=True)  # as the zstd tool writes
    damaged = bytearray(compressor.compress(second))
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "bad_utc.csv.zst").write_bytes(compressor.compress(first) + bytes(damaged))  # two frames
    result = _run("study", "funding", "--data", str(tmp_path / "bad_utc.csv.zst"), "--out", str(tmp_path / "study"),
                  "--json")
    assert result.exit_code == 1
    _no_traceback(result)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"arbflow: {tmp_path / 'bad_utc.csv.zst'}: damaged zstd file: it breaks after line "
                           "5,001 (byte ")
    assert "zstd decompressor error" in last
    assert json.loads(result.stdout)["datasets"][0]["counts"]["md.funding"] == 5_000  # the whole first frame


def test_a_zst_file_broken_before_its_first_line_is_damage_not_a_file_without_columns(tmp_path: Path) -> None:
    import zstandard

    packed = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(
        (SUPERVIK_HEADER + _settlement(0, "0.0001") + "\n").encode()))
    packed[len(packed) // 2] ^= 0xFF
    (tmp_path / "bad_utc.csv.zst").write_bytes(bytes(packed))
    result = _run("convert", "funding", str(tmp_path / "bad_utc.csv.zst"), "--out", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 1
    _no_traceback(result)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"arbflow: {tmp_path / 'bad_utc.csv.zst'}: damaged zstd file: it breaks after line 0 ")


def test_a_truncated_gz_is_studied_up_to_its_break_then_named_with_exit_1(tmp_path: Path) -> None:
    rows = [f"BTC,{venue},{T0 + i * EIGHT_H},x,0.0001" for i in range(4_000) for venue in ("binance", "bybit")]
    cut, complete = _truncated((SUPERVIK_HEADER + "\n".join(rows) + "\n").encode(), "gz")
    (tmp_path / "cut_utc.csv.gz").write_bytes(cut)
    result = _run("study", "funding", "--data", str(tmp_path / "cut_utc.csv.gz"), "--out", str(tmp_path / "study"),
                  "--json")
    assert result.exit_code == 1
    _no_traceback(result)
    document = json.loads(result.stdout)
    assert document["datasets"][0]["counts"]["md.funding"] == complete - 1
    # every rate 0.0001 per 8 h: the naive APR of each venue is 0.0001 × 1095 = 10.95 %
    assert {D(r["naive_apr"]) for r in document["rows"] if r["strategy"] == "naive"} <= {D("0.1095")}
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"arbflow: {tmp_path / 'cut_utc.csv.gz'}: damaged gzip file: it breaks after line {complete:,}")


def test_the_study_refuses_a_premium_column_as_a_price_and_studies_the_rest(tmp_path: Path) -> None:
    rows = [_bar("binance", "perp_linear", "0.00066"),         # line 2: below BTC's floor: a ratio
            _bar("binance", "spot", "67600"),                  # line 3
            _bar("bybit", "perp_linear", "67590"),             # line 4
            _bar("okx", "perp_linear", "0.00071"),             # line 5: next to 67,600: refused
            _bar("binance", "perp_linear", "67610", i=1)]      # line 6
    (tmp_path / "bars_utc.csv").write_text(AHA_HEADER + "\n".join(rows) + "\n")
    result = _run("study", "funding", "--data", str(tmp_path / "bars_utc.csv"), "--out", str(tmp_path / "study"),
                  "--json")
    assert result.exit_code == 0, result.output
    _no_traceback(result)
    dead = _lines(tmp_path / "study" / "rejected.jsonl")
    assert [(d["source"], d["reason"]) for d in dead] == [("bars_utc.csv:2", reasons.PRICE_IMPLAUSIBLE),
                                                          ("bars_utc.csv:5", reasons.PRICE_IMPLAUSIBLE)]
    # the good rows: binance's settlement at 8 h and bybit's at 0 (a refused row brings no settlement either)
    assert json.loads(result.stdout)["datasets"][0]["counts"]["md.funding"] == 2


def test_a_zst_replay_file_reads_and_counts_like_the_plain_one(tmp_path: Path) -> None:
    import zstandard

    from arbflow.connectors.replay import count_lines, read_file

    with gzip.open(BUNDLED, "rb") as handle:
        text = b"".join(handle.readline() for _ in range(500))
    (tmp_path / "plain.jsonl").write_bytes(text)
    half = len(text) // 2
    # two frames, as `zstd` appends them to one file
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    (tmp_path / "z.jsonl.zst").write_bytes(compressor.compress(text[:half]) + compressor.compress(text[half:]))
    plain, packed = list(read_file(tmp_path / "plain.jsonl")), list(read_file(tmp_path / "z.jsonl.zst"))
    assert len(plain) == 500
    assert [(line.topic, line.value) for line in packed] == [(line.topic, line.value) for line in plain]
    assert count_lines(tmp_path / "z.jsonl.zst") == 500
