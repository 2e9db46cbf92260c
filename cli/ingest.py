"""`arbflow ingest`: live market data from exchanges (ccxt.pro) into the md.* topics.

Wiring only: `connectors.feeds` does the work (docs/ingest.md). Exit codes as every
arbflow command: 0 ok; 1 a runtime failure (Kafka unreachable or a delivery lost, a
venue's markets not loading, a stream stopped by a non-retryable venue error); 2 a usage
error — an unknown venue, stream or symbol, with the closest matches.
"""

import asyncio
import contextlib
import difflib
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.table import Table
from rich.text import Text

from arbflow.cli.logs import redactor
from arbflow.cli.serving import metrics_options, serve_metrics
from arbflow.cli.support import die as _die
from arbflow.cli.support import err_console, out_console
from arbflow.cli.support import guard as _guard
from arbflow.cli.support import load as _config
from arbflow.connectors.feeds.compat_tickers import COMPAT_VENUES
from arbflow.connectors.feeds.spec import LIVE_VENUES

STREAM_NAMES = ("ticker", "book", "trade", "funding", "oi", "liquidation")
DEFAULT_STREAMS = ("ticker", "book", "trade", "funding")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _choose(kind: str, wanted: list[str], allowed: tuple[str, ...]) -> list[str]:
    for item in wanted:
        if item not in allowed:
            close = difflib.get_close_matches(item, allowed, n=3, cutoff=0.5)
            hint = f"; closest: {', '.join(close)}" if close else ""
            _die(f"unknown {kind} {item!r}{hint} (allowed: {', '.join(allowed)})", 2)
    return list(dict.fromkeys(wanted))


def _endpoints(path: Path | None) -> dict[str, dict[str, str]]:
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        _die(f"--endpoints {path}: {error}", 2)
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        _die(f"--endpoints {path}: expected {{venue: {{ccxt url path: url}}}}", 2)
    return document


