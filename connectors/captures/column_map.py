"""Bring-your-own files by column mapping: a funding, quote or bar history in CSV, JSON or
JSON Lines (optionally .gz, .xz, or a .zip holding that one file — QuantConnect Lean's
layout), with its own column names, → the records `arbflow convert`
writes for the bundled data (`arbflow convert funding|quotes|bars FILE --map …`).

The mapping and the cell rules are `model/column_map.py`; the contract (linear, inverse,
settle currency, contract size → the unified symbol and base quantities) `model/contracts.py`,
from the mapping or else the venue table (`VenueConfig.contract`, `quote`, `settle`,
`contract_size`).

Reading. CSV: the first line is the header, unless the mapping names the columns (`header`:
then the first line is data — Lean's files have no header); `,`-separated, or `;`, tab or `|` when the header
has no comma. JSON: a list of objects, or an object holding one such list at any depth (the
nearest the top: `{"result": {"list": [...]}}`); JSON Lines: one object per line. The columns of a JSON file
are the keys of its first object. Numbers are kept as their text (never float). A row is
named `file:line` (CSV, JSONL) or `file:[index]` (a JSON list) in every message.

Records (the rules of `funding_history` and `bar_quotes`, so a mapped file replays and
studies like the bundled data):
- funding: a rate settled at T → `FundingRate(rate, interval_ms, next_funding_time = T +
  interval_ms, ts_exchange = ts_local = T, predicted_rate None)`. `interval_ms` is the row's
  interval column when mapped, else the backward spacing to the series' previous settlement
  when it is 1, 2, 4 or 8 h (`interval:spacing`); a series' first settlement takes the
  series' most common such spacing (`interval:series`: its schedule, a property of the
  contract); otherwise the venue's `funding_interval_ms` (counted `interval:defaulted`).
  `rate_8h` columns are turned into the rate per that interval. Rows
  may come in any order (exports are often newest first): each series is put in time order
  first; two settlements of one series at the same time are refused.
- quotes: a row at T → `Ticker(bid, ask, bid_qty, ask_qty, last?, mark?, index?,
  ts_exchange = ts_local = T)`, quantities converted to base units (inverse contracts at the
  row's bid and ask).
- bars: a row opening at t → `Candle([t, t + bar))` published at its close (open, high and
  low default to the close, volume to 0 when not mapped; volume in contracts converted to base
  units at the close), and a funding record at t when the row has a rate (perps only); the
  caller turns the candles into quotes (`bar_quotes`).
A venue must be configured (`[venues.<name>]` with kind and fees at least): an unknown venue
is refused up front.

Bad rows. Given a `RowPolicy` (`connectors.captures.row_policy`, the one policy of every file
reader), a row whose rate, price or quantity cell does not read (INVALID_NUMBER), is empty
(MISSING_FIELD), holds a price ≤ 0 (NON_POSITIVE_PRICE), repeats its series' settlement time
(DUPLICATE_ROW), a rate beyond `[plausibility] max_funding_rate_8h` for its interval
(IMPOSSIBLE_RATE) or a quote or bar close implausible against the file's other prices or the
asset's floor (PRICE_IMPLAUSIBLE, `model.plausibility`, references per asset in file order; a
refused bar writes no settlement either) is refused there — a dead letter naming `file:line` with the row as its raw
text, and the rest of the file is converted (or `BadRow` at the first when strict). Without a
policy such a row raises `MappingError`. A .gz file that breaks before its end gives every
row before the break (`connectors.compressed`), its `Damage` in `policy.damage` (the command
exits 1 after converting them; without a policy `DamagedFile` is raised after the rows).

Failure modes: `MappingError` (a `ValueError`), one line naming `file:line` and the field,
for a mapping that does not fit the file, a time cell that does not read or a time column
that mixes units, a contract that does not fit together, an unconfigured venue — whatever
says the mapping or the configuration, not one row, is wrong.
"""

