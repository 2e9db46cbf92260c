"""`arbflow infra up | down | status`: the embedded Kafka broker (Tansu) and redis-server,
started, stopped and checked (`connectors.infra.services` does the work)."""

import json
import sys
from typing import Any

import click

from arbflow.cli.logs import redactor
from arbflow.cli.support import guard, load, out_console


@click.group()
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
        out_console.print(f"{service.name:6} {service.origin:8} {redactor(service.address):28} {state}{pid}{fresh}")


@infra.command("up")
@click.pass_context
@guard
def infra_up(ctx: click.Context) -> None:
    """Start what is not running yet and create every topic (idempotent)."""
    from arbflow.connectors import kafka
    from arbflow.connectors.infra import services
    from arbflow.model import topics

    config = load(ctx)
    endpoints = services.up(config)
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    created = kafka.ensure_topics(endpoints.kafka_bootstrap, names, config.kafka.partitions,
                                  config.kafka.connect_timeout_s, config.kafka.client)
    _print_endpoints(endpoints)
    out_console.print(f"topics  {len(created)} present ({config.kafka.partitions} partitions for new ones)")


@infra.command("down")
@click.pass_context
@guard
def infra_down(ctx: click.Context) -> None:
    """Stop the embedded services this project started (never anything else)."""
    from arbflow.connectors.infra import services

    stopped = services.down(load(ctx))
    out_console.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing of ours was running")


@infra.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
@guard
def infra_status(ctx: click.Context, as_json: bool) -> None:
    """Show where Kafka and Redis are and whether they answer. Exit 1 if one does not."""
    from arbflow.connectors.infra import services

    endpoints = services.status(load(ctx))
    if as_json:
        click.echo(json.dumps({s.name: {"origin": s.origin, "address": redactor(s.address), "running": s.running,
                                        "pid": s.pid} for s in (endpoints.kafka, endpoints.redis)}))
    else:
        _print_endpoints(endpoints)
    if not (endpoints.kafka.running and endpoints.redis.running):
        sys.exit(1)
