"""`arbflow record`: Kafka topics into a replay file that `arbflow replay` plays back
(`connectors.recorder` does the work)."""

from pathlib import Path

import click

from arbflow.cli.support import err_console, guard, load, out_console


@click.command()
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
@guard
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

    config = load(ctx)
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
                             connect_timeout_s=config.kafka.connect_timeout_s, client=config.kafka.client)
    for key, count in sorted(counts.items()):
        out_console.print(f"{key:20} {count:>10,}")
    out_console.print(f"wrote {out}")
