"""`arbflow convert hftbacktest | cryptofeed | funding | bars`: recorded raw exchange captures,
funding histories and 8 h bars into replay files (`connectors.captures` does the work)."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from arbflow.cli.bad_rows import dead_letters_option, reading, strict_option
from arbflow.cli.column_map import bar_source, convert_mapped, mapped_bars, mapping_options
from arbflow.cli.support import err_console, guard, load, out_console
from arbflow.connectors.captures.bar_quotes import BarConversion
from arbflow.connectors.captures.bar_quotes import convert_bars as convert_bar_file
from arbflow.connectors.captures.row_policy import BadRow, RowPolicy, dead_letter_path
from arbflow.connectors.compressed import Damage, DamagedFile
from arbflow.model import reasons
from arbflow.model.column_map import BARS, FUNDING, QUOTES, ColumnMapping
from arbflow.model.config import Config


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


@click.group()
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
@guard
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
    damage: list[Damage] = []
    try:
        counts = hftbacktest.convert(list(files), out, streams=wanted, since_ms=_parse_time(since) or 0,
                                     until_ms=_parse_time(until), depth=depth, damage=damage)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(counts.items()):
        out_console.print(f"{kind:20} {count:>10,}")
    out_console.print(f"wrote {out}")
    if damage:  # every line before the break was converted: one line, exit 1
        raise DamagedFile(damage)


@convert.command("cryptofeed")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@click.option("--streams", default="ticker,trade,book,funding,oi", show_default=True,
              help="Comma-separated kinds to convert: ticker, trade, book, funding, oi.")
@click.option("--depth", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Levels per side in each md.book record.")
@guard
def convert_cryptofeed(files: tuple[Path, ...], out: Path, streams: str, depth: int) -> None:
    """cryptofeed raw websocket captures (`<NAME>.ws.N.0[.xz]`) → one replay file merged
    by receive time. OKX (books with CRC32 checksums), Bybit v2, Gate spot and futures
    (incl. funding and open interest from the contract list), KuCoin, Bitget v1 and
    Binance spot / USDⓈ-M / COIN-M. The sibling REST files (`<NAME>.0`, `.http.*`)
    next to each capture provide snapshots and contract sizes. Book gaps, checksum
    failures and crossed books are counted and never published."""
    from arbflow.connectors.captures import cryptofeed

    wanted = tuple(s.strip() for s in streams.split(",") if s.strip())
    damage: list[Damage] = []
    try:
        counts = cryptofeed.convert(list(files), out, streams=wanted, depth=depth, damage=damage)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(counts.items()):
        out_console.print(f"{kind:28} {count:>10,}")
    out_console.print(f"wrote {out}")
    if damage:  # every line before the break was converted: one line, exit 1
        raise DamagedFile(damage)


@convert.command("funding")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@mapping_options(FUNDING)
@strict_option
@dead_letters_option("next to --out, NAME.rejected.jsonl")
@click.pass_context
@guard
def convert_funding(ctx: click.Context, files: tuple[Path, ...], out: Path, strict: bool,
                    dead_letters: Path | None, **mapped: Any) -> None:
    """Funding and 8h-candle histories (fixtures/funding/: aha-hh 8h bars with funding,
    Binance website funding exports, the supervik 7-venue funding history; the format is
    recognised from the header) → md.funding and md.candle in one replay file. Any other
    funding history (CSV, JSON, JSONL) with --map or --mapping (README 'Your own data').

    No look-ahead: a rate settled at T is published at T as the estimate for the next
    settlement; a bar is published when it closes. Intervals come from the previous
    settlement (1, 2, 4 or 8 h), else the venue's configured interval (counted).

    A bad row (malformed, duplicate or out-of-order settlement, unknown venue or instrument,
    a rate beyond [plausibility] max_funding_rate_8h, an implausible price) is written to the
    dead letters with file:line, reason and raw text, and the rest is converted (--strict:
    exit 2 at the first). A .gz/.xz/.zst file that breaks before its end: every readable row is
    converted, then one line names where it broke, exit 1.
    """
    from arbflow.connectors.captures import funding_history

    config = load(ctx)
    with reading(config, strict, dead_letters or dead_letter_path(out)) as policy:
        if convert_mapped(FUNDING, files, out, config, mapped, known=funding_history.detect_format, policy=policy):
            return
        try:
            counts = funding_history.convert(list(files), out, venues=config.venues, policy=policy)
        except BadRow:
            raise
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
        for kind, count in sorted(counts.items()):
            out_console.print(f"{kind:28} {count:>10,}")
        out_console.print(f"wrote {out}")


@convert.command("bars")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@mapping_options(BARS)
@strict_option
@dead_letters_option("next to --out, NAME.rejected.jsonl")
@click.pass_context
@guard
def convert_bars(ctx: click.Context, file: Path, out: Path, strict: bool, dead_letters: Path | None,
                 **mapped: Any) -> None:
    """8h bars with funding (fixtures/funding/spot_perp_8h_*_utc.csv.gz) → md.ticker and
    md.funding for a backtest, through the declared quote model ([backtest] half_spread_bps,
    depth_usd): each bar close c is quoted c × (1 ∓ h) at its close time, depth_usd / c a side.
    Bars it cannot price (close ≤ 0) are refused with file:line and reason; that instrument has
    no quote for that close. Bars of your own layout with --map or --mapping. Bad rows follow
    the policy of `convert funding` (dead letters, --strict, damaged files)."""
    config = load(ctx)
    mapping = mapped_bars(file, mapped)
    with reading(config, strict, dead_letters or dead_letter_path(out)) as policy:
        bars_to_replay(config, file, out, mapping, policy=policy)
        out_console.print(f"wrote {out}")


@convert.command("quotes")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Replay file to write (.jsonl or .jsonl.gz).")
@mapping_options(QUOTES)
@strict_option
@dead_letters_option("next to --out, NAME.rejected.jsonl")
@click.pass_context
@guard
def convert_quotes(ctx: click.Context, files: tuple[Path, ...], out: Path, strict: bool, dead_letters: Path | None,
                   **mapped: Any) -> None:
    """Best bid/ask histories of your own layout (CSV, JSON, JSONL; --map time=…,bid=…,ask=…,
    bid_qty=…,ask_qty=…) → md.ticker, quantities in base units (inverse contracts converted at
    the row's prices). Bad rows follow the policy of `convert funding` (dead letters, --strict)."""
    config = load(ctx)
    with reading(config, strict, dead_letters or dead_letter_path(out)) as policy:
        convert_mapped(QUOTES, files, out, config, mapped, known=None, policy=policy)


def bars_to_replay(config: Config, file: Path, out: Path, mapping: ColumnMapping | None = None, *,
                   policy: RowPolicy | None = None) -> BarConversion:
    """Convert and print the counts and every refused bar (`arbflow convert bars`, `backtest`);
    `mapping`: a bar file of the user's layout (`connectors.captures.column_map`); bad rows go
    to `policy` (strict when None)."""
    try:
        read: Counter[str] = Counter()
        source = None if mapping is None else bar_source(file, mapping, config, read, policy)
        conversion = convert_bar_file(file, out, venues=config.venues, backtest=config.backtest,
                                      source=source, policy=policy)
        conversion.counts.update(read)
    except BadRow:
        raise
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    for kind, count in sorted(conversion.counts.items()):
        err_console.print(f"{kind:28} {count:>10,}")
    # with a policy, the bars it could not quote are among its bad rows (printed with them)
    for rejected in conversion.rejected if policy is None else [r for r in conversion.rejected
                                                                if r.reason == reasons.MISSING_FIELD]:
        err_console.print(f"refused {rejected.source}: {rejected.reason} — {rejected.detail}")
    err_console.print(f"{'refused bars':28} {len(conversion.rejected):>10,}")
    return conversion
