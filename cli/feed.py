"""The commands over what the flows keep in Redis: `arbflow scores` and `arbflow dashboard`
read it; `arbflow rebuild-redis` writes it again from the Kafka topics after Redis restarted
empty (`sinks.redis_feed` does the reading and writing)."""

import sys
from typing import Any

import click

from arbflow.cli.support import err_console, guard, load, out_console


@click.command("rebuild-redis")
@click.pass_context
@guard
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
    from arbflow.model.desk_config import desk_capital
    from arbflow.sinks.redis_client import connect
    from arbflow.sinks.redis_feed import rebuild

    config = load(ctx)
    endpoints = services.require(config)
    client = connect(endpoints.redis_url, config.redis.connect_timeout_s)

    def records() -> Any:
        for logical in (topics.SIGNAL_BASIS, topics.SIGNAL_LATENCY, topics.ARB_OPPORTUNITY, topics.EXEC_TRADE,
                        topics.PORTFOLIO_STATE):
            name, cls = kafka.topic_name(config, logical), topics.record_type(logical)
            messages = kafka.read_topic(endpoints.kafka_bootstrap, name, timeout_s=config.kafka.connect_timeout_s,
                                        client=config.kafka.client)
            for message in sorted(messages, key=lambda m: (m.partition, m.offset)):
                yield codec.decode(cls, message.value, source=name)

    try:
        written, skipped = rebuild(client, config.redis.key_prefix, records(), desks=desk_capital(config))
    finally:
        client.close()
    err_console.print(f"rewrote Redis from Kafka: {written:,} records applied (newer values kept)"
                      + (f"; {skipped:,} messages could not be decoded and were skipped" if skipped else ""))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="JSON output (the agent tool get_market_scores).")
@click.option("--asset", default=None, help="Only this base asset, e.g. BTC.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="At most this many accepted opportunities.")
@click.pass_context
@guard
def scores(ctx: click.Context, as_json: bool, asset: str | None, limit: int) -> None:
    """The latest scored opportunities, basis and venue latency from Redis (the same three
    parts in text and in --json)."""
    from arbflow.connectors.infra import services
    from arbflow.model import codec
    from arbflow.sinks.redis_client import connect
    from arbflow.sinks.redis_feed import read_scores

    config = load(ctx)
    endpoints = services.require(config)
    client = connect(endpoints.redis_url, config.redis.connect_timeout_s)
    try:
        document = read_scores(client, config.redis.key_prefix, asset=asset, limit=limit)
    finally:
        client.close()
    if as_json:
        sys.stdout.buffer.write(codec.dumps(document) + b"\n")
        return
    from arbflow.reports.scores import score_lines

    for line in score_lines(document):
        out_console.print(line, highlight=False, markup=False, soft_wrap=True)


@click.command()
@click.option("--refresh", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print one frame and exit (for scripts).")
@click.pass_context
@guard
def dashboard(ctx: click.Context, refresh: float, once: bool) -> None:
    """The state of everything in the terminal: portfolio, top opportunities, venue
    latency and staleness, basis. Reads Redis; works over SSH; Ctrl-C to leave."""
    from arbflow.cli.dashboard import run
    from arbflow.connectors.infra import services

    config = load(ctx)
    endpoints = services.status(config)
    run(config, endpoints.redis.address if endpoints.redis.running else (config.redis.url or "redis://127.0.0.1:1/0"),
        refresh_s=refresh, once=once, console=out_console)