import csv
import itertools
import json
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from arbflow.connectors.captures.funding_history import Item, backward_interval_ms, write_items
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.connectors.compressed import COMPRESSED, ArchiveError, Damage, lines
from arbflow.model import reasons
from arbflow.model.column_map import (
    BARS,
    FUNDING,
    QUOTES,
    ColumnMapping,
    MappingError,
    TimeColumn,
    asset_symbol,
    check,
    decimal_cell,
    parse_interval_ms,
    per_interval,
    rate_cell,
    refusal,
    symbol_cell,
)
from arbflow.model.config import VenueConfig
from arbflow.model.contracts import Contract, ContractError, parse_contract_size
from arbflow.model.market import Candle, FundingRate, Ticker
from arbflow.model.money import MONEY, ONE
from arbflow.model.plausibility import PriceReferences, check_record, funding_problem
from arbflow.model.symbols import base_asset, parse_symbol
from arbflow.model.topics import MD_CANDLE, MD_FUNDING, MD_TICKER

Row = dict[str, str]
DEFAULTED: Final = "interval:defaulted"
JSON_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")


# -- reading -------------------------------------------------------------------------------


def _stem(path: Path) -> str:
    return path.name.removesuffix(path.suffix) if path.suffix in COMPRESSED else path.name


def _first_line(path: Path) -> str:
    try:
        return next(_lines(path, []), "")
    except ArchiveError as error:
        raise MappingError(str(error)) from None


def _lines(path: Path, damage: list[Damage] | None) -> Iterator[str]:
    """The text lines of `path` (newlines kept), up to a break in a damaged .gz/.xz file
    (`connectors.compressed.lines`: the `Damage` goes to `damage`, or `DamagedFile` is raised
    after the lines before it when `damage` is None)."""
    for number, raw in enumerate(lines(path, damage)):
        yield raw.decode("utf-8-sig" if number == 0 else "utf-8")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _json_rows(data: Any) -> list[Any]:
    """The rows of a JSON document: the document when it is a list, else the one list of
    objects found nearest the top of an object (`{"result": {"list": [...]}}`, Bybit's shape),
    else the object itself as one row."""
    level = [data]
    while level:
        lists = [v for v in level if isinstance(v, list) and (not v or isinstance(v[0], dict))]
        if len(lists) == 1:
            return lists[0]
        if len(lists) > 1:
            break
        level = [v for node in level if isinstance(node, dict) for v in node.values()]
    return [data] if isinstance(data, dict) else []


def read_rows(path: Path, damage: list[Damage] | None = None,
              header: Sequence[str] | None = None) -> tuple[list[str], Iterator[tuple[str, Row]]]:
    """(the columns, (where, row) for each data row) of a CSV, JSON or JSONL file; a damaged
    compressed file gives the rows before its break (`_lines`, `damage`). `header`: the column
    names of a CSV file without a header line (the mapping's `header`), its first line is data."""
    stem = _stem(path)
    if stem.endswith(JSON_SUFFIXES):
        _first_line(path)  # a .zip that is not one readable file: MappingError
        text = "".join(_lines(path, damage))
        if stem.endswith(".json"):
            try:
                objects = _json_rows(json.loads(text, parse_float=str, parse_int=str))
            except json.JSONDecodeError as error:
                raise MappingError(f"{path.name}: not JSON ({error})") from None
            rows = [(f"{path.name}:[{i}]", obj) for i, obj in enumerate(objects)]
        else:
            rows = []
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append((f"{path.name}:{number}", json.loads(line, parse_float=str, parse_int=str)))
                    except json.JSONDecodeError as error:
                        raise MappingError(f"{path.name}:{number}: not JSON ({error})") from None
        first = rows[0][1] if rows and isinstance(rows[0][1], dict) else {}
        header = [k for k, v in first.items() if not isinstance(v, (dict, list))]
        return header, ((where, {k: _text(v) for k, v in obj.items()}) for where, obj in rows
                        if isinstance(obj, dict))
    first_line = _first_line(path)
    delimiter = _delimiter(",".join(header) if header else first_line)
    names = list(header) if header else next(csv.reader([first_line], delimiter=delimiter), [])

    def rows_of_csv() -> Iterator[tuple[str, Row]]:
        reader = csv.DictReader(_lines(path, damage), fieldnames=list(header) if header else None,
                                delimiter=delimiter)
        for row in reader:
            yield f"{path.name}:{reader.line_num}", {k: _text(v) for k, v in row.items() if k is not None}

    return names, rows_of_csv()


def _delimiter(header_line: str) -> str:
    """`,` unless the header has none and holds `;`, a tab or `|` (spreadsheet exports)."""
    if "," in header_line:
        return ","
    return next((d for d in (";", "\t", "|") if d in header_line), ",")


