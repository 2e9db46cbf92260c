"""`arbflow schema` and `arbflow config`: the JSON Schema of every topic's records and the
effective configuration."""

import json
import sys
from pathlib import Path

import click

from arbflow.cli.support import load


@click.command()
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


@click.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the effective configuration (defaults ← file ← environment) as JSON; secrets
    (keys named token, webhook, password, …; URL passwords) are shown as ***."""
    from arbflow.cli.logs import redactor
    from arbflow.model import codec
    from arbflow.reports.configuration import plain, redacted

    config = load(ctx)  # registers the configuration's secrets with the redactor
    # masked by key (structurally) and by value (the redactor: secrets under other names)
    sys.stdout.buffer.write(redactor(codec.dumps(redacted(plain(config))).decode()).encode() + b"\n")
