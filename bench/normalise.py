"""`make bench` (part 3): normalisation throughput of raw Binance captures (bookTicker,
trades and depth diffs with book sequencing) against a plain `orjson.loads` loop over the
same bytes, in the same run, on one core. Input: the raw capture heads in fixtures/raw
(1,500 lines each of spot and USDⓈ-M BTC), read into memory and passed `--repeat` times
with a fresh book sequencer per pass.
"""

import argparse
import lzma
import statistics
import time
from collections import Counter
from pathlib import Path

import orjson

from connectors.captures import hftbacktest

RAW = Path(__file__).resolve().parent.parent / "fixtures" / "raw"
FILES = ("spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the input per measurement")
    parser.add_argument("--runs", type=int, default=3, help="measurements (median reported)")
    args = parser.parse_args()
    lines = []
    for name in FILES:
        with lzma.open(RAW / name, "rb") as handle:
            lines += handle.read().splitlines()
    bodies = [line.partition(b" ")[2] for line in lines]
    plain, normalised = [], []
    records = 0
    for _ in range(args.runs):
        started = time.perf_counter()
        for _ in range(args.repeat):
            for body in bodies:
                orjson.loads(body)
        plain.append(len(bodies) * args.repeat / (time.perf_counter() - started))
        started = time.perf_counter()
        for _ in range(args.repeat):
            for name in FILES:
                counts: Counter[str] = Counter()
                path = RAW / name
                records += sum(1 for _ in hftbacktest.read_capture(path, counts=counts))
        normalised.append(len(bodies) * args.repeat / (time.perf_counter() - started))
    p, n = statistics.median(plain), statistics.median(normalised)
    print(f"plain orjson.loads of the raw messages   median {p:>10,.0f} msg/s "
          f"(min {min(plain):,.0f}, max {max(plain):,.0f})")
    print(f"normalised to records (incl. books)      median {n:>10,.0f} msg/s (min {min(normalised):,.0f}, "
          f"max {max(normalised):,.0f}; includes xz decompression)")
    print(f"normalised / plain = {n / p:.1%}")


if __name__ == "__main__":
    main()
