"""The `arbflow` command line (click). Exit codes: 0 ok, 1 runtime failure (a service
unreachable, a delivery lost), 2 usage or configuration error."""

import contextlib
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import click

from arbflow.cli.support import err_console, graceful_stop, out_console, recovery
from arbflow.cli.support import guard as _guard
from arbflow.cli.support import load as _config
from arbflow.model.config import Config


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, envvar="ARBFLOW_CONFIG",
              help="TOML configuration file (default: built-in defaults; env ARBFLOW_CONFIG). Environment "
                   "variables ARBFLOW_<SECTION>__<KEY>, KAFKA_BOOTSTRAP and REDIS_URL override it.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """arbflow — spot/perp and cross-venue crypto arbitrage on Kafka and Bytewax.

    Market data flows through Kafka into Bytewax dataflows; signals land in Redis and
    Kafka. Start with `arbflow infra up`, then `arbflow replay FILE`.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# -- infra ------------------------------------------------------------------------------


@main.group()
def infra() -> None:
    """Start, stop and inspect the embedded Kafka broker (Tansu) and redis-server.

    With KAFKA_BOOTSTRAP / REDIS_URL set, the external services are used and only
    checked. Embedded services keep pid files and logs in infra.state_dir (.arbflow).
    """


def _print_endpoints(endpoints: Any) -> None:
    for service in (endpoints.kafka, endpoints.redis):
        state = "[green]running[/green]" if service.running else "[red]not running[/red]"
        pid = f" pid {service.pid}" if service.pid else ""
        fresh = " (started now)" if service.started_now else ""
        out_console.print(f"{service.name:6} {service.origin:8} {service.address:28} {state}{pid}{fresh}")


@infra.command("up")
@click.pass_context
@_guard
def infra_up(ctx: click.Context) -> None:
    """Start what is not running yet and create every topic (idempotent)."""
    from arbflow.connectors import kafka
    from arbflow.connectors.infra import services
    from arbflow.model import topics

    config = _config(ctx)
    endpoints = services.up(config)
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    created = kafka.ensure_topics(endpoints.kafka_bootstrap, names, config.kafka.partitions,
                                  config.kafka.connect_timeout_s)
    _print_endpoints(endpoints)
    out_console.print(f"topics  {len(created)} present ({config.kafka.partitions} partitions for new ones)")


@infra.command("down")
@click.pass_context
@_guard
def infra_down(ctx: click.Context) -> None:
    """Stop the embedded services this project started (never anything else)."""
    from arbflow.connectors.infra import services

    stopped = services.down(_config(ctx))
    out_console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@infra.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
@_guard
def infra_status(ctx: click.Context, as_json: bool) -> None:
    """Show where Kafka and Redis are and whether they answer. Exit 1 if one does not."""
    from arbflow.connectors.infra import services

    endpoints = services.status(_config(ctx))
    if as_json:
        click.echo(json.dumps({s.name: {"origin": s.origin, "address": s.address, "running": s.running,
                                        "pid": s.pid} for s in (endpoints.kafka, endpoints.redis)}))
    else:
        _print_endpoints(endpoints)
    if not (endpoints.kafka.running and endpoints.redis.running):
        sys.exit(1)


# -- replay -----------------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--speed", type=click.FloatRange(min=0), default=None,
              help="0 = as fast as possible (default), N = N × the recorded pace.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Bytewax worker threads (default 1).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write summary.json and a self-contained report.html into this directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option("--no-trade", is_flag=True, help="Signals only: do not run the paper execution desks.")
@click.option("--publish-only", is_flag=True,
              help="Only publish FILES to their topics (paced by --speed) and stop: a live source for a running "
                   "`arbflow scan` or `arbflow trade`.")
