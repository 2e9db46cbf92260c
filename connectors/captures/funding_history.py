"""Recorded funding and 8h-candle histories → replay files (see fixtures/funding/PROVENANCE.md).

Three CSV formats are read — always the UTC-corrected derived files of the data sets, never the
originals (whose times are local):

- `convert_aha_hh`: `spot_perp_8h_binance_bybit_okx_utc.csv.gz` — binance, bybit, okx; BTC, ETH;
  spot, linear and inverse perp; 8h bars 2023-01-01 → 2024-07-01 → `md.candle` for every row and
  `md.funding` for every perp row (`BTC/USDT`, `BTC/USDT:USDT`, `BTC/USD:BTC`).
- `convert_binance_website`: `binance_website_funding_*.utc.csv.gz` (the website's export) →
  `md.funding` for BTCUSDT (`BTC/USDT:USDT`) or BTCUSD CM (`BTC/USD:BTC`).
- `convert_supervik`: `funding_btc_eth_7venues_utc.csv.gz` — binance, bybit, gate, htx, kucoin,
  mexc (8h, `BTC/USDT:USDT`) and dYdX v3 (1h, `BTC/USD:USDC`), 2020 → 2023 → `md.funding`.

`convert(paths, out, venues=…)` recognises each file's format by its header and merges them.
Every function takes `venues`, the configuration's venue table (`Config.venues`), for the default
funding intervals, and returns a `Counter`: `md.candle`, `md.funding`, `interval:defaulted` and
`interval:defaulted:<venue>`.

Rules. No look-ahead: a record published at `ts_local` never holds information from after it.
- Funding: a rate r settled at T (ms UTC) → `FundingRate(rate=r, ts_exchange=T, ts_local=T,
  next_funding_time=T + interval_ms, predicted_rate=None)`: the last settled rate, standing as the
  estimate of the next settlement. The histories hold no predictions, so `predicted_rate` is None
  (never 0-as-unknown).
- `interval_ms` is the backward difference T(i) − T(i−1) within one venue and symbol, rounded to
  the nearest minute (Binance's settlement times jitter by +0…47 ms), when that is 1h, 2h, 4h or
  8h; otherwise — the first settlement of a series, Gate's 752 h gap, HTX's off-schedule
  settlements (3–24 h apart) — the venue's configured `funding_interval_ms` (dYdX: 1h), counted as
  `interval:defaulted`. Never the forward difference: that would be look-ahead.
- Spot rows give no funding record (the spot sentinel of docs/architecture.md §3.2 is for live feeds).
- Candles: the row at t is the 8h bar [t, t + 8h) → `Candle(ts_open=t, ts_close=t + 8h,
  ts_local=t + 8h)`: a bar is known only once it has closed.
- Numbers are copied exactly from the CSV strings (`model.money.venue_decimal`, which only drops
  trailing fractional zeros; exponent forms like `-1.609e-05` are exact too); never float.
- Output is in non-decreasing `ts_local`; ties keep input order (in aha-hh the bar closing at T
  precedes the funding settled at T).

Caveats carried over from the data sets:
- OKX funding times in aha-hh may be off by one interval (±8 h: its PROVENANCE). Measured on the
  same file, OKX's rate at T tracks Binance's rate at T − 8 h and OKX's own basis over
  [T − 16 h, T − 8 h] — OKX's pre-2024 mechanism (the rate fixed one period ahead) — so publishing
  it at T is late rather than early: no look-ahead, but do not read OKX−Binance spreads as
  simultaneous.
- Candle volume is as ccxt returned it: base units for spot and linear perps, the venue's own unit
  for inverse perps; it is not converted.
- The Binance website rates are the percent strings ÷ 100; they are truncated to 1e-8 (the API
  gives up to 1e-8 more on some settlements).

Bad rows (`connectors.captures.row_policy`, the policy of every reader): a row with a malformed
number or time (INVALID_NUMBER), an unknown market, pair, contract or asset (UNKNOWN_SYMBOL), an
unconfigured venue that needs a default interval (UNKNOWN_VENUE), a settlement at or before the
previous one of its series (DUPLICATE_ROW, OUT_OF_ORDER_ROW), a rate whose 8 h equivalent is beyond
`plausibility.max_funding_rate_8h` (IMPOSSIBLE_RATE) or a price outside the plausibility band or
below its asset's floor (PRICE_IMPLAUSIBLE, `model.plausibility`) is handed to the `RowPolicy`
with its `file:line` and raw text: a dead letter, the rest of the file read (or, strict — the
default when no policy is given — `BadRow`, a `ValueError`, at the first one). A row is refused
whole: none of its records is written. A missing column or a file of no known format is a
`ValueError` naming the file. A compressed file that breaks before its end gives every row before
the break and its `Damage` (`connectors.compressed`) in the policy.
"""