@contextlib.contextmanager
def _stop_on_signals(duration: float | None) -> Iterator[asyncio.Event]:
    """An event set by SIGINT/SIGTERM (or after `duration` seconds) on the running loop;
    the handlers are removed again on exit."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    try:
        yield stop
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)


def _status_table(feeds: list[Any], emitter: Any, guard: Any = None) -> Table:
    broker = ""
    if guard is not None and guard.last_mib is not None:
        broker = f" — embedded broker {guard.last_mib:,.0f} of {guard.cap_mib:,} MiB (infra.broker_max_mib)"
    table = Table(title=f"ingest at {time.strftime('%H:%M:%S')} — published {sum(emitter.counts.values()):,}{broker}",
                  title_justify="left")
    for column in ("venue", "stream", "updates", "last update", "state"):
        table.add_column(column, justify="right" if column in ("updates", "last update") else "left")
    now = time.monotonic()
    for feed in feeds:
        for stream, state in feed.status.streams.items():
            age = "never" if state.last_monotonic is None else f"{now - state.last_monotonic:.1f} s ago"
            if state.failed:
                verdict = f"[red]stopped: {state.failed}[/red]"
            elif stream not in ("funding", "oi", "liquidation") and feed.status.stale:
                verdict = "[yellow]stale[/yellow]"
            elif state.messages:
                verdict = "[green]flowing[/green]"
            else:
                verdict = "waiting"
            if state.reconnects:
                verdict += f" ({state.reconnects} reconnects)"
            if state.resyncs:
                verdict += f" ({state.resyncs} resyncs)"
            if state.fallbacks:
                verdict += f" ({state.fallbacks} REST fallbacks)"
            if state.watch_failed:
                verdict += f" [yellow](stream stopped, REST only: {state.watch_failed})[/yellow]"
            table.add_row(feed.venue, stream, f"{state.messages:,}", age, verdict)
    return table


@click.command()
@click.option("--venues", default=None,
              help=f"Comma-separated venues, any of {', '.join(LIVE_VENUES)} (required); with --from-redis any of "
                   f"{', '.join(COMPAT_VENUES)} (default: all of them).")
@click.option("--symbols", default=None,
              help="Comma-separated base assets (BTC → the venue's USDT spot and USDT linear perp; USDC perp on "
                   "Hyperliquid) or ccxt symbols (BTC/USDT:USDT); required. With --from-redis: base assets to keep "
                   "(default: universe.assets).")
@click.option("--from-redis", "from_redis", is_flag=False, flag_value="", default=None, metavar="[REDIS_URL]",
              help="Compatibility source: instead of the exchanges, poll the ticker keys the earlier collectors "
                   "write to Redis (binance:linear:tickers:{symbol}, okx:swap:tickers:{symbol}, …) into md.ticker. "
                   "Without a URL: the configured REDIS_URL (or the embedded redis-server). Uses --venues, "
                   "--symbols, --stale-after, --duration, --status-every, --poll, --discover-every, --key-prefix.")
@click.option("--poll", "poll_s", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              help="With --from-redis: seconds between reads of every tracked key (one pipelined GET/HGETALL).")
@click.option("--discover-every", "discover_s", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="With --from-redis: seconds between SCANs for new or removed keys.")
@click.option("--key-prefix", default="", show_default=False,
              help="With --from-redis: a prefix in front of every collector key (default: none).")
@click.option("--streams", default=",".join(DEFAULT_STREAMS), show_default=True,
              help="Comma-separated streams: ticker (md.ticker), book (md.book), trade (md.trade), "
                   "funding (md.funding, REST polling), oi (md.oi, REST polling of perps' open interest), "
                   "liquidation (md.liquidation, perps' liquidation prints where ccxt.pro offers them).")
@click.option("--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Levels per side in each md.book record.")
@click.option("--stale-after", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds without an update after which a venue is stale (alert on risk.alert, reconnect); "
                   "with --from-redis, a key whose value has not changed for this long (shown in the status).")
@click.option("--funding-poll", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds between REST funding polls; a perp whose websocket funding stream (OKX, KuCoin) "
                   "updated within this period is skipped.")
@click.option("--oi-poll", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds between open-interest polls (with --streams …,oi).")
@metrics_options("ingest")
@click.option("--duration", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds (default: run until Ctrl-C or SIGTERM).")
@click.option("--status-every", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds between status tables on stderr.")
@click.option("--endpoints", "endpoints_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON file {venue: {ccxt url path: url}} replacing exchange endpoints (testnets, proxies, "
                   "the stub servers of the tests), e.g. {\"okx\": {\"api.ws\": \"ws://127.0.0.1:8765/ws/v5\"}}.")
@click.pass_context
@_guard
def ingest(ctx: click.Context, venues: str | None, symbols: str | None, from_redis: str | None, poll_s: float,
           discover_s: float, key_prefix: str, streams: str, depth: int, stale_after: float,
           funding_poll: float, oi_poll: float, metrics_port: int, metrics_host: str | None, duration: float | None,
           status_every: float, endpoints_file: Path | None) -> None:
    """Stream normalised tickers, books, trades and funding from exchanges into Kafka.

    Prints every few seconds, per venue and stream, what is flowing and what is stale.
    Reconnects with exponential backoff; a venue silent for --stale-after seconds is
    flagged on risk.alert and reconnected. Invalid payloads go to dlq.<topic>. Ctrl-C
    (or SIGTERM) stops cleanly after flushing Kafka.

    With --from-redis [REDIS_URL]: read the tickers existing collectors keep in Redis
    (the legacy collectors' {venue}:{market}:tickers:{symbol} keys, JSON strings or hashes) into
    md.ticker instead — changed values only, malformed ones to dlq.md.ticker, a status
    line per venue with records and stale keys (docs/ingest.md, "Compatibility source").
    """
    config = _config(ctx)
    if from_redis is not None:
        ccxt_only = [f"--{name.replace('_', '-')}" for name in ("streams", "depth", "funding_poll", "oi_poll",
                                                                 "metrics_port", "metrics_host", "endpoints_file")
                     if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if ccxt_only:
            _die(f"{', '.join(o.replace('-file', '') for o in ccxt_only)} cannot be used with --from-redis", 2)
        _from_redis(config, from_redis, venues, symbols, poll_s=poll_s, discover_s=discover_s,
                    key_prefix=key_prefix, stale_after=stale_after, duration=duration, status_every=status_every)
        return
    if venues is None or symbols is None:
        _die(f"missing option {'--venues' if venues is None else '--symbols'} (or use --from-redis)", 2)
    chosen = _choose("venue", _split(venues), LIVE_VENUES)
    wanted = _split(symbols)
    if not wanted:
        _die("--symbols: name at least one asset", 2)
    stream_list = _choose("stream", _split(streams), STREAM_NAMES)
    asyncio.run(_ingest(config, chosen, wanted, stream_list, depth=depth, stale_after=stale_after,
                        funding_poll=funding_poll, oi_poll=oi_poll, metrics_host=metrics_host,
                        metrics_port=metrics_port, duration=duration, status_every=status_every,
                        endpoints=_endpoints(endpoints_file)))


async def _ingest(config: Any, venues: list[str], wanted: list[str], streams: list[str], *, depth: int,
                  stale_after: float, funding_poll: float, oi_poll: float, metrics_host: str | None, metrics_port: int,
                  duration: float | None, status_every: float, endpoints: dict[str, dict[str, str]]) -> None:
    from arbflow.connectors.feeds.metrics import FeedMetrics

    metrics = FeedMetrics()
    server = serve_metrics(config, metrics_host, metrics_port, metrics.registry)  # a busy port: exit 2 at once
    try:
        await _run_feeds(config, venues, wanted, streams, metrics, depth=depth, stale_after=stale_after,
                         funding_poll=funding_poll, oi_poll=oi_poll, duration=duration, status_every=status_every,
                         endpoints=endpoints)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()


async def _run_feeds(config: Any, venues: list[str], wanted: list[str], streams: list[str], metrics: Any, *,
                     depth: int, stale_after: float, funding_poll: float, oi_poll: float, duration: float | None,
                     status_every: float, endpoints: dict[str, dict[str, str]]) -> None:
    from arbflow.connectors.feeds import runner
    from arbflow.connectors.feeds.exchange import UnknownSymbol
    from arbflow.connectors.feeds.settings import FeedSettings
    from arbflow.connectors.infra import services
    from arbflow.model.errors import ServiceUnavailable

    try:
        prepared = await runner.prepare(venues, wanted, endpoints=endpoints)
    except UnknownSymbol as error:
        _die(str(error), 2)
    feeds: list[Any] = []
    try:
        outside = sorted({m.key for p in prepared for m in p.markets} - set(config.universe.assets))
        if outside:
            _die(f"{', '.join(outside)} not in universe.assets ({', '.join(config.universe.assets)}): its records "
                 "would be refused as UNKNOWN_SYMBOL; add it to the configuration", 2)
        kafka = services.status(config).kafka
        if not kafka.running:
            raise ServiceUnavailable(f"Kafka is not reachable ({kafka.origin} {kafka.address}); "
                                     "run `arbflow infra up` or set KAFKA_BOOTSTRAP")
        producer = runner.kafka_producer(config, kafka.address)
        emitter = runner.KafkaEmitter(producer, config.kafka.topic_prefix)
        guard = _broker_guard(config, kafka)
        check = _checks(emitter.check, guard.check if guard is not None else None)
        settings = FeedSettings(streams=tuple(streams), depth=depth, stale_after_s=stale_after,
                                funding_poll_s=funding_poll, oi_poll_s=oi_poll)
        feeds = runner.build_feeds(prepared, config, settings, emit=emitter, clock=runner.wall_clock_ms,
                                   metrics=metrics)
    except BaseException:
        await asyncio.gather(*(p.exchange.close() for p in prepared), return_exceptions=True)
        raise
    for p in prepared:
        err_console.print(f"{p.venue}: {', '.join(m.symbol for m in p.markets)} ({', '.join(streams)})")
    try:
        with _stop_on_signals(duration) as stop:
            await runner.run(feeds, emitter, stop=stop, check=check, status_every_s=status_every,
                             status=lambda: err_console.print(_status_table(feeds, emitter, guard)))
    finally:
        producer.flush()
    err_console.print(_status_table(feeds, emitter, guard))
    for topic, count in sorted(emitter.counts.items()):
        out_console.print(f"{topic:20} {count:>10,}")
    failed = [f"{f.venue} {s}: {st.failed}" for f in feeds for s, st in f.status.streams.items() if st.failed]
    if failed:
        _die(f"streams stopped: {'; '.join(failed)}", 1)


def _broker_guard(config: Any, kafka: Any) -> Any:
    """The memory cap on the embedded broker (connectors/infra/broker_guard.py), announced
    once; None for an external Kafka, or when `infra.broker_max_mib` is 0."""
    from arbflow.connectors.infra.broker_guard import BrokerGuard

    cap = config.infra.broker_max_mib
    if kafka.origin != "embedded" or kafka.pid is None or cap == 0:
        return None
    err_console.print(f"the embedded broker keeps every record in memory: this ingest stops once it holds more "
                      f"than {cap:,} MiB (infra.broker_max_mib)")
    return BrokerGuard(kafka.pid, cap)


def _checks(*checks: Callable[[], None] | None) -> Callable[[], None]:
    """One check calling each given one in turn."""
    present = [c for c in checks if c is not None]

    def check() -> None:
        for call in present:
            call()

    return check


def _from_redis(config: Any, url: str, venues: str | None, symbols: str | None, *, poll_s: float,
                discover_s: float, key_prefix: str, stale_after: float, duration: float | None,
                status_every: float) -> None:
    from arbflow.connectors.feeds import compat_tickers, redis_compat, runner
    from arbflow.connectors.infra import services
    from arbflow.model.errors import ServiceUnavailable
    from arbflow.model.validation import Universe

    chosen = _choose("venue", _split(venues), compat_tickers.COMPAT_VENUES) if venues else \
        list(compat_tickers.COMPAT_VENUES)
    assets = [s.split("/", 1)[0].upper() for s in _split(symbols or "")]
    outside = sorted(set(assets) - set(config.universe.assets))
    if outside:
        _die(f"{', '.join(outside)} not in universe.assets ({', '.join(config.universe.assets)}): its records "
             "would be refused as UNKNOWN_SYMBOL; add it to the configuration", 2)
    endpoints = services.status(config)
    if not url:
        if not endpoints.redis.running:
            raise ServiceUnavailable(f"Redis is not reachable ({endpoints.redis.origin} {endpoints.redis.address}); "
                                     "run `arbflow infra up`, set REDIS_URL or pass --from-redis REDIS_URL")
        url = endpoints.redis.address
    if not endpoints.kafka.running:
        raise ServiceUnavailable(f"Kafka is not reachable ({endpoints.kafka.origin} {endpoints.kafka.address}); "
                                 "run `arbflow infra up` or set KAFKA_BOOTSTRAP")
    client = redis_compat.connect(url, config.redis.connect_timeout_s)
    producer = runner.kafka_producer(config, endpoints.kafka.address)
    emitter = redis_compat.TimestampedEmitter(producer, config.kafka.topic_prefix)
    settings = redis_compat.CompatSettings(poll_s=poll_s, discover_s=discover_s, stale_after_s=stale_after,
                                           key_prefix=key_prefix)
    source = redis_compat.RedisTickerSource(client, venues=chosen, assets=assets, universe=Universe.from_config(config),
                                            emit=emitter, settings=settings)
    err_console.print(f"from redis {redactor(url)}: {', '.join(chosen)} "
                      f"({', '.join(sorted(source.assets))}), poll every {poll_s:g} s")

    async def main() -> None:
        with _stop_on_signals(duration) as stop:
            await source.run(stop, check=emitter.check, status_every_s=status_every,
                             status=lambda: err_console.print(_compat_status(source, emitter)))

    try:
        asyncio.run(main())
    finally:
        client.close()
        producer.flush()
    err_console.print(_compat_status(source, emitter))
    for topic, count in sorted(emitter.counts.items()):
        out_console.print(f"{topic:20} {count:>10,}")


def _compat_status(source: Any, emitter: Any) -> Group:
    title = f"ingest --from-redis at {time.strftime('%H:%M:%S')} — published {sum(emitter.counts.values()):,}"
    ignored = ", ".join(f"{reason} {len(keys)}" for reason, keys in sorted(source.ignored.items()))
    if ignored:
        title += f"; keys ignored: {ignored}"
    if source.redis_errors:
        title += f"; redis errors {source.redis_errors} (last: {source.last_error})"
    table = Table()
    for column in ("venue", "keys", "records", "unchanged", "dead letters", "stale"):
        table.add_column(column, justify="left" if column in ("venue", "stale") else "right")
    stale = source.stale_keys()
    for venue, counts in source.counts.items():
        old = stale[venue]
        verdict = "[green]no[/green]" if not old else \
            f"[yellow]{len(old)}: " + ", ".join(f"{key} {age:.0f} s" for key, age in old[:3]) + \
            (" …" if len(old) > 3 else "") + "[/yellow]"
        table.add_row(venue, f"{counts.keys:,}", f"{counts.records:,}", f"{counts.unchanged:,}",
                      f"{counts.rejected:,}", verdict if counts.keys else "no keys")
    return Group(Text(title), table)
