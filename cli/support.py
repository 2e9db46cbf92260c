"""What every `arbflow` command shares: the consoles, exiting with one clear line, loading
the configuration, and the error guard (exit codes: 1 runtime failure, 2 usage/config,
130 interrupted). Command modules import these from here, never from `cli.main`, so
`cli.main` can register them all without an import cycle."""

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from arbflow.model.config import Config
from arbflow.model.errors import ArbflowError, ConfigError

F = TypeVar("F", bound=Callable[..., Any])
# Wide enough for the summary tables when output is piped (rich assumes 80 columns then).
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)
out_console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def die(message: str, code: int) -> NoReturn:
    """Print `message` (plain text: brackets in it are not markup) as one line and exit."""
    err_console.print(f"[bold red]arbflow:[/bold red] {escape(message)}", soft_wrap=True)
    sys.exit(code)


def load(ctx: click.Context) -> Config:
    from arbflow.cli.config_file import load_config

    try:
        return load_config(ctx.obj["config_path"])
    except ConfigError as error:
        die(f"config error: {error}", 2)


def _arbflow_cause(error: BaseException) -> ArbflowError | None:
    """Our own error inside a chain of wrapping exceptions, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, ArbflowError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def guard(function: F) -> F:
    """Translate our errors into one clear line and an exit code (never a traceback)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ConfigError as error:
            die(f"config error: {error}", 2)
        except (ArbflowError, FileNotFoundError) as error:
            die(str(error), 1)
        except KeyboardInterrupt:
            die("interrupted", 130)
        except Exception as error:  # a dataflow wraps what stopped it (BytewaxRuntimeError)
            cause = _arbflow_cause(error)
            if cause is None:
                raise
            die(str(cause), 1)

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