def read_header(path: Path) -> list[str]:
    """The column names of a CSV, JSON or JSONL file (JSON: the keys of its first object)."""
    try:
        return read_rows(path)[0]
    except (MappingError, UnicodeDecodeError, OSError, csv.Error):
        return []


def refuse_unmapped(kind: str, path: Path) -> MappingError:
    """The error for a file of no known layout given without a mapping (`model.column_map.refusal`)."""
    return MappingError(refusal(kind, path.name, read_header(path)))


def load_mapping_file(path: Path) -> dict[str, Any]:
    """A TOML mapping file (`[columns]` and the constants); MappingError when unreadable."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MappingError(f"mapping {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise MappingError(f"mapping {path} is not valid TOML: {error}") from None


# -- the instrument of a row ---------------------------------------------------------------


def venue_contract(venue: VenueConfig) -> Contract:
    """The venue table's description of a venue's perps."""
    return Contract(kind=venue.contract, quote=venue.quote, settle=venue.settle,
                    size=parse_contract_size(venue.contract_size))


Resolved = tuple[str, str, Contract, Decimal]  # venue, unified symbol, contract, multiplier


@dataclass(slots=True)
class Instruments:
    """Resolves (venue, symbol, contract, multiplier) of each row of one mapped file; each
    distinct (venue, symbol or asset) cell pair is resolved once."""

    mapping: ColumnMapping
    venues: Mapping[str, VenueConfig]
    counts: Counter[str]
    known: dict[tuple[str, str], Resolved] = field(default_factory=dict)

    def of(self, row: Row, where: str) -> Resolved:
        columns = self.mapping.columns
        key = (row[columns["venue"]] if "venue" in columns else "",
               row[columns["symbol"]] if "symbol" in columns else row[columns["asset"]] if "asset" in columns else "")
        resolved = self.known.get(key)
        if resolved is None:
            resolved = self.known[key] = self._resolve(row, where)
        self.counts[f"symbol:{resolved[0]} {resolved[1]}"] += 1
        return resolved

    def _resolve(self, row: Row, where: str) -> Resolved:
        columns = self.mapping.columns
        venue = row[columns["venue"]].strip().lower() if "venue" in columns else self.mapping.venue or ""
        config = self.venues.get(venue)
        if config is None:
            raise MappingError(f"{where}: venue {venue!r} is not configured: add [venues.{venue or 'NAME'}] with "
                               "kind and perp fees to the config file")
        contract = self.mapping.contract or venue_contract(config)
        if self.mapping.kind == BARS and self.mapping.contract is None and "rate" not in columns \
                and "rate_8h" not in columns:
            contract = Contract(kind="spot", quote=config.quote or config.settle, settle=None)
        multiplier = ONE
        if "symbol" in columns and row[columns["symbol"]].strip():
            symbol, multiplier = symbol_cell(row[columns["symbol"]], contract, where)
            instrument = parse_symbol(symbol)
            kind = "spot" if instrument.market == "spot" else "inverse" if instrument.inverse else "linear"
            if kind != contract.kind:
                contract = Contract(kind=kind, quote=instrument.quote,  # type: ignore[arg-type]
                                    settle=instrument.settle, size=contract.size)
        elif "asset" in columns:
            asset, multiplier = _asset_cell(row[columns["asset"]], where)
            symbol = asset_symbol(asset, contract, where)
        elif self.mapping.asset is not None:
            symbol = asset_symbol(self.mapping.asset, contract, where)
        else:
            raise MappingError(f"{where}: no asset (--asset, asset= or symbol=)")
        return venue, symbol, contract, multiplier


def _asset_cell(text: str, where: str) -> tuple[str, Decimal]:
    from arbflow.model.symbols import SymbolError, canonical_asset

    try:
        return canonical_asset(text.strip())
    except SymbolError as error:
        raise MappingError(f"{where}: {error}") from None


# -- the three kinds -----------------------------------------------------------------------


def _refuse(policy: RowPolicy | None, reason: str, error: MappingError, where: str, row: Row,
            ts: int | None = None) -> None:
    """A bad row: to `policy` (a dead letter, or `BadRow` when strict), or `error` without one."""
    if policy is None:
        raise error
    policy.refuse(reason, str(error).removeprefix(f"{where}: "), source=where,
                  raw=json.dumps(row, ensure_ascii=False), ts=ts)


@dataclass(slots=True)
class _Prices:
    """The price plausibility of one mapped file (`model.plausibility`): references per base
    asset in file order, used only under a policy (its `[plausibility]` limits)."""

    policy: RowPolicy | None
    assets: dict[str, PriceReferences] = field(default_factory=dict)

    def problem(self, record: Ticker | Candle) -> str | None:
        if self.policy is None:
            return None
        asset = base_asset(record.symbol)
        references = self.assets.setdefault(asset, PriceReferences())
        return check_record(references, asset, record, record.ts_local, self.policy.plausibility)


def _cells(policy: RowPolicy | None, where: str, row: Row, ts: int, read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)`, or None after refusing the row INVALID_NUMBER when a cell does not read."""
    try:
        return read(*args)
    except MappingError as error:
        _refuse(policy, reasons.INVALID_NUMBER, error, where, row, ts)
        return None


