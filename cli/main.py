"""The `arbflow` command line (click): the root group, every command registered on it, and
the console entry point. The commands live in their own modules by topic and import only
`cli.support`, never this module. Exit codes: 0 ok, 1 runtime failure (a service
unreachable, a delivery lost, an unexpected error: one line naming the log file that holds
its traceback; `--debug` prints it instead), 2 usage or configuration error, 130
interrupted."""

import os
import sys
from typing import Any

import click

from arbflow.cli.backtest import backtest
from arbflow.cli.convert import convert
from arbflow.cli.describe import schema, show_config
from arbflow.cli.feed import dashboard, rebuild_redis, scores
from arbflow.cli.infra import infra
from arbflow.cli.ingest import ingest
from arbflow.cli.logs import FORMAT_ENV, FORMATS, LEVEL_ENV, LEVELS
from arbflow.cli.logs import configure as configure_logging
from arbflow.cli.record import record
from arbflow.cli.replay import replay
from arbflow.cli.risk import allocate, simulate_margin
from arbflow.cli.study import study
from arbflow.cli.support import DEBUG_ENV, die, fail
from arbflow.cli.trading import scan, trade


class _NeverRaised(click.exceptions.UsageError):
    """Stands in for click's `NoArgsIsHelpError` where click has none."""


_NO_ARGS: type[click.exceptions.UsageError] = getattr(click.exceptions, "NoArgsIsHelpError", _NeverRaised)


class _Root(click.Group):
    """The root group: whatever a command raises past its own handling ends as one line and
    an exit code (`cli.support.fail`), never a traceback; a usage error (a bad option or
    argument, click's own) is one line too, naming the `--help` to read, exit 2."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            returned = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS as error:  # a group run bare: its help, as click prints it
            error.show()
            sys.exit(error.exit_code)
        except click.exceptions.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
            die(f"{error.format_message()}{where}", error.exit_code)
        except click.exceptions.ClickException as error:
            die(error.format_message(), error.exit_code)
        except click.exceptions.Abort:
            die("aborted", 1)
        sys.exit(returned if type(returned) is int else 0)  # an int only from ctx.exit(code): commands return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit,
                GeneratorExit):
            raise
        except BaseException as error:  # also pyo3's PanicException (a Rust panic), not an Exception
            fail(error)


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, envvar="ARBFLOW_CONFIG",
              help="TOML configuration file (default: built-in defaults; env ARBFLOW_CONFIG). Environment "
                   "variables ARBFLOW_<SECTION>__<KEY>, KAFKA_BOOTSTRAP and REDIS_URL override it.")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default="info", show_default=True,
              envvar=LEVEL_ENV, help=f"Lowest level of the log lines on stderr (env {LEVEL_ENV}).")
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True, envvar=FORMAT_ENV,
              help=f"text: `<UTC time> <LEVEL> <component>: <message>`; json: one object per line (env {FORMAT_ENV}). "
                   "Secrets are never written.")
@click.option("--debug", is_flag=True, envvar=DEBUG_ENV,
              help=f"Print the traceback of an unexpected error on stderr (default: one line naming the log file "
                   f"under <state_dir>/logs/ that holds it; env {DEBUG_ENV}).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str, log_format: str, debug: bool) -> None:
    """arbflow — spot/perp and cross-venue crypto arbitrage on Kafka and Bytewax.

    Market data flows through Kafka into Bytewax dataflows; signals land in Redis and
    Kafka. Start with `arbflow infra up`, then `arbflow replay FILE`.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["debug"] = debug
    configure_logging(log_level, log_format)


for command in (infra, replay, backtest, scan, trade, rebuild_redis, scores, dashboard, record, convert, schema,
                show_config, ingest, study, simulate_margin, allocate):
    main.add_command(command)


def run() -> None:
    """The console entry point: `arbflow …` and `python -m arbflow …`."""
    main(prog_name=os.path.basename(sys.argv[0]) if not sys.argv[0].endswith("__main__.py") else "arbflow")
