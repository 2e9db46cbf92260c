"""What every `arbflow` command shares: the consoles, exiting with one clear line, loading
the configuration, and the error guard (exit codes: 1 runtime failure, 2 usage/config,
130 interrupted). An error arbflow did not expect is one line naming it and the file its
traceback was written to (`<infra.state_dir>/logs/crash-<UTC time>-<pid>.log`); the root
option `--debug` prints the traceback on stderr instead. Command modules import these from
here, never from `cli.main`, so `cli.main` can register them all without an import cycle."""

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from arbflow.model.config import Config
from arbflow.model.errors import ConfigError, arbflow_cause

F = TypeVar("F", bound=Callable[..., Any])
# Wide enough for the summary tables when output is piped (rich assumes 80 columns then).
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
out_console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def die(message: str, code: int) -> NoReturn:
    """Exit with `message` as one line on stderr (secrets masked, as in every log line)."""
    from arbflow.cli.logs import redactor

    line = " ".join(str(message).split())  # one line, whatever the error's text holds
    err_console.print(f"[bold red]arbflow:[/bold red] {escape(redactor(line))}", soft_wrap=True)
    sys.exit(code)


DEBUG_ENV = "ARBFLOW_DEBUG"
_MAX_DETAIL = 300  # characters of an unexpected error's text on its one line


def debugging() -> bool:
    """Whether the root `--debug` option (or `$ARBFLOW_DEBUG`) asked for tracebacks."""
    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    if isinstance(obj, dict) and "debug" in obj:
        return bool(obj["debug"])
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _state_dir() -> Path:
    """`infra.state_dir` of the configuration in effect, or the default when it cannot load."""
    from arbflow.cli.config_file import load_config
    from arbflow.model.config import InfraConfig

    context = click.get_current_context(silent=True)
    obj = context.find_root().obj if context is not None else None
    path = obj.get("config_path") if isinstance(obj, dict) else None
    try:
        return Path(load_config(path, warn=lambda _line: None).infra.state_dir)
    except Exception:  # a config that cannot load still gets its crash log
        return Path(InfraConfig().state_dir)


def write_crash_log(error: BaseException) -> Path | None:
    """Write `error`'s traceback (secrets masked) under `<state_dir>/logs/`, else the temp
    directory; returns the file, or None when neither can be written."""
    import tempfile

    from arbflow.cli.logs import redactor

    text = redactor("".join(traceback.format_exception(error)))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    name = f"crash-{stamp}-{os.getpid()}.log"
    for directory in (_state_dir() / "logs", Path(tempfile.gettempdir()) / "arbflow-logs"):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / name
            path.write_text(f"arbflow {' '.join(sys.argv[1:])}\n{text}")
            return path.resolve()
        except OSError:
            continue
    return None


def crash(error: BaseException) -> NoReturn:
    """Exit 1 on an error arbflow did not expect: one line naming it and the log file holding
    its traceback, or (with `--debug`) the traceback itself on stderr."""
    if debugging():
        traceback.print_exception(error, file=sys.stderr)
        die(f"unexpected error: {type(error).__name__}: {error}", 1)
    path = write_crash_log(error)
    detail = " ".join(str(error).split())
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "…"
    where = f"traceback in {path}" if path is not None else "the traceback could not be written"
    die(f"unexpected error: {type(error).__name__}: {detail} ({where}; --debug prints it)", 1)


def fail(error: BaseException) -> NoReturn:
    """Exit with the line and code `error` deserves: a configuration error 2, our own errors
    (also wrapped, e.g. by a dataflow's `BytewaxRuntimeError`) and a missing file 1,
    Ctrl-C 130, anything else through `crash`."""
    if isinstance(error, KeyboardInterrupt):
        die("interrupted", 130)
    cause = arbflow_cause(error)
    if cause is None and isinstance(error, FileNotFoundError):
        if debugging():
            traceback.print_exception(error, file=sys.stderr)
        die(str(error), 1)
    if cause is None:
        crash(error)
    if debugging():
        traceback.print_exception(error, file=sys.stderr)
    if isinstance(cause, ConfigError):
        die(f"config error: {cause}", 2)
    die(str(cause), 1)


def load(ctx: click.Context) -> Config:
    from arbflow.cli.config_file import load_config
    from arbflow.cli.logs import config_secrets, redactor
    from arbflow.reports.configuration import plain

    try:
        config = load_config(ctx.obj["config_path"])
    except ConfigError as error:
        die(f"config error: {error}", 2)
    redactor.add(config_secrets(plain(config)))  # no log line shows them
    logging.getLogger("arbflow.config").debug(
        "configuration from %s: kafka %s, redis %s", ctx.obj["config_path"] or "the built-in defaults",
        config.kafka.bootstrap or "embedded", config.redis.url or "embedded")
    return config



