"""A per-message time limit for the fuzzer.

Two layers, because a hang can be Python code (an endless loop: the GIL still switches)
or one long C call holding the GIL (a billion-digit `int(Decimal)`):
- a watchdog thread polls every 20 ms; when the current message has run past `limit_s`
  it sends the main thread SIGUSR1, whose handler raises `Hang` there (a BaseException, so
  no `except Exception` in a normaliser swallows it);
- the same thread keeps re-arming `faulthandler.dump_traceback_later(hard_s, exit=True)`:
  if it cannot run for `hard_s` (the GIL is held), faulthandler prints the stack and ends
  the process. The input of that message is already on disk: `begin` copies every
  message into a memory-mapped file (`current.bin`: target name, NUL, the input bytes).

Units: seconds.
"""

import faulthandler
import mmap
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

_MAP_SIZE = 16 * 1024 * 1024


class Hang(BaseException):
    """Raised in the main thread when a message exceeds the time limit."""


class Watchdog:
    """Use as a context manager around the fuzz loop; `begin`/`end` around each message."""

    def __init__(self, limit_s: float, current: Path, hard_s: float | None = 20.0) -> None:
        self.limit_s, self.hard_s = limit_s, hard_s
        self._current = current
        self._started = 0.0
        self._serial = 0
        self._signalled = -1
        self._stop = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="fuzz-watchdog", daemon=True)

    def __enter__(self) -> "Watchdog":
        self._current.parent.mkdir(parents=True, exist_ok=True)
        with open(self._current, "wb") as handle:
            handle.truncate(_MAP_SIZE)
        self._file = open(self._current, "r+b")
        self._map = mmap.mmap(self._file.fileno(), _MAP_SIZE)
        self._previous = signal.signal(signal.SIGUSR1, self._raise)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.hard_s is not None:
            faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGUSR1, self._previous)
        self._map.close()
        self._file.close()
        self._current.unlink(missing_ok=True)

    def begin(self, target: str, data: bytes) -> None:
        """Start the clock for one message and leave its input where a crash can find it."""
        record = target.encode() + b"\0" + data[: _MAP_SIZE - 64 - len(target)]
        self._map[:8] = len(record).to_bytes(8, "little")
        self._map[8:8 + len(record)] = record
        self._serial += 1
        self._started = time.perf_counter()

    def end(self) -> float:
        """Stop the clock; seconds the message took."""
        elapsed = time.perf_counter() - self._started
        self._started = 0.0
        return elapsed

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        if self._started:
            raise Hang(f"message ran past {self.limit_s} s")

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            if self.hard_s is not None:
                faulthandler.dump_traceback_later(self.hard_s, exit=True, file=sys.stderr)
            started, serial = self._started, self._serial
            if started and serial != self._signalled and time.perf_counter() - started > self.limit_s:
                self._signalled = serial
                assert self._main is not None
                signal.pthread_kill(self._main, signal.SIGUSR1)