import csv
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from arbflow.connectors.captures.row_policy import RowError, RowPolicy
from arbflow.connectors.compressed import Damage, DamagedFile, lines
from arbflow.connectors.replay import ReplayWriter
from arbflow.model import reasons
from arbflow.model.config import HOUR_MS, PlausibilityConfig, VenueConfig
from arbflow.model.market import Candle, FundingRate
from arbflow.model.money import DecimalTextError, venue_decimal
from arbflow.model.plausibility import PriceReferences, check_record, funding_problem
from arbflow.model.symbols import SymbolError, canonical_asset, from_venue, parse_symbol, unified
from arbflow.model.topics import MD_CANDLE, MD_FUNDING

MINUTE_MS: Final = 60_000
CANDLE_INTERVAL_MS: Final = 8 * HOUR_MS
KNOWN_INTERVALS_MS: Final = frozenset(hours * HOUR_MS for hours in (1, 2, 4, 8))
DEFAULTED: Final = "interval:defaulted"

Item = tuple[int, str, Any]  # (ts_local, topic, record)
Venues = Mapping[str, VenueConfig]

AHA_HH: Final = "aha-hh"
BINANCE_WEBSITE: Final = "binance-website"
SUPERVIK: Final = "supervik"
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    AHA_HH: ("ts_ms_utc", "exchange", "asset", "pair", "market", "open", "high", "low", "close", "volume",
             "funding_rate"),
    BINANCE_WEBSITE: ("funding_time_ms_utc", "contract", "funding_rate"),
    SUPERVIK: ("asset", "venue", "funding_time_ms_utc", "funding_rate"),
}


