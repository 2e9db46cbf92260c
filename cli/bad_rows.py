"""The bad-row policy as the commands that read files show it (`convert funding`, `convert bars`,
`study funding`; `connectors.captures.row_policy` does the work): the `--strict` and
`--dead-letters` options, the summary lines, and the exits — a bad row under `--strict` is one
line and exit 2; a compressed file that breaks before its end is one line and exit 1, after
everything readable was processed and the counts printed."""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from arbflow.cli.support import die, err_console
from arbflow.connectors.captures.row_policy import BadRow, DeadLetterFile, RowPolicy
from arbflow.model.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def strict_option(function: F) -> F:
    """`--strict`: the first bad row stops the command (exit 2) instead of becoming a dead letter."""
    return click.option("--strict", is_flag=True,
                        help="Stop at the first bad row (exit 2) instead of writing it to the dead letters and "
                             "going on.")(function)


def dead_letters_option(default: str) -> Callable[[F], F]:
    """`--dead-letters FILE`: where refused rows go (JSON Lines of the Rejected record)."""
    return click.option("--dead-letters", "dead_letters", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help=f"JSON Lines file for refused rows (file:line, reason, detail, raw text); "
                                           f"default: {default}. Written only when a row is refused.")


@contextlib.contextmanager
def reading(config: Config, strict: bool, dead_letters: Path, *, damage_exits: bool = True) -> Iterator[RowPolicy]:
    """A policy for the readers, its dead-letter file open; on leaving: a `BadRow` (strict)
    exits 2 with its one line; otherwise the counts are printed, then a damaged file exits 1
    (`damage_exits`; else the caller calls `policy.raise_damage()` when it is done)."""
    with DeadLetterFile(dead_letters) as sink:
        policy = RowPolicy(strict=strict, plausibility=config.plausibility, sink=sink.write)
        try:
            yield policy
        except BadRow as error:
            die(f"{error} (--strict: stopped at the first bad row)", 2)
    summarise(policy, sink.path if sink.count else None)
    if damage_exits:
        policy.raise_damage()


def summarise(policy: RowPolicy, dead_letters: Path | None) -> None:
    """Counts of refused rows by reason, the first few, and where they all went (stderr);
    nothing when every row was good."""
    if not policy.counts:
        return
    for reason, count in sorted(policy.counts.items()):
        err_console.print(f"{'bad rows: ' + reason:28} {count:>10,}")
    for rejected in policy.first:
        err_console.print(f"refused {rejected.source}: {rejected.reason} — {rejected.detail}", soft_wrap=True)
    if policy.refused > len(policy.first):
        err_console.print(f"… and {policy.refused - len(policy.first):,} more")
    if dead_letters is not None:
        err_console.print(f"dead letters: {dead_letters}")
