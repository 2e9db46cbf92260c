"""`arbflow scan` and `arbflow trade`: the signal dataflow, and with it the execution desks
(paper, or live through the venue gateway), on the live md.* topics until Ctrl-C; the
options they share and the Bytewax cluster arguments."""

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any, cast

import click

from arbflow.cli.logs import redactor
from arbflow.cli.serving import metrics_options, serve_metrics
from arbflow.cli.support import err_console, graceful_stop, guard, load, native_stderr, recovery
from arbflow.model.config import Config
from arbflow.model.errors import ClusterLost, arbflow_cause


def _tailing_options(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options every long-running flow command shares (scan, trade); `name` picks the
    default metrics port."""
    return lambda command: metrics_options(name)(_shared_options(command))


def _shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--from-beginning", is_flag=True,
                     help="Process the retained md.* history first instead of new data."),
        click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                     help="Bytewax worker threads."),
        click.option("--status-every", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     help="Seconds of wall time between status lines on stderr (records/s, lag, rejects by reason, "
                          "open trades, health; logger arbflow.status)."),
        click.option("--no-recovery", is_flag=True, help="Do not snapshot state or resume from a previous run."),
        click.option("--process-id", "process_id", type=click.IntRange(0, 1023), default=None,
                     help="Cluster: this process's index in --addresses (one process per host)."),
        click.option("--addresses", default=None, metavar="HOST:PORT;HOST:PORT…",
                     help="Cluster: every process's address, the same list on each host (Bytewax cluster "
                          "execution)."),
    )):
        command = option(command)
    return command


def _tailing_setup(config: Config, metrics_host: str | None, metrics_port: int, from_beginning: bool,
                   trade: bool) -> tuple[Any, dict[str, int], Any]:
    """Metrics served (first: a busy port exits 2 before anything else), services answering,
    every topic present, refused records reported every 5 s (a warning line by reason):
    (endpoints, partition counts, where to start). Without `from_beginning` the start is the
    end of every input partition *now* (`kafka.end_offsets`), before the command says it
    runs: whatever is published after that line is read, nothing before it (a snapshot to
    resume from wins)."""
    from arbflow.connectors import kafka
    from arbflow.connectors.infra import services
    from arbflow.flows.signal_flow import input_topics
    from arbflow.model import topics
    from arbflow.sinks.dead_letter import watch_rejects

    serve_metrics(config, metrics_host, metrics_port)
    endpoints = services.require(config)
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(endpoints.kafka_bootstrap, names, config.kafka.partitions,
                                     config.kafka.connect_timeout_s, config.kafka.client)
    watch_rejects()
    start: Any = "beginning"
    if not from_beginning:
        start = kafka.end_offsets(endpoints.kafka_bootstrap, [(t, p) for t in input_topics(config, trade=trade)
                                                              for p in range(partitions[t])],
                                  config.kafka.connect_timeout_s, config.kafka.client)
    return endpoints, partitions, start


@click.command()
@_tailing_options("scan")
@click.pass_context
@guard
def scan(ctx: click.Context, from_beginning: bool, workers: int, metrics_port: int, metrics_host: str | None,
         status_every: float, no_recovery: bool, process_id: int | None, addresses: str | None) -> None:
    """Run the signal dataflow on the live md.* topics until Ctrl-C.

    Publishes basis (signal.basis), venue latency (signal.latency), every scanned
    opportunity with its verdict (arb.opportunity) and alerts (risk.alert) to Kafka, and
    the opportunity feed and latest values to Redis (keys in the README).
    """
    from bytewax.run import cli_main

    from arbflow.flows.signal_flow import build_signal_flow

    config = load(ctx)
    cluster = _cluster(process_id, addresses)
    endpoints, partitions, start = _tailing_setup(config, metrics_host, metrics_port, from_beginning, trade=False)
    err_console.print(f"scanning md.* on {endpoints.kafka_bootstrap} → Redis {redactor(endpoints.redis_url)}, "
                      f"{'from the beginning' if from_beginning else 'reading what is published from now on'}"
                      " (Ctrl-C to stop)")
    with (graceful_stop(err_console.print) as stop, _status("scan", status_every, trading=False),
          _alerts_out(config) as on_alert, native_stderr("scan"), peers_lost(cluster)):
        cli_main(build_signal_flow(config, endpoints.kafka_bootstrap, endpoints.redis_url,
                                   start=start, partitions=partitions, stop=stop, on_alert=on_alert),
                 workers_per_process=workers, **recovery(config, "scan", not no_recovery, endpoints.kafka),
                 **cluster)
    err_console.print("stopped")


@click.command()
@click.option("--mode", type=click.Choice(["paper", "live"]), default="paper", show_default=True,
              help="paper: the venue is simulated in process (queue-position fills); live: real orders.")
@click.option("--venues", "live_venues", default=None,
              help="live: the venues to trade for real, e.g. binance,okx (keys from ARBFLOW_<VENUE>_API_KEY / "
                   "_SECRET / _PASSWORD or their *_FILE variants). Orders for other venues are refused.")
@click.option("--confirm-live", is_flag=True,
              help="live: confirm that real orders with real money may be sent (asked interactively otherwise).")
@click.option("--endpoint", "endpoints_override", multiple=True, metavar="VENUE.PATH=URL",
              help="live: point a ccxt URL elsewhere (a testnet or a local stub), e.g. "
                   "binance.api.fapiPrivate=https://testnet.binancefuture.com/fapi/v1. Repeatable.")
@_tailing_options("trade")
@click.pass_context
@guard
def trade(ctx: click.Context, mode: str, live_venues: str | None, confirm_live: bool,
          endpoints_override: tuple[str, ...], from_beginning: bool, workers: int, metrics_port: int,
          metrics_host: str | None, status_every: float, no_recovery: bool, process_id: int | None,
          addresses: str | None) -> None:
    """Trade the live md.* topics until Ctrl-C: signals plus the execution desks.

    Everything `arbflow scan` publishes, and each asset's desk turns accepted
    opportunities into two-leg trades (docs/execution.md): orders and fills on exec.*,
    the ledger on portfolio.state, trades and portfolio state in Redis (what `arbflow
    dashboard` shows). clock.tick moves stream time on a quiet book. Feed it with
    `arbflow ingest`, or with recorded data: `arbflow replay FILE --publish-only --speed 10`.

    Live mode also runs the venue gateway: exec.order → ccxt → exec.venue, reconciled with
    each venue at start, under the [execution] caps (per-order and per-venue notional,
    orders per second with a reserve for exits). Nothing is sent twice, across restarts too.
    """
    from bytewax.run import cli_main
    from rich.markup import escape

    from arbflow.flows.signal_flow import TradeMode, build_signal_flow

    config = load(ctx)
    cluster = _cluster(process_id, addresses)
    gateway = _live_gateway(config, live_venues, confirm_live, endpoints_override) if mode == "live" else None
    if gateway is not None and process_id:  # one gateway per cluster: process 0 places every order
        gateway = None
    endpoints, partitions, start = _tailing_setup(config, metrics_host, metrics_port, from_beginning, trade=True)
    with (graceful_stop(err_console.print) as stop, _status("trade", status_every, trading=True),
          _alerts_out(config) as on_alert):
        worker = None
        if gateway is not None:
            worker = gateway(endpoints.kafka_bootstrap, partitions, stop)
            down = worker.down()
            up = sorted(set(worker.venues) - set(down))
            err_console.print(f"LIVE trading on {', '.join(up) or 'no venue yet'}: gateway reconciled")
            for venue, cause in sorted(down.items()):  # its lane retries; its orders are refused meanwhile
                err_console.print(f"[red]{venue} DOWN[/red]: {escape(cause)}; its orders are rejected VENUE_DOWN "
                                  "until it reconciles again (retrying)")
        elif mode == "live":
            err_console.print(f"LIVE trading (cluster process {process_id}; the gateway runs in process 0)")
        else:
            err_console.print(f"paper trading md.* on {endpoints.kafka_bootstrap} → Redis "
                              f"{redactor(endpoints.redis_url)}, "
                              f"{'from the beginning' if from_beginning else 'reading what is published from now on'}"
                              " (Ctrl-C to stop)")
        try:
            with native_stderr(f"trade-{mode}"), peers_lost(cluster):
                cli_main(build_signal_flow(config, endpoints.kafka_bootstrap, endpoints.redis_url,
                                           start=start, partitions=partitions, trade=True,
                                           mode=cast(TradeMode, mode), stop=stop, on_alert=on_alert),
                         workers_per_process=workers,
                         **recovery(config, f"trade-{mode}", not no_recovery, endpoints.kafka),
                         **cluster)
        finally:
            stop.set()
            if worker is not None:
                worker.join()
    err_console.print("stopped")


@contextlib.contextmanager
def _status(command: str, every_s: float, *, trading: bool) -> Iterator[None]:
    """The periodic status line (cli/status.py) while the flow runs, and a last one when it stops."""
    from arbflow.cli.status import StatusReporter

    reporter = StatusReporter(command, every_s, trading=trading).start()
    try:
        yield
    finally:
        reporter.stop()


_ALERT_DRAIN_S = 10.0  # at stop, queued alerts get this long to go out


@contextlib.contextmanager
def _alerts_out(config: Config) -> Iterator[Callable[[Any], None] | None]:
    """The alert notifier (`[alerts]`, sinks/alert_notify.py) while the flow runs: its
    secrets registered with the log redactor, one line naming the destinations (kinds
    only), drained and stopped when the flow ends. None when no destination is set."""
    from arbflow.sinks.alert_notify import AlertNotifier, destinations, secrets_of

    dests = destinations(config.alerts)  # an unreadable secret file: ConfigError, exit 2
    if not dests:
        yield None
        return
    redactor.add(secrets_of(dests))
    notifier = AlertNotifier(config.alerts, dests).start()
    err_console.print(f"alerts ({config.alerts.min_severity} and above, once per episode) to "
                      f"{', '.join(d.kind for d in dests)}")
    try:
        yield notifier.notify
    finally:
        log = logging.getLogger("arbflow.alert_notify")
        if not notifier.close(wait_s=_ALERT_DRAIN_S):
            log.warning("alerts: stopped with messages still queued or in flight (gave up after %.0f s)",
                        _ALERT_DRAIN_S)
        log.info(
            "alerts: %d sent, %d suppressed (severity or same episode), %d failed, %d dropped (queue full)",
            notifier.sent, notifier.suppressed, notifier.failed, notifier.dropped)


def _cluster(process_id: int | None, addresses: str | None) -> dict[str, Any]:
    """Bytewax cluster arguments: all processes run the same command with the same
    `--addresses` and their own `--process-id`; Kafka partitions are spread over all workers."""
    if (process_id is None) != (addresses is None):
        raise click.UsageError("--process-id and --addresses go together")
    if addresses is None:
        return {}
    listed = [a.strip() for a in addresses.split(";") if a.strip()]
    if process_id is not None and process_id >= len(listed):
        raise click.UsageError(f"--process-id {process_id} is not an index of the {len(listed)} --addresses")
    return {"process_id": process_id, "addresses": listed}


@contextlib.contextmanager
def peers_lost(cluster: dict[str, Any]) -> Iterator[None]:
    """In a cluster, what Bytewax raises when a peer process stops or cannot be reached — a
    Rust panic ("Send thread panic"), pyo3's `PanicException`, a BaseException that is not
    an Exception — as `ClusterLost`: one line naming this process, exit 1, instead of a
    traceback. Anything else (and any panic outside a cluster) passes unchanged."""
    try:
        yield
    except BaseException as error:
        if not cluster or type(error).__name__ != "PanicException" or arbflow_cause(error) is not None:
            raise
        detail = " ".join(str(error).split())
        raise ClusterLost(f"process {cluster['process_id']} of the Bytewax cluster lost its peers ({detail}): "
                          "one stopped or cannot be reached, and every process stops with it; start them all "
                          "again (with recovery on, each resumes from its snapshots)") from error


def _live_gateway(config: Config, live_venues: str | None, confirm: bool,
                  overrides: tuple[str, ...]) -> Callable[..., Any]:
    """Check everything live mode needs before anything starts (venues, keys, confirmation);
    return a starter for the gateway thread."""
    from arbflow.flows.live_gateway import start_gateway
    from arbflow.sinks.gateway.credentials import credentials
    from arbflow.sinks.gateway.venues import PROFILES

    if not live_venues:
        raise click.UsageError("--mode live needs --venues (the venues to trade for real)")
    venues = [v.strip() for v in live_venues.split(",") if v.strip()]
    unknown = [v for v in venues if v not in PROFILES]
    if unknown:
        raise click.UsageError(f"no live gateway for {', '.join(unknown)}; available: {', '.join(PROFILES)}")
    urls: dict[str, dict[str, str]] = {v: {} for v in venues}
    for item in overrides:
        target, _, url = item.partition("=")
        venue, _, path = target.partition(".")
        if not url or not path or venue not in urls:
            raise click.UsageError(f"--endpoint {item!r}: expected VENUE.PATH=URL for one of {', '.join(venues)}")
        urls[venue][path] = url
    keys = {v: credentials(v) for v in venues}  # a missing key is a config error (exit 2), named
    if not confirm:
        if not sys.stdin.isatty():
            raise click.UsageError("--mode live sends real orders: pass --confirm-live (no terminal to ask on)")
        answer = click.prompt(f"Real orders on {', '.join(venues)} with real money. Type LIVE to continue",
                              default="", show_default=False)
        if answer.strip() != "LIVE":
            raise click.UsageError("live trading not confirmed")
    return lambda bootstrap, partitions, stop: start_gateway(config, bootstrap, keys, urls, partitions, stop)
