"""The column-mapping options of `arbflow convert funding|quotes|bars` (`--map`, `--mapping`,
the venue, asset and contract), turned into a `model.column_map.ColumnMapping`; the files
are read by `connectors.captures.column_map`. Options given on the command line win over
the same settings in a `--mapping` file."""

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from arbflow.cli.support import die, out_console
from arbflow.connectors.captures import column_map
from arbflow.connectors.captures.column_map import load_mapping_file, refuse_unmapped
from arbflow.connectors.captures.funding_history import Item
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.model.column_map import (
    BARS,
    FIELDS,
    ColumnMapping,
    MappingError,
    build_mapping,
    mapping_document,
    parse_map_text,
)
from arbflow.model.config import Config
from arbflow.model.contracts import CONTRACT_KINDS
from arbflow.model.topics import MD_CANDLE

F = TypeVar("F", bound=Callable[..., Any])
CONSTANT_OPTIONS = ("venue", "asset", "contract", "quote", "settle", "contract_size", "bar")


def _fields_help(kind: str) -> str:
    def shown(names: tuple[str, ...]) -> str:
        return ", ".join(f"{name} (or rate_8h, an 8h-equivalent)" if name == "rate" else name for name in names)

    required, optional = FIELDS[kind]
    return f"{shown(required)}; optional {shown(optional)}"


def mapping_options(kind: str) -> Callable[[F], F]:
    """The options every mapped conversion of `kind` takes (bars also `--bar`)."""

    def decorate(function: F) -> F:
        options = [
            click.option("--map", "map_text", default=None, metavar="FIELD=COLUMN,…",
                         help="Read a file of your own layout: which column holds what. Fields: "
                              f"{_fields_help(kind)}. See README 'Your own data'."),
            click.option("--mapping", "mapping_file", default=None,
                         type=click.Path(exists=True, dir_okay=False, path_type=Path),
                         help="The same as a TOML file: [columns] field = \"column\", and venue, asset, contract, "
                              "quote, settle, contract_size" + (", bar" if kind == BARS else "") + " at the top."),
            click.option("--venue", default=None, help="The venue of every row (a configured venue)."),
            click.option("--asset", default=None, help="The base asset of every row (e.g. BTC), when no column says."),
            click.option("--contract", type=click.Choice(CONTRACT_KINDS), default=None,
                         help="spot, linear or inverse (default: the venue table's, linear unless configured)."),
            click.option("--quote", default=None, help="Quote currency (default: the settle currency; USD for "
                                                       "inverse), e.g. USD for dYdX's BTC/USD:USDC."),
            click.option("--settle", default=None, help="Settle currency of a linear perp: USDT, USDC or USD "
                                                        "(an inverse perp settles in its base asset)."),
            click.option("--contract-size", "contract_size", default=None, metavar="N [UNIT]",
                         help="Per contract: N base units (\"0.001\") or N quote units (\"10 USD\"); quantities "
                              "are converted to base units at the record's price."),
        ]
        if kind == BARS:
            options.append(click.option("--bar", default=None, metavar="DURATION",
                                        help="Bar length of a mapped file (8h, 1h, 1m; default 8h)."))
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def resolve(kind: str, map_text: str | None, mapping_file: Path | None, **given: str | None) -> ColumnMapping | None:
    """The mapping the options describe; None when neither --map nor --mapping is given (a
    known layout). `MappingError` for a mapping that does not parse, or settings without one."""
    constants = {name: given.get(name) for name in CONSTANT_OPTIONS if name in given}
    if map_text is None and mapping_file is None:
        named = [f"--{name.replace('_', '-')}" for name, value in constants.items() if value is not None]
        if named:
            raise MappingError(f"{', '.join(named)} describe a mapped file: give --map or --mapping too")
        return None
    columns: dict[str, str] = {}
    from_file: dict[str, str] = {}
    if mapping_file is not None:
        try:
            columns, from_file = mapping_document(kind, load_mapping_file(mapping_file))
        except MappingError as error:
            raise MappingError(f"{mapping_file.name}: {error}") from None
    if map_text is not None:
        columns |= parse_map_text(map_text)
    merged = from_file | {name: value for name, value in constants.items() if value is not None}
    return build_mapping(kind, columns, merged)


def _aha_hh(path: Path) -> str:
    from arbflow.connectors.captures.funding_history import AHA_HH, detect_format

    if detect_format(path) != AHA_HH:
        raise ValueError(f"{path.name} is not an aha-hh bar file")
    return AHA_HH


def _known_layout(kind: str, path: Path, known: Callable[[Path], str] | None) -> None:
    """MappingError (the refusal with an example --map) unless `path` is a known layout."""
    try:
        if known is None:
            raise ValueError
        known(path)
    except ValueError:
        raise refuse_unmapped(kind, path) from None


def convert_mapped(kind: str, files: tuple[Path, ...], out: Path, config: Config, options: dict[str, Any],
                   known: Callable[[Path], str] | None, policy: RowPolicy | None = None) -> bool:
    """Convert `files` by their mapping and print the counts (True), or check that they are of
    a known layout (False: the caller converts them). One line and exit 2 on a bad mapping or
    a file of no known layout without one; bad rows go to `policy` (the one bad-row policy)."""
    try:
        mapping = resolve(kind, **options)
        if mapping is None:
            for path in files:
                _known_layout(kind, path, known)
            return False
        counts = column_map.convert(kind, files, out, mapping, venues=config.venues, policy=policy)
    except MappingError as error:
        die(str(error), 2)
    if mapping.source is not None:
        out_console.print(f"{kind} source: {mapping.source}")
    for name, count in sorted(counts.items()):
        out_console.print(f"{name:36} {count:>10,}")
    out_console.print(f"wrote {out}")
    return True


def mapped_bars(file: Path, options: dict[str, Any]) -> ColumnMapping | None:
    """The mapping of `convert bars`, or None for an aha-hh file; exit 2 with the refusal otherwise."""
    try:
        mapping = resolve(BARS, **options)
        if mapping is None:
            _known_layout(BARS, file, _aha_hh)
    except MappingError as error:
        die(str(error), 2)
    return mapping


def bar_source(file: Path, mapping: ColumnMapping, config: Config, counts: Counter[str],
               policy: RowPolicy | None = None) -> list[tuple[str, Item]]:
    """The candles and funding items of a mapped bar file (`bar_quotes.convert_bars(source=…)`);
    the reading counts but md.candle go to `counts`; bad rows to `policy`; exit 2 on a mapping
    error."""
    try:
        items = column_map.bar_items(file, mapping, venues=config.venues, counts=counts, policy=policy)
    except MappingError as error:
        die(str(error), 2)
    counts.pop(MD_CANDLE, None)
    return items
