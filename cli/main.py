"""The `arbflow` command line (click): the root group, every command registered on it, and
the console entry point. The commands live in their own modules by topic and import only
`cli.support`, never this module. Exit codes: 0 ok, 1 runtime failure (a service
unreachable, a delivery lost), 2 usage or configuration error."""

import os
import sys

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
from arbflow.cli.trading import scan, trade


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, envvar="ARBFLOW_CONFIG",
              help="TOML configuration file (default: built-in defaults; env ARBFLOW_CONFIG). Environment "
                   "variables ARBFLOW_<SECTION>__<KEY>, KAFKA_BOOTSTRAP and REDIS_URL override it.")
@click.option("--log-level", type=click.Choice(LEVELS, case_sensitive=False), default="info", show_default=True,
              envvar=LEVEL_ENV, help=f"Lowest level of the log lines on stderr (env {LEVEL_ENV}).")
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True, envvar=FORMAT_ENV,
              help=f"text: `<UTC time> <LEVEL> <component>: <message>`; json: one object per line (env {FORMAT_ENV}). "
                   "Secrets are never written.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, log_level: str, log_format: str) -> None:
    """arbflow — spot/perp and cross-venue crypto arbitrage on Kafka and Bytewax.

    Market data flows through Kafka into Bytewax dataflows; signals land in Redis and
    Kafka. Start with `arbflow infra up`, then `arbflow replay FILE`.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    configure_logging(log_level, log_format)


for command in (infra, replay, backtest, scan, trade, rebuild_redis, scores, dashboard, record, convert, schema,
                show_config, ingest, study, simulate_margin, allocate):
    main.add_command(command)


def run() -> None:
    """The console entry point: `arbflow …` and `python -m arbflow …`."""
    main(prog_name=os.path.basename(sys.argv[0]) if not sys.argv[0].endswith("__main__.py") else "arbflow")
