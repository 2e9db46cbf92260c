"""The declared quote model of a backtest: 8 h bars with funding (the aha-hh history of
fixtures/funding/, read by `funding_history.aha_hh_items`) → `md.ticker` and `md.funding`
records a replay runs through the desks (`arbflow convert bars`, `arbflow backtest`).

The model (`[backtest]` in model/config.py; both numbers are assumptions and are printed with
every backtest). A bar of one instrument closing at T with close c becomes
`Ticker(bid = c × (1 − h), ask = c × (1 + h), bid_qty = ask_qty = depth_usd / c,
ts_exchange = ts_local = T)`, h = `half_spread_bps` / 10⁴. Prices are exact (Decimal products
in the money context); sizes are base units rounded down to 1e-8, so the assumed depth is
never overstated. The bar is known only once it has closed, so the quote never holds
information from after T. Funding settlements become exactly the records `arbflow convert
funding` writes (same reader, same intervals).

One scan per close. A desk scans on a price update; left at its live setting
(`signals.scan_on = "price_update"`) it would scan the first ticker of T, when every other
leg still holds the quote of T − 8 h (refused VENUE_STALE: never priced from stale data).
`arbflow backtest` runs with `signals.scan_on = "timestamp_complete"`: the scan a close's
first ticker found due runs once stream time moves past T — every quote of T and the
funding settled at T are in by then. The file holds the bars and settlements only (no
extra record); the last close of a file is not scanned (no later record moves time past it).

Refusals. A bar whose close is zero or negative, or whose size rounds to 0, cannot be quoted:
it becomes a `Rejected` (source `file:line`, reason NON_POSITIVE_PRICE or ZERO_SIZE) in the
returned list and its instrument simply has no quote for that close (the scanner holds the
pair flat, VENUE_STALE or NO_BOOK, with its reason). A perp row without its funding rate is
quoted but writes no funding record (a `Rejected`, MISSING_FIELD): the leg's last rate is
the estimate for a settlement that has passed, so once the 60 s settlement grace is over the
scanner refuses its pairs STALE_FUNDING. Rows the reader refuses (an unknown instrument, a
malformed number or time, an implausible price or rate) follow the one bad-row policy of
`convert funding` (`connectors.captures.row_policy`): dead letters naming `file:line`, or with
the strict policy (the default without one) `BadRow` at the first.

Output: non-decreasing `ts_local`; at one time the closing bars' tickers precede the funding
settled then.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Final

from arbflow.connectors.captures.funding_history import Item, aha_hh_items, write_items
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.model import codec, reasons
from arbflow.model.config import BacktestConfig, Config, VenueConfig
from arbflow.model.market import Candle, Ticker
from arbflow.model.money import BPS_PER_UNIT, MONEY, ONE, ZERO
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import base_asset
from arbflow.model.topics import MD_CANDLE, MD_TICKER

SIZE_STEP: Final = Decimal("1e-8")  # base units: sizes are rounded down to this


@dataclass(frozen=True, slots=True)
class QuoteModel:
    """`h` (a fraction, half_spread_bps / 10⁴) and the assumed depth per side in USD."""

    half_spread: Decimal
    depth_usd: Decimal

    @classmethod
    def from_config(cls, backtest: BacktestConfig) -> "QuoteModel":
        return cls(half_spread=MONEY.divide(backtest.half_spread_bps, BPS_PER_UNIT), depth_usd=backtest.depth_usd)


def quote_bar(candle: Candle, model: QuoteModel) -> Ticker | tuple[str, str]:
    """The bar's closing quote (see the module docstring), or (reason, detail) when it has none."""
    close = candle.close
    if close <= ZERO:
        return reasons.NON_POSITIVE_PRICE, f"close {close} is not > 0: the quote model cannot price it"
    size = MONEY.divide(model.depth_usd, close).quantize(SIZE_STEP, rounding=ROUND_DOWN)
    if size <= ZERO:
        return reasons.ZERO_SIZE, f"depth {model.depth_usd} USD / close {close} rounds to 0 at {SIZE_STEP:f}"
    return Ticker(venue=candle.venue, symbol=candle.symbol, market=candle.market,
                  bid=MONEY.multiply(close, ONE - model.half_spread),
                  ask=MONEY.multiply(close, ONE + model.half_spread),
                  bid_qty=size, ask_qty=size, ts_exchange=candle.ts_close, ts_local=candle.ts_close)


