"""`make bench` (part 3): normalisation throughput of raw Binance captures (bookTicker,
trades and depth diffs with book sequencing) against a plain `orjson.loads` loop over the
same bytes, in the same run, on one core — rates are per CPU-second of this process
(`time.process_time`), so other load on the shared machine does not skew the ratio.
Input: the raw capture heads in fixtures/raw (1,500 lines each of spot and USDⓈ-M BTC),
decompressed into memory once, then passed `--repeat` times through both loops, the
normaliser with a fresh book sequencer and cold decimal/symbol caches per pass.
"""

import argparse
import lzma
import statistics
import time
from collections import Counter
from pathlib import Path

import orjson

from arbflow.connectors.captures import hftbacktest
from arbflow.connectors.venues import binance

RAW = Path(__file__).resolve().parent.parent / "fixtures" / "raw"
FILES = ("spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the input per measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements (median reported)")
    args = parser.parse_args()
    per_file = {}
    for name in FILES:
        with lzma.open(RAW / name, "rb") as handle:
            per_file[name] = handle.read().splitlines(keepends=True)
    bodies = [line.partition(b" ")[2] for lines in per_file.values() for line in lines]
    plain, normalised = [], []
    records = 0
    for _ in range(args.runs):
        started = time.process_time()
        for _ in range(args.repeat):
            for body in bodies:
                orjson.loads(body)
        plain.append(len(bodies) * args.repeat / (time.process_time() - started))
        started = time.process_time()
        for _ in range(args.repeat):
            binance.clear_caches()  # each pass starts cold: no decimal or symbol seen before
            for name in FILES:
                counts: Counter[str] = Counter()
                records += sum(1 for _ in hftbacktest.read_capture(RAW / name, counts=counts, lines=per_file[name]))
        normalised.append(len(bodies) * args.repeat / (time.process_time() - started))
    p, n = statistics.median(plain), statistics.median(normalised)
    print(f"plain orjson.loads of the raw messages   median {p:>10,.0f} msg/s "
          f"(min {min(plain):,.0f}, max {max(plain):,.0f})")
    print(f"normalised to records (incl. books)      median {n:>10,.0f} msg/s (min {min(normalised):,.0f}, "
          f"max {max(normalised):,.0f})")
    print(f"normalised / plain = {n / p:.1%}")


if __name__ == "__main__":
    main()
