"""Column mappings for bring-your-own files (`arbflow convert funding|quotes|bars FILE --map …`
or `--mapping FILE.toml`): which column holds what, and the cell rules — pure (the reading is
`connectors/captures/column_map.py`).

A mapping names, per field of the kind, the column that holds it (`FIELDS`), plus constants
for what the file does not say (`venue`, `asset`, the contract: model/contracts.py, and for
bars the bar length; `header`, the column names of a CSV file without a header line;
`source`, a free text every conversion prints — which funding source a run used). Cells:
- time: integer seconds, milliseconds, microseconds or nanoseconds since the epoch — told
  apart by magnitude, each unit's range being 2000-01-01 … 2100-01-01, so they never overlap
  (a fraction is allowed and truncated to the ms) — or ISO-8601 text (no zone = UTC). The
  first row fixes the column's unit: a value outside every range, or a later row in another
  unit, is refused as ambiguous.
  With a `time_origin` (ISO-8601) in the mapping, a number is instead the milliseconds after
  that moment (QuantConnect Lean's minute files count ms from 00:00 UTC of the file's day).
- interval (funding): hours (a number from 0 to 24: `8`, `1`), milliseconds (an integer from
  60000 to 86400000), a duration (`8h`, `30m`, `PT8H`, `P1D`) or a date offset from
  2000-01-01 or 1970-01-01 (BitMEX's `2000-01-01T08:00:00.000Z` = 8 h). Anything between
  (e.g. `480`, `3600`: minutes? seconds?) is refused as ambiguous. 1 minute … 24 hours.
- rate (funding): the rate per the row's interval, or `rate_8h`, an 8h-equivalent
  (rate per interval = rate_8h × interval / 8 h). A mapping names one of them, never both.
  A fraction (`0.0001`) or a percentage written with its sign (`0.0100%`).
- symbol: a unified symbol (`BTC/USD:BTC`, taken as is) or a venue code whose base asset is
  read from its first part (`XBTUSD`, `BTC-PERPETUAL`, `BTC-USD`, `BTCUSDT` → BTC).
A file that is no known layout and has no mapping is refused by `refusal`: one line naming
the missing and ambiguous fields and an example `--map` built from the file's own header.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from arbflow.model.contracts import CONTRACT_KINDS, Contract, ContractError, parse_contract_size
from arbflow.model.money import MONEY, DecimalTextError, parse_decimal
from arbflow.model.symbols import SymbolError, canonical_asset, parse_symbol
from arbflow.model.timestamps import MS_MAX, MS_MIN

HOUR_MS: Final = 3_600_000
EIGHT_HOURS_MS: Final = 8 * HOUR_MS
MIN_INTERVAL_MS: Final = 60_000
MAX_INTERVAL_MS: Final = 24 * HOUR_MS

FUNDING, QUOTES, BARS = "funding", "quotes", "bars"
KINDS: Final = (FUNDING, QUOTES, BARS)
_WHERE: Final = ("venue", "symbol", "asset")  # optional columns of every kind
# kind → (required fields, optional fields); `rate`/`rate_8h` are one choice (see `check`).
FIELDS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    FUNDING: (("time", "rate"), ("interval", *_WHERE)),
    QUOTES: (("time", "bid", "ask", "bid_qty", "ask_qty"), ("last", "mark", "index", *_WHERE)),
    BARS: (("time", "close"), ("open", "high", "low", "volume", "rate", "interval", *_WHERE)),
}
RATE_FIELDS: Final = ("rate", "rate_8h")
CONSTANTS: Final = ("venue", "asset", "contract", "quote", "settle", "contract_size", "bar", "header", "time_origin",
                    "source")

UNITS: Final[dict[str, int]] = {"s": 1, "ms": 1_000, "µs": 1_000_000, "ns": 1_000_000_000}  # per second
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr|hour|hours|d|day|days)", re.ASCII | re.IGNORECASE)
_DURATION_MS: Final = {"ms": 1, "s": 1_000, "sec": 1_000, "m": 60_000, "min": 60_000, "h": HOUR_MS, "hr": HOUR_MS,
                       "hour": HOUR_MS, "hours": HOUR_MS, "d": 24 * HOUR_MS, "day": 24 * HOUR_MS,
                       "days": 24 * HOUR_MS}
_ISO_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.ASCII)
_OFFSET_EPOCHS_MS: Final = (946_684_800_000, 0)  # 2000-01-01, 1970-01-01 (UTC)
_CODE_QUOTES: Final = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "PERP")


class MappingError(ValueError):
    """A mapping that does not fit the file or the kind, or a cell it cannot read (one line)."""


# -- the mapping ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Field → column name for one kind, and the constants (venue, asset, contract, bar length)."""

    kind: str
    columns: Mapping[str, str]
    venue: str | None = None
    asset: str | None = None
    contract: Contract | None = None  # None: the venue table's
    bar_ms: int = EIGHT_HOURS_MS
    given: Mapping[str, str] = field(default_factory=dict)  # the constants as written (for messages)
    header: tuple[str, ...] | None = None  # the column names of a CSV file without a header line
    time_origin_ms: int | None = None  # numeric times are ms after this moment (ms UTC), not epoch times
    source: str | None = None  # where the data came from, printed by every conversion (e.g. which funding source)

    def rate_field(self) -> str | None:
        """`rate`, `rate_8h` or None (bars without funding)."""
        return next((name for name in RATE_FIELDS if name in self.columns), None)