def _time_rows(path: Path, mapping: ColumnMapping, policy: RowPolicy | None) -> Iterator[tuple[str, Row, int]]:
    """(where, row, time) of each row; a damaged compressed file ends at its break, its
    `Damage` noted once in `policy.damage` (without a policy: `DamagedFile` after the rows)."""
    damage: list[Damage] | None = None if policy is None else []
    header, rows = read_rows(path, damage, mapping.header)
    check(mapping, header, path.name)
    times = TimeColumn(mapping.columns["time"], mapping.time_origin_ms)
    for where, row in rows:
        yield where, row, times.ms(row[mapping.columns["time"]], where)
    if policy is not None:  # a bar file is read twice (candles, then settlements): one damage
        policy.damage.extend(found for found in damage or [] if found not in policy.damage)


def _rate(row: Row, name: str | None, column: str, where: str) -> Decimal | None:
    if name is None or not row[column].strip():
        return None
    return rate_cell(row[column], name, where)


QUOTE_CELLS: Final = ("bid", "ask", "bid_qty", "ask_qty", "last", "mark", "index")
BAR_CELLS: Final = ("open", "high", "low", "close")


def _decimals(row: Row, mapping: ColumnMapping, names: tuple[str, ...], where: str,
              divisor: Decimal) -> dict[str, Decimal]:
    """The non-empty mapped cells of `names` as Decimals, each divided by `divisor` (1 when
    none: a division by one is exact)."""
    return {name: decimal_cell(row[column], name, where) if divisor == ONE else
            MONEY.divide(decimal_cell(row[column], name, where), divisor)
            for name, column in mapping.columns.items() if name in names and row[column].strip()}


def _series_spacing(settlements: list[tuple[int, str, str, str, Decimal, int | None]]) -> dict[tuple[str, str], int]:
    """(venue, symbol) → the most common spacing of its settlements when that is 1, 2, 4 or 8 h
    (ties: the shorter): the schedule the series' first settlement takes — a property of the
    contract, not a market value, so no look-ahead. `settlements` sorted by series and time."""
    spacings: dict[tuple[str, str], Counter[int]] = {}
    for (ts_a, venue_a, symbol_a, *_), (ts_b, venue_b, symbol_b, *_) in itertools.pairwise(settlements):
        spacing = backward_interval_ms(ts_a, ts_b) if (venue_a, symbol_a) == (venue_b, symbol_b) else None
        if spacing is not None:
            spacings.setdefault((venue_b, symbol_b), Counter())[spacing] += 1
    return {key: min(c, key=lambda ms: (-c[ms], ms)) for key, c in spacings.items()}


