"""Starting, finding and stopping a background service process we own.

A service we start writes `<state_dir>/<name>.pid` and logs to `<state_dir>/<name>.log`.
We stop only a process whose pid file we wrote *and* whose executable is the one we
started, so a recycled pid never kills somebody else's program.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from arbflow.model.errors import ServiceUnavailable

# Children started by this process, kept so they are reaped (and Popen does not warn)
# when we stop them; a CLI that exits leaves them running, re-parented to init.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnedProcess:
    """A service process started by arbflow: its pid and the executable it runs."""

    name: str
    pid: int
    executable: str
    port: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout_s: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout_s):
        return True
    return False


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def read_owned(state_dir: Path, name: str) -> OwnedProcess | None:
    """The live process recorded in our pid file, or None (stale files are removed)."""
    path = _pid_file(state_dir, name)
    try:
        pid_text, executable, port_text = path.read_text().split("\n")[:3]
        pid, port = int(pid_text), int(port_text)
    except (OSError, ValueError):
        return None
    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE and process.exe() == executable
    except (psutil.Error, OSError):
        alive = False
    if not alive:
        path.unlink(missing_ok=True)
        return None
    return OwnedProcess(name=name, pid=pid, executable=executable, port=port)


def start(state_dir: Path, name: str, argv: list[str], port: int) -> OwnedProcess:
    """Start `argv` detached from our session, logging to `<name>.log`; record its pid."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log = open(state_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    except OSError as error:
        raise ServiceUnavailable(f"cannot start {name} ({argv[0]}): {error}") from error
    finally:
        log.close()
    _CHILDREN[child.pid] = child
    executable = psutil.Process(child.pid).exe()
    _pid_file(state_dir, name).write_text(f"{child.pid}\n{executable}\n{port}\n")
    return OwnedProcess(name=name, pid=child.pid, executable=executable, port=port)


def wait_until(ready: Callable[[], bool], *, timeout_s: float, what: str, owned: OwnedProcess | None = None,
               log: Path | None = None) -> None:
    """Poll `ready` until it is true; fail clearly when the deadline passes or the child dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        if owned is not None and not psutil.pid_exists(owned.pid):
            break
        time.sleep(0.05)
    tail = ""
    if log is not None and log.exists():
        tail = " — last log lines: " + " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    raise ServiceUnavailable(f"{what} did not become ready within {timeout_s:g} s{tail}")


def stop(state_dir: Path, name: str, timeout_s: float = 10.0, grace_s: float | None = None) -> bool:
    """Stop our process `name`: SIGTERM, then SIGKILL after `grace_s` (default
    `timeout_s`); False when none of ours runs."""
    owned = read_owned(state_dir, name)
    if owned is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(owned.pid, signal.SIGTERM)
    with contextlib.suppress(psutil.Error):
        try:
            psutil.Process(owned.pid).wait(timeout=timeout_s if grace_s is None else grace_s)
        except psutil.TimeoutExpired:
            os.kill(owned.pid, signal.SIGKILL)
            psutil.Process(owned.pid).wait(timeout=timeout_s)
    child = _CHILDREN.pop(owned.pid, None)
    if child is not None:
        child.wait(timeout=timeout_s)
    _pid_file(state_dir, name).unlink(missing_ok=True)
    return True
