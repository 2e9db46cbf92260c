"""The generic reader's parts the Lean minute files need (connectors/captures/column_map.py,
connectors/compressed.py, model/column_map.py): a .zip holding one CSV, a CSV without a header
line whose columns the mapping names (`header`), times counted from a `time_origin`, and a
`source` the conversion prints. Bad input — a zip of two files, a file that is no zip, a
time_origin that does not read — is refused with one line and exit 2."""

import zipfile
from decimal import Decimal as D
from pathlib import Path

from click.testing import CliRunner, Result

from arbflow.cli.main import main
from arbflow.connectors.replay import read_file
from arbflow.model import codec
from arbflow.model.market import Ticker

T0 = 1_670_889_600_000  # 2022-12-13T00:00:00Z
MAPPING = """
venue = "bybit"
asset = "BTC"
contract = "linear"
settle = "USDT"
time_origin = "{origin}"
source = "hand-made Lean-style quotes"
header = ["ms", "bid", "bid_size", "ask", "ask_size"]

[columns]
time = "ms"
bid = "bid"
ask = "ask"
bid_qty = "bid_size"
ask_qty = "ask_size"
"""
ROWS = "0,17199,1.5,17199.5,2\n60000,17212,0.25,17212.5,4\n"


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def _convert(tmp_path: Path, source: Path, origin: str = "2022-12-13T00:01:00Z") -> Result:
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING.format(origin=origin))
    return CliRunner().invoke(main, ["convert", "quotes", str(source), "--mapping", str(mapping),
                                     "--out", str(tmp_path / "out.jsonl")])


def _one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    (line,) = result.stderr.splitlines()
    return line


def test_a_zipped_headerless_csv_converts_with_times_after_the_origin_and_prints_its_source(tmp_path: Path) -> None:
    result = _convert(tmp_path, _zip(tmp_path / "20221213_quote.zip", {"20221213_btcusdt_quote.csv": ROWS}))
    assert result.exit_code == 0, result.output
    assert "quotes source: hand-made Lean-style quotes" in result.output
    tickers = [codec.decode(Ticker, line.value, source="t") for line in read_file(tmp_path / "out.jsonl")
               if not isinstance(line, tuple)]
    # the first data line is a row (no header); each stamped at its minute bar's close (origin 00:01)
    assert [(t.ts_exchange, t.bid, t.ask, t.bid_qty, t.ask_qty) for t in tickers] == [
        (T0 + 60_000, D("17199"), D("17199.5"), D("1.5"), D("2")),
        (T0 + 120_000, D("17212"), D("17212.5"), D("0.25"), D("4")),
    ]


def test_a_zip_of_two_files_is_refused_naming_the_count(tmp_path: Path) -> None:
    source = _zip(tmp_path / "two.zip", {"a.csv": ROWS, "b.csv": ROWS})
    assert "a zip archive must hold exactly one file, it holds 2" in _one_line(_convert(tmp_path, source))


def test_a_file_that_is_no_zip_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "cut.zip"
    source.write_bytes(_zip(tmp_path / "whole.zip", {"a.csv": ROWS}).read_bytes()[:40])
    assert "not a readable zip archive" in _one_line(_convert(tmp_path, source))


def test_a_time_origin_that_does_not_read_is_refused(tmp_path: Path) -> None:
    source = _zip(tmp_path / "q.zip", {"q.csv": ROWS})
    assert "time_origin 'yesterday'" in _one_line(_convert(tmp_path, source, origin="yesterday"))