def backward_interval_ms(previous_ms: int | None, ts_ms: int) -> int | None:
    """`ts_ms − previous_ms` rounded to the nearest minute when it is 1h, 2h, 4h or 8h, else None
    (also for the first settlement, `previous_ms` None). Uses only the past: no look-ahead."""
    if previous_ms is None:
        return None
    rounded = (ts_ms - previous_ms + MINUTE_MS // 2) // MINUTE_MS * MINUTE_MS
    return rounded if rounded in KNOWN_INTERVALS_MS else None


class FundingSeries:
    """Settled rates of many (venue, symbol) series → `FundingRate` records, one pass in time
    order per series; remembers each series' previous settlement for the backward interval."""

    def __init__(self, venues: Venues, counts: Counter[str], plausibility: PlausibilityConfig | None = None) -> None:
        self._venues = venues
        self._counts = counts
        self._cap_8h = (plausibility or PlausibilityConfig()).max_funding_rate_8h
        self._previous: dict[tuple[str, str], int] = {}

    def check(self, venue: str, symbol: str, rate: Decimal, ts_ms: int) -> FundingRate:
        """The record of `rate` settled at `ts_ms`, not yet counted (`commit` does that); RowError
        when the series does not move forward, the venue is unknown or the rate is impossible."""
        previous = self._previous.get((venue, symbol))
        if previous is not None and ts_ms <= previous:
            reason = reasons.DUPLICATE_ROW if ts_ms == previous else reasons.OUT_OF_ORDER_ROW
            raise RowError(reason, f"{venue} {symbol} settlement {ts_ms} is not after {previous}")
        interval_ms = backward_interval_ms(previous, ts_ms)
        if interval_ms is None:
            config = self._venues.get(venue)
            if config is None:
                raise RowError(reasons.UNKNOWN_VENUE,
                               f"venue {venue!r} is not configured, so its funding interval is unknown")
            interval_ms = config.funding_interval_ms
        problem = funding_problem("rate", rate, interval_ms, self._cap_8h)
        if problem is not None:
            raise RowError(reasons.IMPOSSIBLE_RATE, problem)
        return FundingRate(venue=venue, symbol=symbol, market="perp", rate=rate, predicted_rate=None,
                           interval_ms=interval_ms, next_funding_time=ts_ms + interval_ms, ts_exchange=ts_ms,
                           ts_local=ts_ms)

    def commit(self, record: FundingRate) -> FundingRate:
        """The checked record joins its series (and the counts)."""
        previous = self._previous.get((record.venue, record.symbol))
        self._previous[(record.venue, record.symbol)] = record.ts_exchange or 0
        if backward_interval_ms(previous, record.ts_exchange or 0) is None:
            self._counts[DEFAULTED] += 1
            self._counts[f"{DEFAULTED}:{record.venue}"] += 1
        self._counts[MD_FUNDING] += 1
        return record

    def settle(self, venue: str, symbol: str, rate: Decimal, ts_ms: int) -> FundingRate:
        """`check` then `commit`."""
        return self.commit(self.check(venue, symbol, rate, ts_ms))


# -- reading CSV ---------------------------------------------------------------------------

_BOM: Final = "\ufeff"
Row = tuple[str, dict[str, str], str]  # (file:line, values by column, the raw line)


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file (.gz, .xz and .zst read too); a UTF-8 BOM (Binance's
    exports have one) is dropped. A first line that is no CSV at all (a binary file) has none:
    []. A compressed file that breaks before its first line is `DamagedFile` (exit 1 naming the
    break), not a file without columns."""
    damage: list[Damage] = []
    for raw in lines(path, damage):
        try:
            return next(csv.reader([raw.decode("utf-8", errors="replace").removeprefix(_BOM)]), [])
        except csv.Error:
            return []
    if damage:
        raise DamagedFile(damage)
    return []


def detect_format(path: Path) -> str:
    """`aha-hh`, `binance-website` or `supervik` from the header; ValueError for anything else."""
    header = set(read_header(path))
    for name, columns in COLUMNS.items():
        if header >= set(columns):
            return name
    raise ValueError(f"{path.name}: not a known funding history (expected the *_utc.csv(.gz) derived files); "
                     f"columns: {', '.join(sorted(header))}")


def _rows(path: Path, columns: tuple[str, ...], policy: RowPolicy) -> Iterator[Row]:
    """(`file:line`, row, raw line) for each data row; ValueError when a column is missing. A row
    whose field count differs from the header's is refused (MISSING_FIELD); a file that breaks
    before its end ends at the break (its `Damage` in `policy`)."""
    header: list[str] | None = None
    for number, raw in enumerate(lines(path, policy.damage), start=1):
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if header is None:
            try:
                header = next(csv.reader([text.removeprefix(_BOM)]), [])
            except csv.Error as error:  # a binary file
                raise ValueError(f"{path.name}: the first line is not a CSV header ({error})") from None
            missing = [c for c in columns if c not in header]
            if missing:
                raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
            continue
        if not text:
            continue
        where = f"{path.name}:{number}"
        try:
            values = next(csv.reader([text]), [])
        except csv.Error as error:
            policy.refuse(reasons.MISSING_FIELD, f"not a CSV row: {error}", source=where, raw=text)
            continue
        if len(values) != len(header):
            policy.refuse(reasons.MISSING_FIELD, f"{len(values)} fields, the header has {len(header)}",
                          source=where, raw=text)
            continue
        yield where, dict(zip(header, values, strict=True)), text


def _decimal(row: dict[str, str], name: str) -> Decimal:
    try:
        return venue_decimal(row[name])
    except DecimalTextError:
        raise RowError(reasons.INVALID_NUMBER, f"{name} {row[name]!r} is not a decimal number") from None


def _ms(row: dict[str, str], name: str) -> int:
    text = row[name]
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        raise RowError(reasons.INVALID_NUMBER, f"{name} {text!r} is not integer milliseconds")
    return int(text)


def _asset(text: str) -> str:
    try:
        return canonical_asset(text)[0]
    except SymbolError as error:
        raise RowError(reasons.UNKNOWN_SYMBOL, str(error)) from None


class _Prices:
    """The plausibility of one file's bar prices: references per base asset, in file order."""

    def __init__(self, plausibility: PlausibilityConfig) -> None:
        self._config = plausibility
        self._assets: dict[str, PriceReferences] = {}

    def check(self, asset: str, candle: Candle) -> None:
        references = self._assets.setdefault(asset, PriceReferences())
        problem = check_record(references, asset, candle, candle.ts_close, self._config)
        if problem is not None:
            raise RowError(reasons.PRICE_IMPLAUSIBLE, problem)


def _policy(policy: RowPolicy | None) -> RowPolicy:
    return policy if policy is not None else RowPolicy()


# -- the three formats ---------------------------------------------------------------------


def _aha_hh_symbol(asset: str, market: str, pair: str) -> str:
    """spot `BTC/USDT` → `BTC/USDT`; perp_linear `BTCUSDT` → `BTC/USDT:USDT`; perp_inverse
    `BTCUSDCM` (Binance BTCUSD_PERP, Bybit BTCUSD, OKX BTC-USD-SWAP) → `BTC/USD:BTC`."""
    expected = {"spot": (f"{asset}/USDT", unified(asset, "USDT", "spot")),
                "perp_linear": (f"{asset}USDT", unified(asset, "USDT", "perp")),
                "perp_inverse": (f"{asset}USDCM", unified(asset, "USD", "perp", settle=asset))}.get(market)
    if expected is None or expected[0] != pair:
        raise RowError(reasons.UNKNOWN_SYMBOL, f"market {market!r} with pair {pair!r} is not a known aha-hh instrument")
    return parse_symbol(expected[1]).symbol


def read_aha_hh(path: Path, *, venues: Venues, counts: Counter[str], policy: RowPolicy | None = None
                ) -> Iterator[Item]:
    """Items of the aha-hh 8h file in row order: a candle per row, a funding record per perp row."""
    return (item for _, item in aha_hh_items(path, venues=venues, counts=counts, policy=policy))


def aha_hh_items(path: Path, *, venues: Venues, counts: Counter[str],
                 missing_funding: Callable[[str], None] | None = None,
                 policy: RowPolicy | None = None) -> Iterator[tuple[str, Item]]:
    """`read_aha_hh` with the `file:line` of the row each item came from. A perp row without a
    funding rate is refused (MISSING_FIELD), or — given `missing_funding` — is told to it
    (`file:line`) and gives its candle without a funding record."""
    policy = _policy(policy)
    series = FundingSeries(venues, counts, policy.plausibility)
    prices = _Prices(policy.plausibility)
    for where, row, raw in _rows(path, COLUMNS[AHA_HH], policy):
        try:
            items = _aha_hh_row(row, series, prices, where, missing_funding)
        except RowError as error:
            policy.refuse(error.reason, error.detail, source=where, raw=raw)
            continue
        counts[MD_CANDLE] += 1
        for item in items:
            yield where, item


def _aha_hh_row(row: dict[str, str], series: FundingSeries, prices: _Prices, where: str,
                missing_funding: Callable[[str], None] | None) -> list[Item]:
    """The items of one aha-hh row (its settlement, then its bar); RowError if the row is bad."""
    ts_open, venue, asset = _ms(row, "ts_ms_utc"), row["exchange"], _asset(row["asset"])
    symbol = _aha_hh_symbol(asset, row["market"], row["pair"])
    market = parse_symbol(symbol).market
    funding: FundingRate | None = None
    if market == "perp" and not row["funding_rate"]:
        if missing_funding is None:
            raise RowError(reasons.MISSING_FIELD, "perp row without funding_rate")
    elif market == "perp":
        funding = series.check(venue, symbol, _decimal(row, "funding_rate"), ts_open)
    elif row["funding_rate"]:
        raise RowError(reasons.INVALID_VALUE, "spot row with a funding_rate")
    ts_close = ts_open + CANDLE_INTERVAL_MS
    candle = Candle(venue=venue, symbol=symbol, market=market, interval_ms=CANDLE_INTERVAL_MS,
                    open=_decimal(row, "open"), high=_decimal(row, "high"), low=_decimal(row, "low"),
                    close=_decimal(row, "close"), volume=_decimal(row, "volume"),
                    ts_open=ts_open, ts_close=ts_close, ts_local=ts_close)
    prices.check(asset, candle)  # the last check: an accepted bar becomes a price reference
    items: list[Item] = []
    if funding is not None:
        items.append((ts_open, MD_FUNDING, series.commit(funding)))
    elif market == "perp" and missing_funding is not None:
        missing_funding(where)
    items.append((ts_close, MD_CANDLE, candle))
    return items


def _website_symbol(contract: str) -> str:
    """`BTCUSDT Perpetual` → `BTC/USDT:USDT`; `BTCUSD CM Perpetual` (COIN-M) → `BTC/USD:BTC`."""
    code = contract.removesuffix(" Perpetual")
    code = code.removesuffix(" CM") + "_PERP" if code.endswith(" CM") else code
    try:
        return from_venue("binance", code, "perp").instrument.symbol
    except SymbolError:
        raise RowError(reasons.UNKNOWN_SYMBOL, f"contract {contract!r} is not a Binance perpetual") from None


def _funding_rows(path: Path, columns: tuple[str, ...], venues: Venues, counts: Counter[str],
                  policy: RowPolicy | None, settlement: Callable[[dict[str, str]], tuple[str, str, Decimal, int]]
                  ) -> Iterator[Item]:
    """Funding items of a settlements-only file: `settlement(row)` gives (venue, symbol, rate, ts)."""
    policy = _policy(policy)
    series = FundingSeries(venues, counts, policy.plausibility)
    for where, row, raw in _rows(path, columns, policy):
        try:
            venue, symbol, rate, ts = settlement(row)
            record = series.settle(venue, symbol, rate, ts)
        except RowError as error:
            policy.refuse(error.reason, error.detail, source=where, raw=raw)
            continue
        yield ts, MD_FUNDING, record


def _website_settlement(row: dict[str, str]) -> tuple[str, str, Decimal, int]:
    return ("binance", _website_symbol(row["contract"]), _decimal(row, "funding_rate"),
            _ms(row, "funding_time_ms_utc"))


def read_binance_website(path: Path, *, venues: Venues, counts: Counter[str], policy: RowPolicy | None = None
                         ) -> Iterator[Item]:
    """Funding items of a Binance website export (derived `*.utc.csv`), from the exact
    `funding_rate` column (the percent string ÷ 100), in row order."""
    return _funding_rows(path, COLUMNS[BINANCE_WEBSITE], venues, counts, policy, _website_settlement)


def _supervik_settlement(row: dict[str, str]) -> tuple[str, str, Decimal, int]:
    ts, venue, asset = _ms(row, "funding_time_ms_utc"), row["venue"], _asset(row["asset"])
    symbol = unified(asset, "USD", "perp", settle="USDC") if venue == "dydx" else unified(asset, "USDT", "perp")
    return venue, symbol, _decimal(row, "funding_rate"), ts


def read_supervik(path: Path, *, venues: Venues, counts: Counter[str], policy: RowPolicy | None = None
                  ) -> Iterator[Item]:
    """Funding items of the supervik 7-venue file in row order. Its `BTC-USDT` is a USDT linear
    perp on every venue but dYdX v3, whose markets were `BTC-USD` settled in USDC."""
    return _funding_rows(path, COLUMNS[SUPERVIK], venues, counts, policy, _supervik_settlement)


READERS: Final = {AHA_HH: read_aha_hh, BINANCE_WEBSITE: read_binance_website, SUPERVIK: read_supervik}


# -- writing -------------------------------------------------------------------------------


def write_items(items: list[Item], out: Path) -> None:
    """Write items in non-decreasing ts_local; the sort is stable, so ties keep input order."""
    items.sort(key=itemgetter(0))
    with ReplayWriter(out) as writer:
        for _, topic, record in items:
            writer.write(topic, record)


def _convert_one(kind: str, path: Path, out: Path, venues: Venues, policy: RowPolicy | None) -> Counter[str]:
    counts: Counter[str] = Counter()
    write_items(list(READERS[kind](path, venues=venues, counts=counts, policy=policy)), out)
    return counts


def convert_aha_hh(path: Path, out: Path, *, venues: Venues, policy: RowPolicy | None = None) -> Counter[str]:
    """aha-hh `spot_perp_8h_binance_bybit_okx_utc.csv(.gz)` → replay file `out` (.jsonl[.gz])."""
    return _convert_one(AHA_HH, path, out, venues, policy)


def convert_binance_website(path: Path, out: Path, *, venues: Venues, policy: RowPolicy | None = None
                            ) -> Counter[str]:
    """Binance website funding export `binance_website_funding_*.utc.csv(.gz)` → replay file `out`."""
    return _convert_one(BINANCE_WEBSITE, path, out, venues, policy)


def convert_supervik(path: Path, out: Path, *, venues: Venues, policy: RowPolicy | None = None) -> Counter[str]:
    """supervik `funding_btc_eth_7venues_utc.csv(.gz)` → replay file `out`."""
    return _convert_one(SUPERVIK, path, out, venues, policy)


def convert(paths: Sequence[Path], out: Path, *, venues: Venues, policy: RowPolicy | None = None) -> Counter[str]:
    """Any mix of the three formats (recognised by header) → one replay file merged by ts_local.

    Each file is converted on its own (intervals never span files); files that cover the same
    settlements (e.g. supervik and aha-hh Binance 2023) give one record per file. Bad rows go to
    `policy` (strict when None: the first raises `BadRow`).
    """
    counts: Counter[str] = Counter()
    items: list[Item] = []
    for path in paths:
        items.extend(READERS[detect_format(path)](path, venues=venues, counts=counts, policy=policy))
    write_items(items, out)
    return counts
