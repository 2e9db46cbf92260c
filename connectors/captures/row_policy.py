"""The one bad-row policy of every file reader (`arbflow convert`, `arbflow study`, and the
replay reader's `--strict`): a row that cannot become a valid record is a dead letter — a
`Rejected` with `file:line` as its source, the reason code, a one-line detail and the raw text —
and the rest of the file is processed; the counts by reason are kept for the summary. `strict`
turns the first bad row into `BadRow` (the commands exit 2 on it).

A reader gets a `RowPolicy` and calls `refuse` for each bad row; the policy also carries the
plausibility limits the readers apply (`model.plausibility`) and collects the `Damage` of
compressed files that break before their end (`connectors.compressed`).

`DeadLetterFile` writes the dead letters as JSON Lines (the `Rejected` record as the codec writes
it, one per line), opened on the first one, so a clean run leaves no file.
"""

import io
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from arbflow.connectors.compressed import Damage, DamagedFile
from arbflow.model import codec
from arbflow.model.config import PlausibilityConfig
from arbflow.model.rejected import Rejected


class RowError(ValueError):
    """A row a reader cannot turn into a valid record: `reason` (a `model.reasons` code) and
    the detail. Raised inside a reader and handed to its `RowPolicy` with the row's place."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class BadRow(ValueError):
    """The first bad row under `strict`: `rejected` names its file:line, reason and raw text."""

    def __init__(self, rejected: Rejected) -> None:
        super().__init__(f"{rejected.source}: {rejected.reason}: {rejected.detail}")
        self.rejected = rejected


@dataclass(slots=True)
class RowPolicy:
    """How a reader treats bad rows, and what it met. `strict` (the library default): the
    first bad row raises `BadRow`; otherwise it goes to `sink` (if any) and is counted."""

    strict: bool = True
    plausibility: PlausibilityConfig = field(default_factory=PlausibilityConfig)
    sink: Callable[[Rejected], None] | None = None
    counts: Counter[str] = field(default_factory=Counter)  # reason → rows refused
    first: list[Rejected] = field(default_factory=list)  # the first few, for the summary
    damage: list[Damage] = field(default_factory=list)

    def refuse(self, reason: str, detail: str, *, source: str, raw: bytes | str, ts: int | None = None) -> None:
        """One bad row: stop (strict) or dead-letter it and go on."""
        rejected = codec.reject(reason, detail, source=source, raw=raw, ts=ts)
        if self.strict:
            raise BadRow(rejected)
        self.counts[reason] += 1
        if len(self.first) < FIRST_KEPT:
            self.first.append(rejected)
        if self.sink is not None:
            self.sink(rejected)

    @property
    def refused(self) -> int:
        """Rows refused so far."""
        return sum(self.counts.values())

    def raise_damage(self) -> None:
        """After the readable part was used: `DamagedFile` if a file broke before its end."""
        if self.damage:
            raise DamagedFile(self.damage)


FIRST_KEPT = 5


class DeadLetterFile:
    """Dead letters as JSON Lines at `path`, created on the first one (a context manager). The
    file holds this run's dead letters only: one left by an earlier run is removed at the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: IO[bytes] | None = None
        path.unlink(missing_ok=True)

    def write(self, rejected: Rejected) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = io.BufferedWriter(open(self.path, "wb"))  # noqa: SIM115 - closed in close()
        self._handle.write(codec.encode(rejected) + b"\n")
        self.count += 1

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def __enter__(self) -> "DeadLetterFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dead_letter_path(out: Path) -> Path:
    """Where a conversion to `out` puts its dead letters: `out` without its compression and
    `.jsonl`/`.json`/`.csv` suffix, plus `.rejected.jsonl` (`btc.jsonl.gz` → `btc.rejected.jsonl`;
    `backtest FILE` without --out: `bars_utc.csv.gz` → `bars_utc.rejected.jsonl` next to FILE)."""
    name = out.name
    for suffix in (".gz", ".xz", ".zst", ".csv", ".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return out.with_name(f"{name}.rejected.jsonl")