@click.pass_context
@_guard
def replay(ctx: click.Context, files: tuple[Path, ...], speed: float | None, workers: int | None,
           out_dir: Path | None, as_json: bool, no_trade: bool, publish_only: bool) -> None:
    """Replay recorded FILES through Kafka and the dataflow, then summarise.

    FILES are replay files (JSON Lines, .gz allowed; format in the README). They are
    merged in event-time order and published to their topics; malformed lines go to
    dlq.replay. The basis flow then runs over exactly the published md.ticker records:
    invalid ones go to dlq.md.ticker with a reason, the basis goes to signal.basis and
    Redis. Starts the embedded services if they are not running. Publishing shows a
    progress bar (records/s, ETA) on a terminal, plain lines otherwise.
    """
    from arbflow.cli.progress import ProgressReport
    from arbflow.connectors.replay import count_lines
    from arbflow.flows.replay import run_replay

    config = _config(ctx)
    total = sum(count_lines(path) for path in files)
    if not as_json:
        err_console.print(f"replaying {len(files)} file(s), {total:,} lines …")
    with contextlib.ExitStack() as publishing:
        advance: Callable[[int], None] = lambda n: None  # noqa: E731
        if not as_json:
            report = publishing.enter_context(ProgressReport(err_console))
            advance = publishing.enter_context(report.phase("publishing", total))
        done = 0

        def progress(count: int, ts: int) -> None:
            nonlocal done
            advance(count - done)
            done = count

        def announce(line: str) -> None:
            publishing.close()  # the publishing phase ends (its figures print) before the flow starts
            err_console.print(line)

        summary = run_replay(config, list(files), speed=speed, workers=workers, progress=progress,
                             trade=not no_trade, publish_only=publish_only,
                             announce=None if as_json else announce)
    if publish_only:
        published = ", ".join(f"{topic} {count:,}" for topic, count in sorted(summary.published.items()))
        rejected = sum(summary.rejects.values())
        err_console.print(f"published {published} in {summary.publish_s:.1f} s; {rejected} lines to dlq.replay")
        return
    document = summary.as_json()
    report = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "summary.json").write_bytes(_json_bytes(document))
        _write_trading_files(out_dir, summary)
        report = _write_report(out_dir, config, files, summary, document)
    if as_json:
        sys.stdout.buffer.write(_json_bytes(document) + b"\n")
    else:
        from arbflow.reports.replay_tables import render_summary

        render_summary(summary, out_console)
        if report is not None:
            out_console.print(f"report: {report}")