def parse_map_text(text: str) -> dict[str, str]:
    """`time=ts,rate=funding_rate` → {"time": "ts", "rate": "funding_rate"}; MappingError."""
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, column = part.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise MappingError(f"--map {text!r}: {part!r} is not field=column")
        if name.strip() in pairs:
            raise MappingError(f"--map {text!r}: {name.strip()} is mapped twice")
        pairs[name.strip()] = column.strip()
    return pairs


def build_mapping(kind: str, columns: Mapping[str, str], constants: Mapping[str, str | None]) -> ColumnMapping:
    """A mapping from field → column and the constants (None = not given); MappingError when a
    field or constant is unknown for `kind`, or both rate forms are named."""
    required, optional = FIELDS[kind]
    allowed = (*required, *optional, *(("rate_8h",) if "rate" in (*required, *optional) else ()))
    unknown = [name for name in columns if name not in allowed]
    if unknown:
        raise MappingError(f"unknown {kind} field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    if all(name in columns for name in RATE_FIELDS):
        raise MappingError(f"rate ({columns['rate']}) and rate_8h ({columns['rate_8h']}) are both mapped: a rate "
                           "is either per interval or an 8h-equivalent, never both — map one of them")
    given = {k: v for k, v in constants.items() if v is not None}
    bad = [name for name in given if name not in CONSTANTS or (name == "bar" and kind != BARS)]
    if bad:
        raise MappingError(f"unknown setting(s) {', '.join(bad)} for {kind}; allowed: "
                           f"{', '.join(c for c in CONSTANTS if c != 'bar' or kind == BARS)}")
    contract = None
    if any(name in given for name in ("contract", "quote", "settle", "contract_size")):
        contract = contract_from(given.get("contract", "linear"), given.get("quote"), given.get("settle"),
                                 given.get("contract_size"))
    asset = given.get("asset")
    if asset is not None:
        asset = _asset(asset)[0]
    bar_ms = parse_duration_ms(given["bar"], "bar") if "bar" in given else EIGHT_HOURS_MS
    header = tuple(name.strip() for name in given["header"].split(",")) if "header" in given else None
    origin = _iso_ms(given["time_origin"], f"time_origin {given['time_origin']!r}") if "time_origin" in given else None
    return ColumnMapping(kind=kind, columns=dict(columns), venue=given.get("venue"), asset=asset, contract=contract,
                         bar_ms=bar_ms, given=given, header=header, time_origin_ms=origin, source=given.get("source"))


def contract_from(kind: str, quote: str | None, settle: str | None, size: str | None) -> Contract:
    """A `Contract` from the option texts; MappingError naming the bad one."""
    if kind not in CONTRACT_KINDS:
        raise MappingError(f"contract {kind!r}: allowed {', '.join(CONTRACT_KINDS)}")
    for name, value in (("quote", quote), ("settle", settle)):
        if value is not None and not (value.isascii() and value.isalnum()):
            raise MappingError(f"{name} {value!r} is not a currency code")
    try:
        parsed = parse_contract_size(size) if size is not None else None
    except ValueError as error:
        raise MappingError(str(error)) from None
    contract = Contract(kind=kind, quote=quote.upper() if quote else None,  # type: ignore[arg-type]
                        settle=settle.upper() if settle else None)
    return Contract(contract.kind, contract.quote, contract.settle, parsed) if parsed else contract


def mapping_document(kind: str, document: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """A parsed TOML mapping file → (columns, constants): `[columns]` field = "column", and the
    constants at the top level (venue, asset, contract, quote, settle, contract_size, bar;
    `header`, a list of column names for a CSV without a header line, kept joined by commas;
    `time_origin`, ISO-8601; `source`, a free text)."""
    columns = document.get("columns", {})
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        raise MappingError('[columns] must be a table of field = "column name"')
    constants: dict[str, str] = {}
    for name, value in document.items():
        if name == "columns":
            continue
        if name not in CONSTANTS:
            raise MappingError(f"unknown key {name!r}; allowed: columns, {', '.join(CONSTANTS)}")
        if name == "header" and isinstance(value, list) and all(isinstance(v, str) and "," not in v for v in value):
            constants[name] = ",".join(value)
            continue
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise MappingError(f"{name} must be a string")
        constants[name] = str(value)
    return dict(columns), constants


def check(mapping: ColumnMapping, header: Sequence[str], where: str) -> None:
    """The mapping fits the file: every required field mapped, every mapped column present,
    the venue and the asset known from a column or a constant. MappingError otherwise."""
    required, _ = FIELDS[mapping.kind]
    columns = dict(mapping.columns)
    if "rate_8h" in columns:
        columns["rate"] = columns.pop("rate_8h")
    missing = [name for name in required if name not in columns and not (name == "rate" and mapping.kind == BARS)]
    absent = [f"{name}={column}" for name, column in mapping.columns.items() if column not in header]
    problems = []
    if missing:
        problems.append(f"unmapped: {', '.join(missing)}")
    if absent:
        problems.append(f"not in the file: {', '.join(absent)}")
    if mapping.venue is None and "venue" not in columns:
        problems.append("no venue (--venue NAME or venue=COLUMN)")
    if mapping.asset is None and "asset" not in columns and "symbol" not in columns:
        problems.append("no asset (--asset BTC, asset=COLUMN or symbol=COLUMN)")
    if problems:
        raise MappingError(f"{where}: {'; '.join(problems)}; columns: {', '.join(header)}")


# -- cells ---------------------------------------------------------------------------------


def time_unit(value: int) -> str | None:
    """The unit whose 2000…2100 range holds `value` (s, ms, µs, ns), else None."""
    for unit, per_second in UNITS.items():
        if MS_MIN * per_second // 1_000 <= value < MS_MAX * per_second // 1_000:
            return unit
    return None


class TimeColumn:
    """Reads one time column; the first row fixes its unit (`unit`: s, ms, µs, ns or iso). With
    an `origin` (ms UTC, the mapping's `time_origin`) a number is the milliseconds after it
    (Lean's minute files count ms from the file's day), never an epoch time."""

    def __init__(self, name: str, origin: int | None = None) -> None:
        self.name = name
        self.origin = origin
        self.unit: str | None = None

    def ms(self, text: str, where: str) -> int:
        """The cell as integer ms UTC; MappingError when unreadable or ambiguous."""
        text = text.strip()
        if not text:
            raise MappingError(f"{where}: {self.name} is empty")
        number = re.fullmatch(r"(\d+)(?:\.(\d+))?", text, re.ASCII)
        if number is not None and self.origin is not None:
            return self.origin + int(parse_decimal(text))
        if number is None:
            value = _iso_ms(text, f"{where}: {self.name} {text!r}")
            unit = "iso"
        else:
            whole = int(number[1])
            unit_or_none = time_unit(whole)
            if unit_or_none is None:
                raise MappingError(f"{where}: {self.name} {text!r} is ambiguous: neither seconds, milliseconds, "
                                   "microseconds nor nanoseconds between 2000 and 2100")
            unit = unit_or_none
            exact = parse_decimal(text) * 1_000 / UNITS[unit]
            value = int(exact)
        if self.unit is None:
            self.unit = unit
        elif unit != self.unit:
            raise MappingError(f"{where}: {self.name} {text!r} is in {unit}, the rows before in {self.unit}: "
                               "ambiguous, the column mixes units")
        return value


def _iso_ms(text: str, what: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(f"{what} is neither an epoch number nor ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000 + delta.microseconds // 1_000


def parse_duration_ms(text: str, what: str) -> int:
    """`8h`, `30m`, `1d`, `PT8H`, `P1D` → ms; MappingError."""
    cleaned = text.strip()
    match = _DURATION.fullmatch(cleaned)
    if match is not None:
        return _whole_ms(Decimal(match[1]) * _DURATION_MS[match[2].lower()], what, text)
    iso = _ISO_DURATION.fullmatch(cleaned.upper())
    if iso is not None and cleaned.upper() not in ("P", "PT"):
        days, hours, minutes, seconds = (Decimal(part or 0) for part in iso.groups())
        return _whole_ms(((days * 24 + hours) * 60 + minutes) * 60_000 + seconds * 1_000, what, text)
    raise MappingError(f"{what} {text!r} is not a duration such as 8h, 30m or PT8H")


def _whole_ms(value: Decimal, what: str, text: str) -> int:
    if value != value.to_integral_value():
        raise MappingError(f"{what} {text!r} is not a whole number of milliseconds")
    return int(value)


def parse_interval_ms(text: str, where: str) -> int:
    """A funding interval cell in any of the module docstring's forms → ms, checked to lie in
    1 minute … 24 hours; MappingError."""
    cleaned = text.strip()
    what = f"{where}: interval {text!r}"
    try:
        number: Decimal | None = parse_decimal(cleaned)
    except DecimalTextError:
        number = None
    if number is not None:
        if 0 < number <= 24:
            value = _whole_ms(number * HOUR_MS, what, "")
        elif MIN_INTERVAL_MS <= number <= MAX_INTERVAL_MS and number == number.to_integral_value():
            value = int(number)
        else:
            raise MappingError(f"{what} is ambiguous: hours are 0 < h <= 24, milliseconds 60000 … 86400000; "
                               "write a duration such as 8h")
    elif "-" in cleaned[:5] and ":" in cleaned:
        moment = _iso_ms(cleaned, what)
        epoch = next((e for e in _OFFSET_EPOCHS_MS if 0 < moment - e <= MAX_INTERVAL_MS), None)
        if epoch is None:
            raise MappingError(f"{what}: a date offset must count from 2000-01-01 or 1970-01-01 "
                               "(e.g. 2000-01-01T08:00:00Z = 8 h)")
        value = moment - epoch
    else:
        value = parse_duration_ms(cleaned, what)
    if not MIN_INTERVAL_MS <= value <= MAX_INTERVAL_MS:
        raise MappingError(f"{what} = {value} ms is outside 1 minute … 24 hours")
    return value


def per_interval(rate_8h: Decimal, interval_ms: int) -> Decimal:
    """An 8h-equivalent rate as the rate per `interval_ms`: rate_8h × interval / 8 h (exact
    for the usual 1, 2, 4 and 8 h)."""
    return MONEY.multiply(rate_8h, MONEY.divide(Decimal(interval_ms), Decimal(EIGHT_HOURS_MS)))


def decimal_cell(text: str, name: str, where: str) -> Decimal:
    """A number copied exactly from its text (never through float); MappingError."""
    try:
        return parse_decimal(text.strip())
    except DecimalTextError:
        raise MappingError(f"{where}: {name} {text!r} is not a decimal number") from None


def rate_cell(text: str, name: str, where: str) -> Decimal:
    """A funding rate: a fraction (`0.0001`) or a percentage with its sign (`0.0100%` = 0.0001,
    as venue websites print them), exact; MappingError."""
    cleaned = text.strip()
    if cleaned.endswith("%"):
        return MONEY.divide(decimal_cell(cleaned[:-1], name, where), Decimal(100))
    return decimal_cell(cleaned, name, where)


def _asset(text: str) -> tuple[str, Decimal]:
    try:
        return canonical_asset(text)
    except SymbolError as error:
        raise MappingError(str(error)) from None


def symbol_cell(text: str, contract: Contract, where: str) -> tuple[str, Decimal]:
    """(unified symbol, multiplier) of a symbol cell: a unified symbol as is, else the base
    asset of a venue code under `contract`; MappingError."""
    code = text.strip()
    if "/" in code:
        try:
            return parse_symbol(code).symbol, Decimal(1)
        except SymbolError as error:
            raise MappingError(f"{where}: {error}") from None
    first = re.split(r"[-_: ]", code)[0]
    for quote in _CODE_QUOTES:
        if first.upper().endswith(quote) and len(first) > len(quote):
            first = first[: -len(quote)]
            break
    try:
        asset, multiplier = canonical_asset(first)
    except SymbolError:
        raise MappingError(f"{where}: symbol {text!r}: no base asset found in it") from None
    return asset_symbol(asset, contract, where), multiplier


def asset_symbol(asset: str, contract: Contract, where: str) -> str:
    """The unified symbol of `asset` under `contract`; MappingError."""
    try:
        return contract.symbol(asset)
    except ContractError as error:
        raise MappingError(f"{where}: {error}") from None


# -- the refusal of an unmapped file -------------------------------------------------------

_GUESS: Final[dict[str, re.Pattern[str]]] = {
    "time": re.compile(r"time|timestamp|^ts|date", re.IGNORECASE),
    "interval": re.compile(r"interval|period", re.IGNORECASE),
    "rate_8h": re.compile(r"8h|8_h|eight", re.IGNORECASE),
    "rate": re.compile(r"rate|funding", re.IGNORECASE),
    "bid_qty": re.compile(r"bid.?(qty|size|amount|volume|sz)", re.IGNORECASE),
    "ask_qty": re.compile(r"ask.?(qty|size|amount|volume|sz)", re.IGNORECASE),
    "bid": re.compile(r"bid", re.IGNORECASE),
    "ask": re.compile(r"ask", re.IGNORECASE),
    "open": re.compile(r"^open$|^o$", re.IGNORECASE),
    "high": re.compile(r"^high$|^h$", re.IGNORECASE),
    "low": re.compile(r"^low$|^l$", re.IGNORECASE),
    "close": re.compile(r"^close$|^c$|price", re.IGNORECASE),
    "volume": re.compile(r"^vol|^v$", re.IGNORECASE),
    "venue": re.compile(r"venue|exchange", re.IGNORECASE),
    "symbol": re.compile(r"symbol|instrument|contract|market|pair", re.IGNORECASE),
    "asset": re.compile(r"asset|coin|^base", re.IGNORECASE),
}


def guess(kind: str, header: Sequence[str]) -> tuple[dict[str, str], list[str], dict[str, list[str]]]:
    """(a guessed mapping, required fields no column looks like, field → its several
    candidates), each column used at most once, the more specific fields first."""
    required, optional = FIELDS[kind]
    wanted = [*required, *optional]
    if "rate" in wanted:
        wanted.insert(wanted.index("rate"), "rate_8h")
    order = sorted(wanted, key=lambda name: list(_GUESS).index(name) if name in _GUESS else len(_GUESS))
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    for name in order:
        pattern = _GUESS.get(name)
        if pattern is None:
            continue
        candidates = [c for c in header if c not in taken and pattern.search(c)]
        if name == "rate" and "rate_8h" in mapping:
            if candidates:
                ambiguous["rate"] = [mapping["rate_8h"], *candidates]
            continue
        if not candidates:
            continue
        mapping[name] = candidates[0]
        taken.add(candidates[0])
        if len(candidates) > 1 and name in (*required, "rate_8h"):
            ambiguous[name] = candidates
    missing = [name for name in required if name not in mapping and not (name == "rate" and "rate_8h" in mapping)
               and not (kind == BARS and name == "rate")]
    return {name: mapping[name] for name in wanted if name in mapping}, missing, ambiguous


def refusal(kind: str, file_name: str, header: Sequence[str]) -> str:
    """The one line that refuses a file of no known layout without a mapping: what is missing
    or ambiguous, the columns, and an example `--map` built from them."""
    shown = [c for c in header if c]
    if not shown:
        return f"{file_name}: not a known {kind} layout and no column names found (an empty file, or JSON that is " \
               "not a list of objects); map its columns with --map field=column"
    mapping, missing, ambiguous = guess(kind, shown)
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)} (no column looks like it)")
    for name, candidates in ambiguous.items():
        if name == "rate" and "rate_8h" in mapping:
            problems.append(f"ambiguous rate ({' or '.join(candidates)}): map the rate per interval as rate= or "
                            "the 8h-equivalent as rate_8h=, never both")
        else:
            problems.append(f"ambiguous {name} ({' or '.join(candidates)})")
    if not problems:
        problems.append("a mapping is required (the guess below fits the column names only)")
    example = ",".join(f"{name}={column}" for name, column in mapping.items())
    for name in missing:
        example += f"{',' if example else ''}{name}=COLUMN"
    extra = "" if "venue" in mapping else " --venue NAME"
    extra += "" if "symbol" in mapping or "asset" in mapping else " --asset BTC"
    return (f"{file_name}: not a known {kind} layout and no --map given: {'; '.join(problems)}; columns: "
            f"{', '.join(shown)}; e.g. --map {example}{extra}")
