"""Progress of long work: on a terminal a rich bar with the count, records/s
and the ETA; when stderr is not a terminal (logs, CI, pipes) plain lines instead — one when a
phase starts, at most one every `every_s` seconds while it runs, and one when it ends — so
a log holds no carriage returns or escape codes.

    with ProgressReport(console) as progress:
        with progress.phase("reading", total=114_606) as advance:
            for batch in batches:
                advance(len(batch))
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text


class _RateColumn(ProgressColumn):
    """`12,345 records/s` (rich's own speed column counts bytes)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} {self.unit}/s", style="progress.data.speed")


class ProgressReport:
    """Phases of work with a known total. `tty` None = ask the console; `clock` is injectable
    for tests (seconds, monotonic)."""

    def __init__(self, console: Console, *, unit: str = "records", every_s: float = 2.0, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.unit = unit
        self.every_s = every_s
        self.tty = console.is_terminal if tty is None else tty
        self.clock = clock
        self._bar: Progress | None = None

    def __enter__(self) -> "ProgressReport":
        if self.tty:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20),
                                 TextColumn("{task.completed:,.0f}/{task.total:,.0f}"), _RateColumn(self.unit),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=self.console)
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    @contextmanager
    def phase(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A phase of `total` units; yields `advance(n)`."""
        if self._bar is not None:
            bar = self._bar
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
            bar.update(task, completed=total)
            return
        started = last = self.clock()
        done = 0
        self.console.print(f"{description}: {total:,} {self.unit} to go", highlight=False, soft_wrap=True)

        def advance(n: int) -> None:
            nonlocal done, last
            done += n
            now = self.clock()
            if now - last >= self.every_s:
                last = now
                rate = done / (now - started) if now > started else 0.0
                eta = f"{(total - done) / rate:,.0f} s" if rate else "unknown"
                percent = 100 * done / total if total else 100.0
                self.console.print(f"{description}: {done:,}/{total:,} {self.unit} ({percent:.0f} %), "
                                   f"{rate:,.0f} {self.unit}/s, ETA {eta}", highlight=False, soft_wrap=True)

        yield advance
        elapsed = self.clock() - started
        rate = f", {done / elapsed:,.0f} {self.unit}/s" if elapsed > 0 else ""
        self.console.print(f"{description}: done, {done:,} {self.unit} in {elapsed:.1f} s{rate}", highlight=False,
                           soft_wrap=True)
