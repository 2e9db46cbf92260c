"""The status line of `arbflow scan` and `arbflow trade`: every `--status-every` seconds of wall
time (default 10) one log line on the `arbflow.status` logger, read from the process's own
Prometheus metrics (sinks/metrics.py; the flow itself prints nothing — operators are pure):

    trade: 1,204 records/s (96,310 in all), lag 0.4 s; rejects none; entries denied none;
    open trades 2, margin health 0.93; stale venues none

- records/s: md.* messages decoded in the window (`arbflow_stage_events_total{stage="decode"}`);
- lag: wall clock minus the newest record's receipt time (`arbflow_stream_time_ms`); for a
  replay of old data, how old that data is;
- rejects: dead letters in the window by reason (LATE_RECORD, MISSING_FIELD, …);
- entries denied (trade): accepted opportunities the desks refused in the window, by reason;
- open trades and margin health (trade): the portfolio gauges; stale venues: latency above
  200 ms; gateway down (live): venues whose lane is not trading.

The line is WARNING when a record was refused, a venue is stale or down, INFO otherwise.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import REGISTRY

log = logging.getLogger("arbflow.status")
Samples = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True, slots=True)
class Reading:
    """The figures of one moment: cumulative counts, and gauges as they stand."""

    decoded: float = 0.0
    rejects: Mapping[str, float] = field(default_factory=dict)
    denied: Mapping[str, float] = field(default_factory=dict)
    stream_time_ms: float | None = None
    open_trades: float | None = None
    margin_health: float | None = None
    stale: tuple[str, ...] = ()
    down: tuple[str, ...] = ()


def registry_samples(registry: Any = REGISTRY) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `registry`: (name, sorted labels) → value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for metric in registry.collect()
            for s in metric.samples}


def reading(samples: Samples) -> Reading:
    """The figures the status line needs, from registry samples."""
    def by(name: str, label: str) -> dict[str, float]:
        return {dict(labels)[label]: value for (n, labels), value in samples.items()
                if n == name and label in dict(labels)}

    def one(name: str) -> float | None:
        value = samples.get((name, ()))
        return None if value is None or value != value else value  # NaN: nothing to show

    stream_time = one("arbflow_stream_time_ms")
    reported = bool(one("arbflow_portfolio_updates_total"))  # before that the portfolio gauges read 0
    return Reading(decoded=by("arbflow_stage_events_total", "stage").get("decode", 0.0),
                   rejects=by("arbflow_dead_letters_total", "reason"),
                   denied=by("arbflow_entries_denied_total", "reason"),
                   stream_time_ms=stream_time or None,
                   open_trades=one("arbflow_portfolio_open_positions") if reported else None,
                   margin_health=one("arbflow_portfolio_margin_health") if reported else None,
                   stale=tuple(sorted(v for v, x in by("arbflow_venue_stale", "venue").items() if x)),
                   down=tuple(sorted(v for v, x in by("arbflow_venue_up", "venue").items() if not x)))


def _by_reason(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, int]:
    grown = {reason: int(value - before.get(reason, 0.0)) for reason, value in after.items()}
    return {reason: count for reason, count in sorted(grown.items(), key=lambda kv: (-kv[1], kv[0])) if count > 0}


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in counts.items()) or "none"


def format_lag(seconds: float) -> str:
    """`0.4 s`, `3 min 20 s`, `5 h 12 min`, `812 d 3 h`."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, hours, days = int(seconds // 60), int(seconds // 3600), int(seconds // 86_400)
    if seconds < 7_200:
        return f"{minutes} min {int(seconds) % 60} s"
    if seconds < 172_800:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def status_line(command: str, before: Reading, after: Reading, elapsed_s: float, now_ms: float,
                trading: bool) -> tuple[int, str]:
    """(log level, text) of one window: `before` and `after` read `elapsed_s` apart, `now_ms`
    the wall clock (ms UTC)."""
    rate = (after.decoded - before.decoded) / elapsed_s if elapsed_s > 0 else 0.0
    lag = "no record yet" if after.stream_time_ms is None else \
        f"lag {format_lag(max(0.0, now_ms - after.stream_time_ms) / 1000)}"
    rejects = _by_reason(before.rejects, after.rejects)
    parts = [f"{command}: {rate:,.0f} records/s ({after.decoded:,.0f} in all), {lag}", f"rejects {_counts(rejects)}"]
    if trading:
        health = "–" if after.margin_health is None else f"{after.margin_health:.2f}"
        open_trades = "–" if after.open_trades is None else f"{after.open_trades:,.0f}"
        parts += [f"entries denied {_counts(_by_reason(before.denied, after.denied))}",
                  f"open trades {open_trades}, margin health {health}"]
    parts.append(f"stale venues {', '.join(after.stale) or 'none'}")
    if after.down:
        parts.append(f"gateway down {', '.join(after.down)}")
    loud = bool(rejects or after.stale or after.down)
    return (logging.WARNING if loud else logging.INFO), "; ".join(parts)


class StatusReporter:
    """A daemon thread logging `status_line` every `every_s` seconds until `stop()` (which
    logs the last window). `read`, `clock` (monotonic s) and `wall` (epoch s) are injectable."""

    def __init__(self, command: str, every_s: float, *, trading: bool,
                 read: Callable[[], Reading] = lambda: reading(registry_samples()),
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.command, self.every_s, self.trading = command, every_s, trading
        self.read, self.clock, self.wall = read, clock, wall
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arbflow-status", daemon=True)
        self._before, self._since = Reading(), 0.0

    def start(self) -> "StatusReporter":
        self._before, self._since = self.read(), self.clock()
        self._thread.start()
        return self

    def report(self) -> None:
        """Log the window since the last report and start the next one."""
        after, now = self.read(), self.clock()
        level, text = status_line(self.command, self._before, after, now - self._since, self.wall() * 1000,
                                  self.trading)
        log.log(level, text)
        self._before, self._since = after, now

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.report()
            except Exception:  # a status line is never worth stopping the reports (or the flow) for
                log.exception("status line failed")

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self.report()
