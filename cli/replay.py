"""`arbflow replay FILE…`: publish replay files, run the dataflow over exactly them, and
print the summary (`flows.replay` orchestrates; `reports.replay_tables` and
`reports.replay_output` render). `replay_and_report` is shared with `arbflow backtest`."""

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from arbflow.cli.support import die, err_console, guard, load, native_stderr, out_console
from arbflow.connectors.captures.row_policy import BadRow
from arbflow.model.config import Config
from arbflow.reports.output_files import listed

if TYPE_CHECKING:
    from arbflow.flows.replay import ReplaySummary


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--speed", type=click.FloatRange(min=0), default=None,
              help="0 = as fast as possible (default), N = N × the recorded pace.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Bytewax worker threads (default 1).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Also write into this directory: {listed()}.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option("--no-trade", is_flag=True, help="Signals only: do not run the paper execution desks.")
@click.option("--publish-only", is_flag=True,
              help="Only publish FILES to their topics (paced by --speed) and stop: a live source for a running "
                   "`arbflow scan` or `arbflow trade`.")
@click.option("--again", is_flag=True,
              help="Publish FILES as a new run even if an earlier run published them: a second copy on the "
                   "topics, on purpose (e.g. for a trader started since, reading from the end).")
@click.option("--strict", is_flag=True,
              help="Exit 2 at the first bad line (unreadable, or refused by validation) before publishing it, and "
                   "after the run if the flow refused any record; default: dead-letter it and go on.")
@click.pass_context
@guard
def replay(ctx: click.Context, files: tuple[Path, ...], speed: float | None, workers: int | None,
           out_dir: Path | None, as_json: bool, no_trade: bool, publish_only: bool, again: bool, strict: bool) -> None:
    """Replay recorded FILES through Kafka and the dataflow, then summarise.

    FILES are replay files (JSON Lines, .gz allowed; format in the README). They are
    merged in event-time order and published to their topics; malformed lines go to
    dlq.replay. The basis flow then runs over exactly the published md.ticker records:
    invalid ones go to dlq.md.ticker with a reason, the basis goes to signal.basis and
    Redis. Starts the embedded services if they are not running. Publishing shows a
    progress bar (records/s, ETA) on a terminal, plain lines otherwise. A .gz/.xz/.zst file that
    breaks before its end is replayed up to the break; then one line names where it broke,
    exit 1.

    \b
    Re-running is safe: a replay is a run identified by its files' content (and, for the
    flow, every setting that changes a result), written down on the replay.runs topic.
    - The same files again: their records are not published again; the flow runs over
      the copy already on the topics only if the settings changed.
    - The same files and settings again: nothing is published; the summary is read back.
    - After a kill or a lost service mid-run: the run resumes; what it had published
      already (inputs, outputs, Redis stream entries) is not published a second time.
    One line before the summary ("replay run <id>: …") says which of these happened.
    --again makes a new run of the inputs (a second copy, on purpose).
    """
    replay_and_report(load(ctx), files, speed=speed, workers=workers, out_dir=out_dir, as_json=as_json,
                      trade=not no_trade, publish_only=publish_only, strict=strict, again=again)


def replay_and_report(config: Config, files: tuple[Path, ...], *, speed: float | None, workers: int | None,
                      out_dir: Path | None, as_json: bool, trade: bool, publish_only: bool = False,
                      title: str = "arbflow replay", assumptions: list[tuple[str, str]] | None = None,
                      strict: bool = False, again: bool = False, brief: bool = False) -> "ReplaySummary":
    """Run the replay with a progress bar, print its summary (or JSON) and write `out_dir`'s
    files; `arbflow backtest` adds its `title` and `assumptions` (printed and in the report).
    Exits 2 on a bad line under `strict`; raises `DamagedFile` (exit 1) after the summary when
    a file broke before its end. Prints the run's line (published, resumed or already done;
    `again`: a new run of the inputs) before the summary; `brief`: not the summary's tables
    (the caller prints its few lines)."""
    from arbflow.cli.progress import ProgressReport
    from arbflow.connectors.infra import services
    from arbflow.connectors.replay import count_lines
    from arbflow.flows.replay import run_replay
    from arbflow.model import codec

    services.up(config)  # an unreachable service is its one line before anything is announced
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

        try:
            with native_stderr("replay"):
                summary = run_replay(config, list(files), speed=speed, workers=workers, progress=progress,
                                     trade=trade, publish_only=publish_only,
                                     announce=None if as_json else announce, strict=strict, again=again)
        except BadRow as error:
            publishing.close()
            die(f"{error} (--strict: stopped at the first bad line)", 2)
    if not as_json:
        err_console.print(summary.run, soft_wrap=True)
    if publish_only:
        published = ", ".join(f"{topic} {count:,}" for topic, count in sorted(summary.published.items()))
        rejected = sum(summary.rejects.values())
        err_console.print(f"published {published} in {summary.publish_s:.1f} s; {rejected} lines to dlq.replay")
        _end(summary, strict=False)
        return summary
    document = summary.as_json()
    if assumptions:
        document["assumptions"] = dict(assumptions)
    page = None
    if out_dir is not None:
        from arbflow.reports.replay_output import write_outputs

        page = write_outputs(out_dir, config, files, summary, document, title=title, assumptions=assumptions)
    if as_json:
        sys.stdout.buffer.write(codec.dumps(document) + b"\n")
    elif not brief:
        from arbflow.reports.replay_tables import render_summary

        render_summary(summary, out_console)
        for what, value in assumptions or ():
            out_console.print(f"assumed {what}: {value}")
        if page is not None:
            out_console.print(f"report: {page}")
        for rejected in summary.dead_letters()[:DEAD_LETTERS_SHOWN]:
            err_console.print(f"dead letter {rejected.source}: {rejected.reason} — {rejected.detail}", soft_wrap=True)
    _end(summary, strict=strict)
    return summary


DEAD_LETTERS_SHOWN = 5  # the first few dead letters are printed under the summary


def _end(summary: "ReplaySummary", *, strict: bool) -> None:
    """After the summary: a flow stopped by a lost service exits 1 with its error's line;
    exit 2 under `strict` if the flow refused a record; a file that
    broke before its end is one line and exit 1 (`DamagedFile`)."""
    from arbflow.connectors.compressed import DamagedFile

    if summary.failure is not None:  # the report above holds what the flow did before it stopped
        raise summary.failure
    dead = summary.dead_letters()
    if strict and dead:
        die(f"{dead[0].source}: {dead[0].reason}: {dead[0].detail} (--strict: {len(dead):,} record(s) refused)", 2)
    if summary.damage():
        raise DamagedFile(summary.damage())
