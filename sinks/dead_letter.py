"""Dead letters: a `Rejected` becomes a message on `dlq.<topic>` with its reason, keyed
like the record it replaces would have been (when that could be read), and is counted —
on the `arbflow_dead_letters_total{reason}` metric always, and, in a long-running command
(`arbflow scan`, `arbflow trade`) that called `watch_rejects`, in a warning line every few
seconds while records are refused: a stream that went back in time (LATE_RECORD) is loud,
not only a metric.
"""

import logging
import threading
from collections import Counter as Counts

from prometheus_client import Counter

from arbflow.model import codec, reasons
from arbflow.model.rejected import Rejected
from arbflow.model.topics import dlq_topic

DEAD_LETTERS = Counter("arbflow_dead_letters", "Records refused and sent to a dead-letter topic, by reason.",
                       ["reason"])
_LOG = logging.getLogger("arbflow.rejects")
_HINTS = {
    reasons.LATE_RECORD: "the stream went back in time: these records are further behind the newest record of their "
                         "asset than signals.late_tolerance_ms (another replay published into this running flow? "
                         "restart it with --no-recovery before replaying older data)",
}


class RejectWatch:
    """Refused records by (reason, topic) since the last report; thread-safe (every Bytewax
    worker counts into it). `report()` takes the counts and returns the warning line, or
    None when nothing was refused."""

    def __init__(self, every_s: float) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._counts: Counts[tuple[str, str]] = Counts()

    def count(self, reason: str, topic: str) -> None:
        with self._lock:
            self._counts[(reason, topic)] += 1

    def report(self) -> str | None:
        with self._lock:
            counts, self._counts = self._counts, Counts()
        if not counts:
            return None
        by_reason: dict[str, Counts[str]] = {}
        for (reason, topic), n in counts.items():
            by_reason.setdefault(reason, Counts())[topic] += n
        ranked = sorted(by_reason.items(), key=lambda item: (-item[1].total(), item[0]))
        parts = [f"{reason} {topics.total():,} (" + ", ".join(f"{t} {n:,}" for t, n in sorted(topics.items())) + ")"
                 for reason, topics in ranked]
        hints = [f"{reason}: {_HINTS[reason]}" for reason, _ in ranked if reason in _HINTS]
        return (f"refused {counts.total():,} records in the last {self.every_s:g} s (sent to dlq.<topic>): "
                + ", ".join(parts) + "".join(f"; {hint}" for hint in hints))


_watch: RejectWatch | None = None


def watch_rejects(every_s: float = 5.0) -> RejectWatch:
    """From now on this process logs a warning (logger `arbflow.rejects`) every `every_s`
    seconds of wall time in which records were refused, with counts by reason and topic.
    Idempotent; the reporting thread is a daemon."""
    global _watch
    if _watch is None:
        watch = _watch = RejectWatch(every_s)
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(watch.every_s):
                line = watch.report()
                if line is not None:
                    _LOG.warning(line)

        threading.Thread(target=loop, name="arbflow-reject-watch", daemon=True).start()
    return _watch


def dead_letter(topic: str, rejected: Rejected, key: bytes | None = None) -> tuple[str, bytes | None, bytes]:
    """The `(topic, key, value)` output item for a rejected record of `topic`."""
    DEAD_LETTERS.labels(reason=rejected.reason).inc()
    if _watch is not None:
        _watch.count(rejected.reason, topic)
    return dlq_topic(topic), key, codec.encode(rejected)
