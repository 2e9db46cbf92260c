"""`make soak` / `python -m bench.soak`: replay the bundled capture through the full
pipeline (publish → Kafka → Bytewax signals and paper execution desks → Kafka + Redis,
`flows.replay.run_replay` with trade=True) in a loop for `--minutes`, and watch memory.

Starts its own Tansu broker and redis-server on free ports. Each loop uses a fresh topic
and key prefix and, once it is done, deletes the previous loop's topics and Redis keys:
Tansu keeps topics in memory, so without the deletion the broker would grow by one copy
of the capture per loop by design, and that is not what this measures. RSS is sampled
(psutil) after every loop for this process (the replay, the Bytewax flow and its
clients all run here), the broker and redis-server, reported separately.

Verdict: "memory flat" when the median RSS of this process over the last third of the loops
is < 10 % above the median over the first third (from the 2nd loop: the first warms caches
and compiled decoders); otherwise exit 1 with the figures. Medians, because one sample per
loop catches the garbage collector at any point (a 10-minute run moved between 121 and
184 MiB with no trend). Fewer than 3 loops give no verdict. Units: MiB, seconds, records/s.
"""

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from confluent_kafka.admin import AdminClient

from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.flows.replay import run_replay
from arbflow.model.config import parse_config

FIXTURE = (Path(__file__).resolve().parent.parent / "fixtures"
           / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz")
MIB = 1024 * 1024
FLAT_GROWTH = 0.10


@dataclass(frozen=True, slots=True)
class Loop:
    """One replay of the file: wall time (s), records published, RSS after it (MiB)."""

    number: int
    ended_s: float
    wall_s: float
    records: int
    rss_mib: float
    broker_mib: float
    redis_mib: float

    @property
    def rate(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


def _rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    try:
        return psutil.Process(pid).memory_info().rss / MIB
    except psutil.Error:
        return float("nan")


def _forget(bootstrap: str, redis_url: str, prefix: str) -> None:
    """Delete a finished loop's topics and Redis keys (see the module docstring)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    if mine:
        for future in admin.delete_topics(mine, operation_timeout=30).values():
            future.result(timeout=30)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
    finally:
        client.close()


def soak(bootstrap: str, redis_url: str, state_dir: Path, files: list[Path], *, minutes: float,
         broker_pid: int | None, redis_pid: int | None, max_loops: int | None = None,
         say: Callable[[str], None] = print) -> list[Loop]:
    """Replay `files` in loops until `minutes` have passed (or `max_loops`); the loops."""
    started = time.monotonic()
    own = psutil.Process()
    loops: list[Loop] = []
    previous = ""
    say(f"{'loop':>4} {'at':>7} {'wall':>7} {'records':>9} {'rec/s':>8} {'arbflow RSS':>12} {'broker RSS':>11} "
        f"{'redis RSS':>10}")
    while True:
        number = len(loops) + 1
        prefix = f"soak{number}."
        config = parse_config({"kafka": {"topic_prefix": prefix}, "redis": {"key_prefix": prefix},
                               "infra": {"state_dir": str(state_dir / "arbflow")}},
                              {"KAFKA_BOOTSTRAP": bootstrap, "REDIS_URL": redis_url})
        begun = time.monotonic()
        summary = run_replay(config, files, speed=0, trade=True)
        wall = time.monotonic() - begun
        if previous:
            _forget(bootstrap, redis_url, previous)
        previous = prefix
        loop = Loop(number=number, ended_s=time.monotonic() - started, wall_s=wall,
                    records=sum(summary.published.values()), rss_mib=own.memory_info().rss / MIB,
                    broker_mib=_rss_mib(broker_pid), redis_mib=_rss_mib(redis_pid))
        loops.append(loop)
        say(f"{loop.number:>4} {loop.ended_s / 60:>6.1f}m {loop.wall_s:>6.1f}s {loop.records:>9,} {loop.rate:>8,.0f} "
            f"{loop.rss_mib:>8.1f} MiB {loop.broker_mib:>7.1f} MiB {loop.redis_mib:>6.1f} MiB")
        if (max_loops is not None and number >= max_loops) or time.monotonic() - started >= minutes * 60:
            return loops


def verdict(loops: list[Loop]) -> tuple[bool, str]:
    """(flat, the sentence): median RSS of the last third of the loops against the first
    third, from the 2nd loop on (module docstring)."""
    if len(loops) < 3:
        return True, f"no verdict: {len(loops)} loop(s), the comparison needs at least 3"
    warm = loops[1:]
    third = max(1, len(warm) // 3)
    early, late = warm[:third], warm[-third:]
    before, after = statistics.median(x.rss_mib for x in early), statistics.median(x.rss_mib for x in late)
    growth = (after - before) / before
    b0, b1 = statistics.median(x.broker_mib for x in early), statistics.median(x.broker_mib for x in late)
    broker = (b1 - b0) / b0 if b0 else float("nan")
    figures = (f"arbflow RSS median {before:.1f} MiB over loops {early[0].number}–{early[-1].number} → "
               f"{after:.1f} MiB over loops {late[0].number}–{late[-1].number} ({growth:+.1%}); broker "
               f"{b0:.1f} → {b1:.1f} MiB ({broker:+.1%}); throughput {statistics.median(x.rate for x in early):,.0f} → "
               f"{statistics.median(x.rate for x in late):,.0f} rec/s")
    if growth < FLAT_GROWTH:
        return True, f"memory flat: {figures}"
    return False, f"memory grows ({growth:+.1%} ≥ {FLAT_GROWTH:.0%}): {figures}"


def broker_summary(loops: list[Loop]) -> str:
    """The broker's RSS over the loops: first sample, min, median, max (MiB). Tansu keeps
    every record in memory (README, "Bounding the embedded broker"); this shows its course."""
    samples = [x.broker_mib for x in loops]
    if not samples:
        return "broker RSS: no loop"
    return (f"broker RSS over {len(samples)} loops: start {samples[0]:.1f}, min {min(samples):.1f}, median "
            f"{statistics.median(samples):.1f}, max {max(samples):.1f} MiB")


def slice_lines(source: Path, lines: int, out: Path) -> Path:
    """The first `lines` lines of a (gzip) replay file, as a plain replay file."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as handle, open(out, "wb") as sink:
        for _, line in zip(range(lines), handle, strict=False):
            sink.write(line)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to loop (default 10)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="replay file (default: the bundled capture)")
    parser.add_argument("--lines", type=int, default=0, help="replay only the first N lines (default: all)")
    parser.add_argument("--max-loops", type=int, default=None, help="stop after N loops even if time is left")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="arbflow-soak-") as tmp:
        state = Path(tmp)
        files = [slice_lines(args.fixture, args.lines, state / "slice.jsonl") if args.lines else args.fixture]
        kafka_port, redis_port = process.free_port(), process.free_port()
        print(f"starting Tansu on :{kafka_port} and redis-server on :{redis_port}; soaking {args.minutes:g} min "
              f"on {files[0].name} …", flush=True)
        broker = tansu.start(state, kafka_port, timeout_s=30)
        cache = redis_server.start(state, redis_port, timeout_s=30)
        try:
            loops = soak(f"127.0.0.1:{kafka_port}", f"redis://127.0.0.1:{redis_port}/0", state, files,
                         minutes=args.minutes, broker_pid=broker.pid, redis_pid=cache.pid, max_loops=args.max_loops,
                         say=lambda line: print(line, flush=True))
        finally:
            process.stop(state, tansu.NAME, grace_s=2.0)
            process.stop(state, redis_server.NAME)
    flat, sentence = verdict(loops)
    print(sentence)
    print(broker_summary(loops))
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