def _plain(value: Any) -> Any:
    """A configuration (dataclasses, mappings) as plain JSON data."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _write_report(out_dir: Path, config: Config, files: tuple[Path, ...], summary: Any,
                  document: dict[str, Any]) -> Path:
    from arbflow.model import topics
    from arbflow.reports.html import ReportInputs, write_report

    outputs = summary.outputs
    return write_report(out_dir / "report.html", ReportInputs(
        title="arbflow replay", files=[str(f) for f in files], summary=document, config=_plain(config),
        basis=outputs.get(topics.SIGNAL_BASIS, []), latency=outputs.get(topics.SIGNAL_LATENCY, []),
        opportunities=outputs.get(topics.ARB_OPPORTUNITY, []), alerts=outputs.get(topics.RISK_ALERT, []),
        trades=summary.final_trades(), portfolio=outputs.get(topics.PORTFOLIO_STATE, []),
        funding=outputs.get(topics.MD_FUNDING, []),
        execution=bool(document.get("trading", {}).get("enabled"))))


TRADE_COLUMNS = ("trade_id", "asset", "status", "long_venue", "long_symbol", "short_venue", "short_symbol", "qty",
                 "notional", "entry_time", "entry_long_px", "entry_short_px", "entry_spread_bps", "exit_time",
                 "exit_long_px", "exit_short_px", "exit_reason", "basis_pnl", "funding_pnl", "fees", "slippage",
                 "leg_outs", "leg_out_cost", "realised_pnl", "projected_profit")


def _write_trading_files(out_dir: Path, summary: Any) -> None:
    """trades.jsonl and trades.csv (the last state of each trade; CSV money as exact decimal
    strings, times ISO-8601 UTC), orders.jsonl (every order event) and portfolio.json (each
    desk's final ledger and the totals)."""
    import csv

    from arbflow.model import codec, topics

    trades = summary.final_trades()
    (out_dir / "trades.jsonl").write_bytes(b"".join(codec.encode(t) + b"\n" for t in trades))

    def iso(ts: int | None) -> str:
        return "" if ts is None else datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat(timespec="milliseconds")

    with (out_dir / "trades.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for t in trades:
            row = {name: getattr(t, name, None) for name in TRADE_COLUMNS}
            row |= {"entry_time": iso(t.ts_entry), "exit_time": iso(t.ts_exit), "leg_outs": len(t.leg_outs)}
            writer.writerow({k: "" if v is None else str(v) for k, v in row.items()})
    orders = summary.outputs.get(topics.EXEC_ORDER, [])
    (out_dir / "orders.jsonl").write_bytes(b"".join(codec.encode(o) + b"\n" for o in orders))
    portfolio = {"totals": summary.trading_json(), "desks": [codec.loads(codec.encode(d))
                                                             for d in summary.final_portfolios()]}
    (out_dir / "portfolio.json").write_bytes(codec.dumps(portfolio))


def _json_bytes(document: dict[str, Any]) -> bytes:
    from arbflow.model import codec

    return codec.dumps(document)


# -- scan and scores -------------------------------------------------------------------


def _tailing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every long-running flow command shares (scan, trade)."""
    for option in reversed((
        click.option("--from-beginning", is_flag=True,
                     help="Process the retained md.* history first instead of new data."),
        click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                     help="Bytewax worker threads."),
        click.option("--metrics-port", type=click.IntRange(0, 65535), default=9400, show_default=True,
                     help="Serve Prometheus metrics on this port (0 = off)."),
        click.option("--no-recovery", is_flag=True, help="Do not snapshot state or resume from a previous run."),
        click.option("--process-id", "process_id", type=click.IntRange(0, 1023), default=None,
                     help="Cluster: this process's index in --addresses (one process per host)."),
        click.option("--addresses", default=None, metavar="HOST:PORT;HOST:PORT…",
                     help="Cluster: every process's address, the same list on each host (Bytewax cluster "
                          "execution)."),
    )):
        command = option(command)
    return command


def _tailing_setup(config: Config, metrics_port: int) -> tuple[Any, dict[str, int]]:
    """Services answering, every topic present, metrics served: (endpoints, partition counts)."""
    from prometheus_client import start_http_server

    from arbflow.connectors import kafka
    from arbflow.connectors.infra import services
    from arbflow.model import topics

    endpoints = services.require(config)
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(endpoints.kafka_bootstrap, names, config.kafka.partitions,
                                     config.kafka.connect_timeout_s)
    if metrics_port:
        start_http_server(metrics_port)
        err_console.print(f"metrics on http://0.0.0.0:{metrics_port}/metrics")
    return endpoints, partitions


@main.command()
@_tailing_options
@click.pass_context
@_guard
def scan(ctx: click.Context, from_beginning: bool, workers: int, metrics_port: int, no_recovery: bool,
         process_id: int | None, addresses: str | None) -> None:
    """Run the signal dataflow on the live md.* topics until Ctrl-C.

    Publishes basis (signal.basis), venue latency (signal.latency), every scanned
    opportunity with its verdict (arb.opportunity) and alerts (risk.alert) to Kafka, and
    the opportunity feed and latest values to Redis (keys in the README).
    """
    from bytewax.run import cli_main

    from arbflow.flows.signal_flow import build_signal_flow

    config = _config(ctx)
    endpoints, partitions = _tailing_setup(config, metrics_port)
    err_console.print(f"scanning md.* on {endpoints.kafka_bootstrap} → Redis {endpoints.redis_url} (Ctrl-C to stop)")
    with graceful_stop(err_console.print) as stop:
        cli_main(build_signal_flow(config, endpoints.kafka_bootstrap, endpoints.redis_url,
                                   start="beginning" if from_beginning else "end", partitions=partitions, stop=stop),
                 workers_per_process=workers, **recovery(config, "scan", not no_recovery, endpoints.kafka),
                 **_cluster(process_id, addresses))
    err_console.print("stopped")


@main.command()
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
@_tailing_options
@click.pass_context
@_guard
def trade(ctx: click.Context, mode: str, live_venues: str | None, confirm_live: bool,
          endpoints_override: tuple[str, ...], from_beginning: bool, workers: int, metrics_port: int,
          no_recovery: bool, process_id: int | None, addresses: str | None) -> None:
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

    config = _config(ctx)
    gateway = _live_gateway(config, live_venues, confirm_live, endpoints_override) if mode == "live" else None
    if gateway is not None and process_id:  # one gateway per cluster: process 0 places every order
        gateway = None
    endpoints, partitions = _tailing_setup(config, metrics_port)
    with graceful_stop(err_console.print) as stop:
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
            err_console.print(f"paper trading md.* on {endpoints.kafka_bootstrap} → Redis {endpoints.redis_url} "
                              "(Ctrl-C to stop)")
        try:
            cli_main(build_signal_flow(config, endpoints.kafka_bootstrap, endpoints.redis_url,
                                       start="beginning" if from_beginning else "end", partitions=partitions,
                                       trade=True, mode=cast(TradeMode, mode), stop=stop),
                     workers_per_process=workers, **recovery(config, f"trade-{mode}", not no_recovery, endpoints.kafka),
                     **_cluster(process_id, addresses))
        finally:
            stop.set()
            if worker is not None:
                worker.join()
    err_console.print("stopped")


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


def _live_gateway(config: Config, live_venues: str | None, confirm: bool,
                  overrides: tuple[str, ...]) -> Callable[..., Any]:
    """Check everything live mode needs before anything starts (venues, keys, confirmation);
    return a starter for the gateway thread."""
    from arbflow.flows.live_gateway import start_gateway
    from arbflow.sinks.gateway.credentials import CCXT, credentials

    if not live_venues:
        raise click.UsageError("--mode live needs --venues (the venues to trade for real)")
    venues = [v.strip() for v in live_venues.split(",") if v.strip()]
    unknown = [v for v in venues if v not in CCXT]
    if unknown:
        raise click.UsageError(f"no live gateway for {', '.join(unknown)}; available: {', '.join(CCXT)}")
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


@main.command("rebuild-redis")
@click.pass_context
@_guard
def rebuild_redis(ctx: click.Context) -> None:
    """Rewrite Redis's latest values from the Kafka topics (after Redis restarted empty).

    Reads signal.basis, signal.latency, arb.opportunity, exec.trade and portfolio.state from
    the beginning and writes what the flows keep in Redis (keys in the README) — only where
    Redis holds nothing newer, so it is safe while `scan` or `trade` run. The opportunity
    stream and the 60 s snapshots are not replayed.
    """
    from arbflow.connectors import kafka
    from arbflow.connectors.infra import services
    from arbflow.model import codec, topics
    from arbflow.sinks.redis_client import connect
    from arbflow.sinks.redis_feed import rebuild

    config = _config(ctx)
    endpoints = services.require(config)
    client = connect(endpoints.redis_url, config.redis.connect_timeout_s)

    def records() -> Any:
        for logical in (topics.SIGNAL_BASIS, topics.SIGNAL_LATENCY, topics.ARB_OPPORTUNITY, topics.EXEC_TRADE,
                        topics.PORTFOLIO_STATE):
            name, cls = kafka.topic_name(config, logical), topics.record_type(logical)
            messages = kafka.read_topic(endpoints.kafka_bootstrap, name, timeout_s=config.kafka.connect_timeout_s)
            for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
                yield codec.decode(cls, message.value, source=name)

    try:
        written, skipped = rebuild(client, config.redis.key_prefix, records())
    finally:
        client.close()
    err_console.print(f"rewrote Redis from Kafka: {written:,} records applied (newer values kept)"
                      + (f"; {skipped:,} messages could not be decoded and were skipped" if skipped else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output (the agent tool get_market_scores).")
@click.option("--asset", default=None, help="Only this base asset, e.g. BTC.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="At most this many accepted opportunities.")
@click.pass_context
@_guard
def scores(ctx: click.Context, as_json: bool, asset: str | None, limit: int) -> None:
    """The latest scored opportunities, basis and venue latency from Redis."""
    from arbflow.connectors.infra import services
    from arbflow.sinks.redis_client import connect
    from arbflow.sinks.redis_feed import read_scores

    config = _config(ctx)
    endpoints = services.require(config)
    client = connect(endpoints.redis_url, config.redis.connect_timeout_s)
    try:
        document = read_scores(client, config.redis.key_prefix, asset=asset, limit=limit)
    finally:
        client.close()
    if as_json:
        sys.stdout.buffer.write(_json_bytes(document) + b"\n")
        return
    for o in document["opportunities"]:
        spread, profit = float(o["entry_spread_bps"]), float(o["projected_profit"])
        out_console.print(f"{o['score']:>3}  {o['asset']:5} long {o['long_venue']} {o['long_symbol']:16} "
                          f"short {o['short_venue']} {o['short_symbol']:16} spread {spread:7.2f} bps  "
                          f"profit {profit:9.2f}")
    if not document["opportunities"]:
        out_console.print("no accepted opportunity right now")


@main.command()
@click.option("--refresh", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts).")
@click.pass_context
@_guard
def dashboard(ctx: click.Context, refresh: float, once: bool) -> None:
    """The state of everything in the terminal: portfolio, top opportunities, venue
    latency and staleness, basis. Reads Redis; works over SSH; Ctrl-C to leave."""
    from arbflow.cli.dashboard import run
    from arbflow.connectors.infra import services

    config = _config(ctx)
    endpoints = services.status(config)
    run(config, endpoints.redis.address if endpoints.redis.running else (config.redis.url or "redis://127.0.0.1:1/0"),
        refresh_s=refresh, once=once, console=out_console)


# -- record -----------------------------------------------------------------------------


@main.command()
@click.option("--topics", "patterns", default="md.*", show_default=True,
              help="Comma-separated logical topics to record; a trailing * matches a prefix (md.*).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained message instead of now.")
@click.option("--idle-exit", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds without a message (default: run until Ctrl-C).")
@click.option("--max-records", type=click.IntRange(min=1), default=None, help="Stop after this many records.")
@click.option("--reorder-ms", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Event-time window used to put interleaved partitions back in order.")
@click.pass_context
@_guard
def record(ctx: click.Context, patterns: str, out: Path, from_beginning: bool, idle_exit: float | None,
           max_records: int | None, reorder_ms: int) -> None:
    """Record Kafka topics into a replay file that `arbflow replay` plays back.

    Records are validated like any consumer validates them: invalid ones are kept as
    dlq.<topic> lines. Ctrl-C (or SIGTERM) stops cleanly and closes the file.
    """
    import signal
    import threading

    from arbflow.connectors import recorder
    from arbflow.connectors.infra import services
    from arbflow.model.validation import Universe

    config = _config(ctx)
    try:
        logical = recorder.expand_topics([p.strip() for p in patterns.split(",") if p.strip()])
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--topics") from None
    endpoints = services.require(config)
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    err_console.print(f"recording {', '.join(logical)} from {endpoints.kafka_bootstrap} into {out} "
                      "(Ctrl-C to stop) …")
    counts = recorder.record(endpoints.kafka_bootstrap, logical, out, prefix=config.kafka.topic_prefix,
                             universe=Universe.from_config(config),
                             start="beginning" if from_beginning else "end", idle_exit_s=idle_exit,
                             max_records=max_records, reorder_ms=reorder_ms, stop=stop,
                             connect_timeout_s=config.kafka.connect_timeout_s)
    for key, count in sorted(counts.items()):
        out_console.print(f"{key:20} {count:>10,}")
    out_console.print(f"wrote {out}")


# -- convert ----------------------------------------------------------------------------


def _parse_time(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time, e.g. 2024-08-08T23:55:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@main.group()
def convert() -> None:
    """Convert recorded raw exchange captures into replay files."""


@convert.command("hftbacktest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@click.option("--streams", default="bookTicker,trade,depth", show_default=True,
              help="Comma-separated streams to convert: bookTicker (→ md.ticker), trade (→ md.trade), "
                   "depth (snapshot + diffs → md.book, top --depth levels).")
@click.option("--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Levels per side in each md.book record.")
@click.option("--since", default=None, help="Keep messages received at or after this UTC time (ISO-8601).")
@click.option("--until", default=None, help="Keep messages received before this UTC time (ISO-8601).")
@_guard
def convert_hftbacktest(files: tuple[Path, ...], out: Path, streams: str, depth: int, since: str | None,
                        until: str | None) -> None:
    """Captures in the hftbacktest format (`<ns> <json>` lines, .xz/.gz) → one replay
    file merged by receive time. Binance spot_*, usdm_* (USDⓈ-M) and cm_*_perp_* (COIN-M,
    quantities converted from contracts to coins) files, and hyperliquid_* files.
    Books are rebuilt from the REST snapshot and the diffs with Binance's sequence rules;
    gaps and crossed books are counted (book:gaps, book:crossed) and never published."""
    from arbflow.connectors.captures import hftbacktest

    wanted = tuple(s.strip() for s in streams.split(",") if s.strip())
    unknown = [s for s in wanted if s not in hftbacktest.STREAMS]
    if unknown:
        raise click.BadParameter(f"unknown stream(s) {', '.join(unknown)}; allowed: {', '.join(hftbacktest.STREAMS)}")
    try:
        counts = hftbacktest.convert(list(files), out, streams=wanted, since_ms=_parse_time(since) or 0,
                                     until_ms=_parse_time(until), depth=depth)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(counts.items()):
        out_console.print(f"{kind:20} {count:>10,}")
    out_console.print(f"wrote {out}")


@convert.command("cryptofeed")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@click.option("--streams", default="ticker,trade,book,funding,oi", show_default=True,
              help="Comma-separated kinds to convert: ticker, trade, book, funding, oi.")
@click.option("--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Levels per side in each md.book record.")
@_guard
def convert_cryptofeed(files: tuple[Path, ...], out: Path, streams: str, depth: int) -> None:
    """cryptofeed raw websocket captures (`<NAME>.ws.N.0[.xz]`) → one replay file merged
    by receive time. OKX (books with CRC32 checksums), Bybit v2, Gate spot and futures
    (incl. funding and open interest from the contract list), KuCoin, Bitget v1 and
    Binance spot / USDⓈ-M / COIN-M. The sibling REST files (`<NAME>.0`, `.http.*`)
    next to each capture provide snapshots and contract sizes. Book gaps, checksum
    failures and crossed books are counted and never published."""
    from arbflow.connectors.captures import cryptofeed

    wanted = tuple(s.strip() for s in streams.split(",") if s.strip())
    try:
        counts = cryptofeed.convert(list(files), out, streams=wanted, depth=depth)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(counts.items()):
        out_console.print(f"{kind:28} {count:>10,}")
    out_console.print(f"wrote {out}")


@convert.command("funding")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@click.pass_context
@_guard
def convert_funding(ctx: click.Context, files: tuple[Path, ...], out: Path) -> None:
    """Funding and 8h-candle histories (fixtures/funding/: aha-hh 8h bars with funding,
    Binance website funding exports, the supervik 7-venue funding history; the format is
    recognised from the header) → md.funding and md.candle in one replay file.

    No look-ahead: a rate settled at T is published at T as the estimate for the next
    settlement; a bar is published when it closes. Intervals come from the previous
    settlement (1, 2, 4 or 8 h), else the venue's configured interval (counted).
    """
    from arbflow.connectors.captures import funding_history

    config = _config(ctx)
    try:
        counts = funding_history.convert(list(files), out, venues=config.venues)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(counts.items()):
        out_console.print(f"{kind:28} {count:>10,}")
    out_console.print(f"wrote {out}")


# -- schema and config -------------------------------------------------------------------


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write one <topic>.schema.json per topic here instead of printing them.")
def schema(out_dir: Path | None) -> None:
    """JSON Schema of every topic's records (generated from model/)."""
    from arbflow.model.schema import topic_schemas

    schemas = topic_schemas()
    if out_dir is None:
        click.echo(json.dumps(schemas, indent=2, ensure_ascii=False))
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    for topic, document in schemas.items():
        (out_dir / f"{topic.replace('<topic>', 'TOPIC')}.schema.json").write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    click.echo(f"wrote {len(schemas)} schemas to {out_dir}")


@main.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the effective configuration (defaults ← file ← environment) as JSON."""
    from arbflow.model import codec

    config = _config(ctx)
    sys.stdout.buffer.write(codec.dumps(_plain(config)) + b"\n")


# Commands defined in their own modules (they import helpers from here, so they come last).
from arbflow.cli.ingest import ingest  # noqa: E402
from arbflow.cli.risk import allocate, simulate_margin  # noqa: E402
from arbflow.cli.study import study  # noqa: E402

for command in (ingest, study, simulate_margin, allocate):
    main.add_command(command)


def run() -> None:
    """The console entry point: `arbflow …` and `python -m arbflow …`."""
    main(prog_name=os.path.basename(sys.argv[0]) if not sys.argv[0].endswith("__main__.py") else "arbflow")