def funding_items(path: Path, mapping: ColumnMapping, *, venues: Mapping[str, VenueConfig],
                  counts: Counter[str], policy: RowPolicy | None = None,
                  skip: frozenset[str] = frozenset()) -> list[tuple[str, Item]]:
    """(where, item) of the funding records of one mapped funding (or bar) file; bad rows go to
    `policy` (module docstring); the rows at `skip` (bars already refused) are left out."""
    instruments = Instruments(mapping, venues, counts)
    settlements: list[tuple[int, str, str, str, Decimal, int | None]] = []
    rows: dict[str, Row] = {}  # where → row, for the dead letters of the second pass
    rate_name = mapping.rate_field()
    rate_column = mapping.columns[rate_name] if rate_name is not None else ""
    for where, row, ts in _time_rows(path, mapping, policy):
        if where in skip:
            continue
        if rate_name is not None and not row[rate_column].strip():
            if mapping.kind == FUNDING:
                _refuse(policy, reasons.MISSING_FIELD, MappingError(f"{where}: {rate_name} is empty"), where, row, ts)
            continue
        rate = _cells(policy, where, row, ts, _rate, row, rate_name, rate_column, where)
        if rate is None:
            continue
        venue, symbol, contract, _ = instruments.of(row, where)
        if contract.kind == "spot":
            continue
        has_interval = "interval" in mapping.columns and row[mapping.columns["interval"]].strip()
        interval = (_cells(policy, where, row, ts, parse_interval_ms, row[mapping.columns["interval"]], where)
                    if has_interval else None)
        if has_interval and interval is None:
            continue
        settlements.append((ts, venue, symbol, where, rate, interval))
        rows[where] = row
    settlements.sort(key=lambda s: (s[1], s[2], s[0]))
    schedule = _series_spacing(settlements)
    previous: dict[tuple[str, str], int] = {}
    items: list[tuple[str, Item]] = []
    for ts, venue, symbol, where, rate, interval in settlements:
        before = previous.get((venue, symbol))
        if before == ts:
            _refuse(policy, reasons.DUPLICATE_ROW, MappingError(f"{where}: {venue} {symbol} has two settlements at "
                                                                f"{ts}"), where, rows[where], ts)
            continue
        previous[(venue, symbol)] = ts
        if interval is not None:
            counts["interval:column"] += 1
        else:
            interval = backward_interval_ms(before, ts)
            if interval is None and before is None and (venue, symbol) in schedule:
                interval = schedule[(venue, symbol)]
                counts["interval:series"] += 1
            elif interval is None:
                interval = venues[venue].funding_interval_ms
                counts[DEFAULTED] += 1
                counts[f"{DEFAULTED}:{venue}"] += 1
            else:
                counts["interval:spacing"] += 1
        if rate_name == "rate_8h":
            rate = per_interval(rate, interval)
        problem = (None if policy is None else
                   funding_problem("rate", rate, interval, policy.plausibility.max_funding_rate_8h))
        if problem is not None:
            _refuse(policy, reasons.IMPOSSIBLE_RATE, MappingError(f"{where}: {problem}"), where, rows[where], ts)
            continue
        counts[MD_FUNDING] += 1
        items.append((where, (ts, MD_FUNDING, FundingRate(
            venue=venue, symbol=symbol, market="perp", rate=rate, predicted_rate=None, interval_ms=interval,
            next_funding_time=ts + interval, ts_exchange=ts, ts_local=ts))))
    return items


def quote_items(path: Path, mapping: ColumnMapping, *, venues: Mapping[str, VenueConfig],
                counts: Counter[str], policy: RowPolicy | None = None) -> list[Item]:
    """The tickers of one mapped quote file, quantities in base units; bad rows go to `policy`
    (module docstring)."""
    instruments = Instruments(mapping, venues, counts)
    plausible = _Prices(policy)
    items: list[Item] = []
    for where, row, ts in _time_rows(path, mapping, policy):
        venue, symbol, contract, multiplier = instruments.of(row, where)
        cells = _cells(policy, where, row, ts, _decimals, row, mapping, QUOTE_CELLS, where, ONE)
        if cells is None:
            continue
        missing = [name for name in ("bid", "ask", "bid_qty", "ask_qty") if name not in cells]
        if missing:
            _refuse(policy, reasons.MISSING_FIELD, MappingError(f"{where}: {', '.join(missing)} empty"), where, row, ts)
            continue
        prices = {name: MONEY.divide(cells[name], multiplier) for name in ("bid", "ask", "last", "mark", "index")
                  if name in cells}
        if prices["bid"] <= 0 or prices["ask"] <= 0:
            _refuse(policy, reasons.NON_POSITIVE_PRICE, MappingError(
                f"{where}: bid {cells['bid']} / ask {cells['ask']}: a price must be > 0"), where, row, ts)
            continue
        bid_qty = MONEY.multiply(contract.base_quantity(cells["bid_qty"], cells["bid"]), multiplier)
        ask_qty = MONEY.multiply(contract.base_quantity(cells["ask_qty"], cells["ask"]), multiplier)
        ticker = Ticker(
            venue=venue, symbol=symbol, market=parse_symbol(symbol).market, bid=prices["bid"], ask=prices["ask"],
            bid_qty=bid_qty, ask_qty=ask_qty, last=prices.get("last"), mark=prices.get("mark"),
            index=prices.get("index"), ts_exchange=ts, ts_local=ts)
        problem = plausible.problem(ticker)
        if problem is not None:
            _refuse(policy, reasons.PRICE_IMPLAUSIBLE, MappingError(f"{where}: {problem}"), where, row, ts)
            continue
        counts[MD_TICKER] += 1
        items.append((ts, MD_TICKER, ticker))
    return items