@dataclass(slots=True)
class BarConversion:
    """What a conversion wrote (`counts` by topic, plus the reader's interval counts) and the
    bars it refused, as dead letters naming `file:line`."""

    counts: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] = field(default_factory=list)
    venues: set[str] = field(default_factory=set)  # the venues of the quotes written
    assets: set[str] = field(default_factory=set)  # the base assets of the quotes written


def bar_items(path: Path, *, venues: Mapping[str, VenueConfig], model: QuoteModel,
              conversion: BarConversion, source: Iterable[tuple[str, Item]] | None = None,
              policy: RowPolicy | None = None) -> Iterator[Item]:
    """The replay items of one aha-hh file in reading order (not yet sorted by time); `source`,
    when given, replaces the aha-hh reader: (`file:line`, candle or funding item) of a mapped
    bar file (`column_map.bar_items`). Rows the reader refuses go to `policy` (strict when
    None); a bar the model cannot quote is kept in `conversion.rejected` and, given a policy,
    refused there too."""
    read: Counter[str] = Counter()
    def missing(where: str) -> None:
        conversion.rejected.append(codec.reject(reasons.MISSING_FIELD, "funding_rate: a perp bar without its "
                                                "settlement; the bar is quoted, no funding record is written",
                                                source=where, raw=""))

    rows = source if source is not None else aha_hh_items(path, venues=venues, counts=read, missing_funding=missing,
                                                          policy=policy)
    for where, (ts, topic, record) in rows:
        if topic != MD_CANDLE:
            yield ts, topic, record
            continue
        quoted = quote_bar(record, model)
        if isinstance(quoted, Ticker):
            conversion.counts[MD_TICKER] += 1
            conversion.venues.add(quoted.venue)
            conversion.assets.add(base_asset(quoted.symbol))
            yield ts, MD_TICKER, quoted
        else:
            conversion.rejected.append(codec.reject(quoted[0], quoted[1], source=where, raw=codec.encode(record),
                                                    ts=ts))
            if policy is not None:
                policy.refuse(quoted[0], quoted[1], source=where, raw=codec.encode(record), ts=ts)
    read.pop(MD_CANDLE, None)
    conversion.counts.update(read)


def convert_bars(path: Path, out: Path, *, venues: Mapping[str, VenueConfig], backtest: BacktestConfig,
                 source: Iterable[tuple[str, Item]] | None = None, policy: RowPolicy | None = None) -> BarConversion:
    """aha-hh `spot_perp_8h_*_utc.csv(.gz)` → replay file `out` (.jsonl[.gz]) of tickers (the
    quote model of `backtest`) and funding, in non-decreasing time; `source` as in `bar_items`
    (a mapped file)."""
    conversion = BarConversion()
    items = list(bar_items(path, venues=venues, model=QuoteModel.from_config(backtest), conversion=conversion,
                           source=source, policy=policy))
    write_items(items, out)
    return conversion


def assumptions(config: Config, venues: Iterable[str]) -> list[tuple[str, str]]:
    """What a backtest assumes beyond the data, as (what, value) rows for its summary and
    report: the quote model, when a close is scanned, the order style and the fees (bps, maker / taker) of `venues`."""
    backtest = config.backtest
    rows = [("quote", "bar close c → bid c × (1 − h), ask c × (1 + h) at the close time"),
            ("half-spread h", f"{backtest.half_spread_bps} bps"),
            ("depth per side", f"{backtest.depth_usd} USD (depth_usd / c base units, rounded down to {SIZE_STEP:f})"),
            ("scan", "once per close, after every quote and settlement of it (signals.scan_on = "
                     f"{config.signals.scan_on}); a basis point once per close too, with both legs of it"),
            ("desks", f"{', '.join(config.universe.assets)}: the configured assets the file quotes, "
                      f"each with an equal share of {config.execution.starting_capital} USD"),
            ("pairs", ", ".join(config.strategy.pair_kinds) + " (strategy.pair_kinds)"),
            ("fills", "from the quotes only: bars carry no trade prints, a resting order never fills"),
            ("order style", "taker: both legs marketable IOCs against the quotes, harder leg first, exits marketable"
             if config.strategy.order_style == "taker" else
             f"{config.strategy.order_style}: the harder leg rests at its touch (no entry fills from bars)")]
    for name in sorted(venues):
        venue = config.venues[name]
        fees = [f"{market} {s.maker_bps} / {s.taker_bps}" for market, s in (("spot", venue.spot), ("perp", venue.perp))
                if s is not None]
        if fees:
            rows.append((f"fees {name} (bps maker / taker)", ", ".join(fees)))
    return rows