def guard(function: F) -> F:
    """Translate every error into one clear line and an exit code (never a traceback; see
    `fail`). The root group applies the same to commands without this decorator."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except click.exceptions.ClickException:
            raise  # click prints its own usage errors (exit 2)
        except (SystemExit, GeneratorExit):
            raise
        except BaseException as error:  # a dataflow wraps what stopped it; a Rust panic is a BaseException
            fail(error)

    wrapper.__name__ = function.__name__
    wrapper.__doc__ = function.__doc__
    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def graceful_stop(announce: Callable[[str], None]) -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set the returned event (a tailing flow then drains and exits 0); a
    second SIGINT interrupts at once. The previous handlers come back on exit."""
    stop = threading.Event()

    def request(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        announce(f"{signal.Signals(signum).name}: finishing the records in hand, then stopping "
                 "(Ctrl-C again to abort)")

    previous = {sig: signal.signal(sig, request) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def recovery(config: Config, command: str, enabled: bool, kafka: Any) -> dict[str, Any]:
    """`cli_main` keyword arguments for Bytewax recovery of `command` (none when off): the
    SQLite partition is created on first use under `recovery.dir/<command>[-<topic prefix>]`.

    Snapshots hold Kafka offsets, so they belong to one broker's data. The directory records
    which broker it was (`kafka`, a `connectors.infra.services.Service`: its address and, for
    the embedded broker, the process and its start time — memory storage loses every topic
    when it restarts). A snapshot from another broker is set aside (renamed `*.stale-<time>`)
    and the command starts fresh, saying so: resuming it would read nothing, silently."""
    import json
    import time
    from datetime import timedelta
    from pathlib import Path

    import psutil
    from bytewax.recovery import RecoveryConfig, init_db_dir

    if not (enabled and config.recovery.enabled):
        return {}
    prefix = config.kafka.topic_prefix.strip(".")
    directory = Path(config.recovery.dir) / (f"{command}-{prefix}" if prefix else command)
    identity: dict[str, Any] = {"kafka": kafka.address, "origin": kafka.origin}
    if kafka.origin == "embedded" and kafka.pid:
        try:
            identity |= {"pid": kafka.pid, "started": psutil.Process(kafka.pid).create_time()}
        except psutil.Error:
            identity |= {"pid": kafka.pid}
    marker = directory / "broker.json"
    if directory.exists() and marker.exists() and json.loads(marker.read_text()) != identity:
        stale = directory.with_name(f"{directory.name}.stale-{int(time.time())}")
        directory.rename(stale)
        err_console.print(f"recovery: the snapshots in {directory} belong to another broker (its data is gone); "
                          f"set aside as {stale.name}, starting fresh")
    directory.mkdir(parents=True, exist_ok=True)
    if not any(directory.glob("part-*.sqlite3")):
        init_db_dir(directory, 1)
    marker.write_text(json.dumps(identity))
    err_console.print(f"recovery: snapshots every {config.recovery.snapshot_interval_s:g} s in {directory} "
                      "(resumes where it stopped; delete the directory to start over)")
    return {"recovery_config": RecoveryConfig(directory),
            "epoch_interval": timedelta(seconds=config.recovery.snapshot_interval_s)}


@contextlib.contextmanager
def native_stderr(command: str) -> Iterator[None]:
    """While a dataflow runs, what native code writes straight to file descriptor 2 — Bytewax's
    Rust runtime prints ≈ 140 lines of panic (`src/outputs.rs:…`) when a sink or source
    raises — goes to `<state_dir>/logs/<command>-native-<UTC time>-<pid>.log` instead of the
    terminal; Python's own stderr (log lines, the status line, the final one line) stays
    where it was. The error itself still reaches the guard, which says it in one line. An
    empty log file is removed afterwards. With `--debug`, nothing is redirected."""
    if debugging():
        yield
        return
    try:
        python_on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a test runner's in-memory stream
        python_on_fd2 = False
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    try:
        directory = _state_dir() / "logs"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{command}-native-{stamp}-{os.getpid()}.log"
        log = path.open("ab")
    except OSError:
        yield  # no place for the log: leave stderr as it is
        return
    sys.stderr.flush()
    saved = os.dup(2)
    previous = sys.stderr
    if python_on_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=previous.encoding,
                               errors=previous.errors or "backslashreplace")
    os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        if python_on_fd2:
            replaced, sys.stderr = sys.stderr, previous
            with contextlib.suppress(OSError):
                replaced.close()
        log.close()
        if path.stat().st_size == 0:
            path.unlink(missing_ok=True)
        else:
            logging.getLogger("arbflow.cli").info("the dataflow's native output is in %s", path)