def bar_items(path: Path, mapping: ColumnMapping, *, venues: Mapping[str, VenueConfig],
              counts: Counter[str], policy: RowPolicy | None = None) -> list[tuple[str, Item]]:
    """(where, item) of one mapped bar file: a candle per row (published at its close) and
    the funding records of its perp rows, in reading order (sorted by the writer); bad rows go
    to `policy` (module docstring)."""
    instruments = Instruments(mapping, venues, Counter())
    plausible = _Prices(policy)
    refused: set[str] = set()
    items: list[tuple[str, Item]] = []
    for where, row, ts in _time_rows(path, mapping, policy):
        venue, symbol, contract, multiplier = instruments.of(row, where)
        counts[f"symbol:{venue} {symbol}"] += 1
        cells = _cells(policy, where, row, ts, _decimals, row, mapping, BAR_CELLS, where, multiplier)
        if cells is None:
            continue
        if "close" not in cells:
            _refuse(policy, reasons.MISSING_FIELD, MappingError(f"{where}: close is empty"), where, row, ts)
            continue
        close = cells["close"]
        has_volume = "volume" in mapping.columns and row[mapping.columns["volume"]].strip()
        volume = (_cells(policy, where, row, ts, decimal_cell, row[mapping.columns["volume"]], "volume", where)
                  if has_volume else Decimal(0))
        if volume is None:
            continue
        if contract.kind != "spot" and close > 0:
            volume = MONEY.multiply(contract.base_quantity(volume, close * multiplier), multiplier)
        ts_close = ts + mapping.bar_ms
        candle = Candle(
            venue=venue, symbol=symbol, market=parse_symbol(symbol).market, interval_ms=mapping.bar_ms,
            open=cells.get("open", close), high=cells.get("high", close), low=cells.get("low", close), close=close,
            volume=volume, ts_open=ts, ts_close=ts_close, ts_local=ts_close)
        problem = plausible.problem(candle)
        if problem is not None:
            _refuse(policy, reasons.PRICE_IMPLAUSIBLE, MappingError(f"{where}: {problem}"), where, row, ts_close)
            refused.add(where)
            continue
        counts[MD_CANDLE] += 1
        items.append((where, (ts_close, MD_CANDLE, candle)))
    if mapping.rate_field() is not None:  # after the candles: at T the bar closing then precedes the settlement
        funding_counts: Counter[str] = Counter()
        items.extend(funding_items(path, mapping, venues=venues, counts=funding_counts, policy=policy,
                                   skip=frozenset(refused)))
        counts.update({key: n for key, n in funding_counts.items() if not key.startswith("symbol:")})
    return items


def convert(kind: str, paths: Sequence[Path], out: Path, mapping: ColumnMapping, *,
            venues: Mapping[str, VenueConfig], policy: RowPolicy | None = None) -> Counter[str]:
    """Mapped funding or quote files → one replay file merged by time; counts by topic, by
    `symbol:<venue> <symbol>` and by how intervals were found; bad rows go to `policy`."""
    counts: Counter[str] = Counter()
    items: list[Item] = []
    for path in paths:
        try:
            if kind == QUOTES:
                items.extend(quote_items(path, mapping, venues=venues, counts=counts, policy=policy))
            else:
                items.extend(item for _, item in funding_items(path, mapping, venues=venues, counts=counts,
                                                               policy=policy))
        except ContractError as error:
            raise MappingError(f"{path.name}: {error}") from None
    write_items(items, out)
    return counts
