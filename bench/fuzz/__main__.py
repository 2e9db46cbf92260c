"""`make fuzz` / `python -m bench.fuzz`: property-based and mutation fuzzing of the codec
(parse_record, every topic) and of every normaliser (venue feeds, Hyperliquid, the Redis
compatibility tickers, the hftbacktest and cryptofeed capture converters).

Deterministic from `--seed`. For each target: `--count` messages (default 100,000), each
under a per-message time limit (`--limit-s`, default 1 s; slower than `--slow-ms` counts
as slow). Prints a progress line per target and a final table; exits 1 if any message
crashed (raised anything but the normaliser's documented reject) or hung, after printing
the first reproducers, saved under `--out` (default out/fuzz/) as the exact input bytes.
"""

import argparse
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.fuzz.targets import RESET_EVERY, Target, all_targets
from bench.fuzz.watchdog import Hang, Watchdog

SAVED_PER_TARGET = 5


@dataclass
class Tally:
    """What one target did with its messages. Times in seconds."""

    name: str
    messages: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: int = 0
    hangs: int = 0
    slow: int = 0
    unconfirmed: int = 0  # past the limit once, under it when run again (counted as slow too)
    elapsed_s: float = 0.0
    reproducers: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def rejected(self) -> Counter[str]:
        return Counter({k.removeprefix("rejected:"): v for k, v in self.outcomes.items() if k.startswith("rejected:")})


def _save(out: Path, tally: Tally, kind: str, index: int, data: bytes, detail: str) -> None:
    if len(tally.reproducers) >= SAVED_PER_TARGET:
        return
    path = out / f"{tally.name.replace(':', '_').replace('.', '_')}-{kind}-{index}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(detail)
    tally.reproducers.append((path, detail))


def _confirmed(target: Target, data: bytes, dog: Watchdog) -> bool:
    """Run an input that ran past the limit once more: a hang only if it does so again (a
    shared machine's pauses — another process, a full garbage collection — are not)."""
    dog.begin(target.name, data)
    try:
        target.run(data)
    except Hang:
        dog.end()
        return True
    except Exception:  # the first run already judged the outcome; only the time matters here
        pass
    return dog.end() > dog.limit_s


def fuzz(target: Target, count: int, seed: int, dog: Watchdog, out: Path, slow_s: float,
         progress_s: float = 10.0) -> Tally:
    """Run `count` generated messages through `target`; the tally of what happened."""
    import random

    rng = random.Random(f"{seed}:{target.name}")
    tally = Tally(target.name)
    last_progress = time.monotonic()
    for index in range(count):
        if index and index % RESET_EVERY == 0:
            target.reset()
        data = target.make(rng)
        dog.begin(target.name, data)
        hung = False
        try:
            tally.outcomes[target.run(data)] += 1
        except Hang:
            hung = True
        except Exception as error:
            tally.crashes += 1
            _save(out, tally, "crash", index, data, "".join(traceback.format_exception(error)))
        finally:
            took = dog.end()
        if (hung or took > dog.limit_s) and _confirmed(target, data, dog):  # the signal may be swallowed
            tally.hangs += 1
            _save(out, tally, "hang", index, data, f"took {took:.2f} s, and again on a second run (limit "
                                                   f"{dog.limit_s} s)")
        elif hung or took > dog.limit_s:
            tally.unconfirmed += 1
        tally.elapsed_s += took
        tally.messages += 1
        if took > slow_s:
            tally.slow += 1
        if time.monotonic() - last_progress > progress_s:
            last_progress = time.monotonic()
            print(f"  {target.name}: {index + 1:,}/{count:,}  crashes {tally.crashes}  hangs {tally.hangs}",
                  flush=True)
    return tally


def table(tallies: list[Tally]) -> str:
    head = (f"{'normaliser':26} {'messages':>9} {'accepted':>9} {'skipped':>8} {'rejected':>9}  "
            f"{'crashes':>7} {'hangs':>5} {'slow':>5} {'elapsed':>8} {'msg/s':>8}  top reject reasons")
    lines = ["(elapsed and msg/s: time inside the normaliser; generating the messages is not counted)",
             head, "-" * len(head)]
    for t in tallies:
        rejected = t.rejected
        top = ", ".join(f"{reason} {n:,}" for reason, n in rejected.most_common(3))
        rate = t.messages / t.elapsed_s if t.elapsed_s else 0.0
        lines.append(f"{t.name:26} {t.messages:>9,} {t.outcomes['accepted']:>9,} {t.outcomes['skipped']:>8,} "
                     f"{sum(rejected.values()):>9,}  {t.crashes:>7} {t.hangs:>5} {t.slow:>5} "
                     f"{t.elapsed_s:>7.1f}s {rate:>8,.0f}  {top}")
    return "\n".join(lines)


def run(count: int, seed: int, *, out: Path, limit_s: float = 1.0, slow_ms: float = 50.0, only: str = "",
        seeds_per_type: int = 200, hard_s: float | None = 20.0) -> list[Tally]:
    """Fuzz every target (or those whose name contains `only`); the tallies."""
    print(f"fuzz: seed {seed}, {count:,} messages per target, limit {limit_s} s, reproducers in {out}/",
          flush=True)
    started = time.monotonic()
    targets = all_targets(seeds_per_type, seed, only)
    print(f"  {len(targets)} targets ready in {time.monotonic() - started:.1f} s", flush=True)
    tallies = []
    with Watchdog(limit_s, out / "current.bin", hard_s=hard_s) as dog:
        for target in targets:
            tally = fuzz(target, count, seed, dog, out, slow_ms / 1000)
            print(f"  {tally.name}: {tally.messages:,} messages in {tally.elapsed_s:.1f} s, "
                  f"{tally.crashes} crashes, {tally.hangs} hangs", flush=True)
            tallies.append(tally)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="messages per target (default 100,000)")
    parser.add_argument("--seed", type=int, default=1, help="everything is deterministic from it (default 1)")
    parser.add_argument("--only", default="", help="run the targets whose name contains this")
    parser.add_argument("--limit-s", type=float, default=1.0, help="per-message time limit (default 1 s)")
    parser.add_argument("--slow-ms", type=float, default=50.0, help="count messages slower than this (default 50)")
    parser.add_argument("--out", type=Path, default=Path("out/fuzz"), help="reproducers go here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    tallies = run(args.count, args.seed, out=args.out, limit_s=args.limit_s, slow_ms=args.slow_ms, only=args.only)
    print(f"\nwall time {time.monotonic() - started:,.0f} s (generation and mutation included)\n")
    print(table(tallies))
    unconfirmed = sum(t.unconfirmed for t in tallies)
    if unconfirmed:
        print(f"{unconfirmed} message(s) ran past {args.limit_s} s once but not when run again: counted as slow")
    failed = [t for t in tallies if t.crashes or t.hangs]
    if not failed:
        print(f"\nno crash, no hang in {sum(t.messages for t in tallies):,} messages")
        return 0
    print(f"\n{sum(t.crashes for t in failed)} crashes, {sum(t.hangs for t in failed)} hangs; first reproducers:")
    shown = 0
    for tally in failed:
        for path, detail in tally.reproducers[:2]:
            data = path.read_bytes()
            print(f"\n[{tally.name}] {path}  ({len(data):,} bytes)\n  input: {data[:300]!r}"
                  f"{' …' if len(data) > 300 else ''}\n  {detail.strip().splitlines()[-1]}")
            shown += 1
        if shown >= 8:
            break
    return 1


if __name__ == "__main__":
    sys.exit(main())
