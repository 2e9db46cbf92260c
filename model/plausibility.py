"""Plausibility: values that parse and pass the type and sign checks but cannot be a market's.
One check each, used wherever input is read — `arbflow convert` and `arbflow study` (the file
readers of `connectors/captures/`), and the dataflow of `replay`, `scan` and `trade` (funding in
`model.validation`, prices in `operators.market_state`). Pure: no I/O, no clock.

Funding (IMPOSSIBLE_RATE). A rate per `interval_ms` whose 8 h equivalent `rate × 8 h / interval`
lies beyond ±`max_funding_rate_8h` (a fraction; default 0.03 = 3 % per 8 h, above every venue's
cap on the majors). Compared against the limit scaled to the interval, never through `abs()` or a
product of the rate: `1E+999999` must be refused, not overflow.

Prices (PRICE_IMPLAUSIBLE). `PriceReferences` keeps, for one base asset, the latest accepted mid
(USD-like quote units; ms UTC) of each instrument `(venue, symbol)`. The reference of a price at
time t is the (lower) median of the latest mids of the asset's *other* instruments within
`reference_max_age_ms` of t (in either direction: files are not always in time order), else the
instrument's own latest mid within that age. A price outside `reference × (1 ± price_band)` is
refused with the value and the reference (a price ≤ 0 is left to the sign check,
NON_POSITIVE_PRICE). Without any reference only the floor applies: a
price below `price_floors[asset]` looks like a ratio — a premium, a basis, a rate — where a price
belongs. A refused price never becomes a reference, and a reference older than the age limit
stops counting, so a genuine move beyond the band is accepted once the old prices age out.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from arbflow.model.config import HOUR_MS, PlausibilityConfig
from arbflow.model.market import Candle, Liquidation, MarketTrade, OrderBook, Ticker

EIGHT_HOURS_MS: Final = 8 * HOUR_MS
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_TWO: Final = Decimal(2)
MAX_PRICE: Final = Decimal("1e15")  # as model.validation's MAX_MAGNITUDE: no market has a larger price
Instrument = tuple[str, str]  # (venue, symbol)


def funding_limit(interval_ms: int, max_rate_8h: Decimal) -> Decimal:
    """The largest plausible |rate| per `interval_ms` (> 0): the 8 h cap scaled to the interval."""
    return max_rate_8h * interval_ms / EIGHT_HOURS_MS


def funding_problem(name: str, value: Decimal | None, interval_ms: int, max_rate_8h: Decimal) -> str | None:
    """Why a funding rate (`name` = rate or predicted_rate) is impossible, or None when it is not."""
    if value is None or interval_ms <= 0:
        return None
    limit = funding_limit(interval_ms, max_rate_8h)
    if -limit <= value <= limit:
        return None
    if interval_ms == EIGHT_HOURS_MS:
        return f"{name} {value} per 8 h is beyond ±{max_rate_8h} (plausibility.max_funding_rate_8h)"
    every = f"{interval_ms // HOUR_MS} h" if interval_ms % HOUR_MS == 0 else f"{interval_ms / 60_000:g} min"
    return (f"{name} {value} per {every} is beyond ±{limit.normalize():f} "
            f"(±{max_rate_8h} per 8 h, plausibility.max_funding_rate_8h)")


class Reference:
    """One instrument's latest accepted mid: its time, the band around it, and the sides it was
    taken from (a quote whose sides did not move only refreshes the time: no arithmetic)."""

    __slots__ = ("high", "low", "mid", "sides", "ts")

    def __init__(self, sides: tuple[Decimal, ...], ts: int, band: Decimal) -> None:
        self.sides = sides
        self.ts = ts
        self.mid = sides[0] if len(sides) == 1 else (sides[0] + sides[1]) / _TWO
        self.low = self.mid * (_ONE - band)
        self.high = self.mid * (_ONE + band)

    def __getstate__(self) -> tuple[Any, ...]:  # pickled with the desk's state (recovery snapshots)
        return self.high, self.low, self.mid, self.sides, self.ts

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.high, self.low, self.mid, self.sides, self.ts = state


@dataclass(slots=True)
class PriceReferences:
    """The latest accepted mid per instrument of one asset (mutable; owned by one reader or one
    desk)."""

    mids: dict[Instrument, Reference] = field(default_factory=dict)

    def note(self, instrument: Instrument, sides: tuple[Decimal, ...], ts: int, band: Decimal) -> None:
        """Accepted prices (a bid and an ask, or a close) become the instrument's reference
        (a later time only)."""
        held = self.mids.get(instrument)
        if held is None:
            self.mids[instrument] = Reference(sides, ts, band)
        elif ts >= held.ts:
            if held.sides == sides:
                held.ts = ts
            else:
                self.mids[instrument] = Reference(sides, ts, band)

    def reference(self, instrument: Instrument, ts: int, max_age_ms: int) -> tuple[Reference, int, Instrument] | None:
        """The reference for a price of `instrument` at `ts` — (reference, how many other
        instruments it is the median of (0: the instrument's own), whose it is) — or None."""
        mids = self.mids
        if len(mids) == 2 and instrument in mids:  # one other instrument (a spot, its perp): no list to build
            for key, held in mids.items():
                if key != instrument:
                    if -max_age_ms <= ts - held.ts <= max_age_ms:
                        return held, 1, key
                    break
            own = mids[instrument]
            return (own, 0, instrument) if -max_age_ms <= ts - own.ts <= max_age_ms else None
        others = [(held, key) for key, held in self.mids.items()
                  if key != instrument and -max_age_ms <= ts - held.ts <= max_age_ms]
        if len(others) == 1:
            return others[0][0], 1, others[0][1]
        if others:
            others.sort(key=lambda entry: entry[0].mid)
            median, key = others[(len(others) - 1) // 2]
            return median, len(others), key
        own = self.mids.get(instrument)
        if own is not None and -max_age_ms <= ts - own.ts <= max_age_ms:
            return own, 0, instrument
        return None


def describe(reference: tuple[Reference, int, Instrument]) -> str:
    """What a reference is, for a refusal's detail."""
    held, count, (venue, symbol) = reference
    if count == 0:
        return f"its own last mid {held.mid}"
    if count == 1:
        return f"{venue} {symbol} mid {held.mid}"
    return f"median {held.mid} of {count} other instruments' mids"


def _prices(record: Any) -> tuple[tuple[tuple[str, Decimal], ...], tuple[Decimal, ...]]:
    """The prices a record states (field, value) and the sides whose mean is the mid it sets as
    its instrument's reference (none for trades, liquidations and one-sided books)."""
    kind = type(record)
    if kind is Ticker:
        prices: tuple[tuple[str, Decimal], ...] = (("bid", record.bid), ("ask", record.ask))
        if record.last is not None or record.mark is not None or record.index is not None:
            prices += tuple((name, value) for name in ("last", "mark", "index")
                            if (value := getattr(record, name)) is not None)
        return prices, (record.bid, record.ask)
    if kind is OrderBook:
        bids, asks = record.bids, record.asks
        prices = ((("best bid", bids[0][0]),) if bids else ()) + ((("best ask", asks[0][0]),) if asks else ())
        return prices, (bids[0][0], asks[0][0]) if bids and asks else ()
    if kind in (MarketTrade, Liquidation):
        return (("px", record.px),), ()
    if kind is Candle:
        return (("close", record.close),), (record.close,)  # open/high/low against it: INCONSISTENT_CANDLE
    return (), ()


def check_record(references: PriceReferences, asset: str, record: Any, ts: int,
                 config: PlausibilityConfig) -> str | None:
    """Judge the prices of a market record against `references` (for `asset`); an accepted
    record with a mid becomes its instrument's reference. Returns why it is implausible, or None."""
    if type(record) is Ticker and record.last is None and record.mark is None and record.index is None:
        # the common case, a plain quote inside the band of its reference: a few comparisons
        bid, ask, instrument = record.bid, record.ask, (record.venue, record.symbol)
        if _ZERO < bid <= MAX_PRICE and _ZERO < ask <= MAX_PRICE:
            found = references.reference(instrument, ts, config.reference_max_age_ms)
            if found is not None and found[0].low <= bid <= found[0].high and found[0].low <= ask <= found[0].high:
                references.note(instrument, (bid, ask), ts, config.price_band)
                return None
    prices, sides = _prices(record)
    prices = tuple(item for item in prices if item[1] > _ZERO)  # ≤ 0: the sign check's (NON_POSITIVE_PRICE)
    if not prices:
        return None
    for name, value in prices:
        if not value <= MAX_PRICE:  # compared before any product: 1E+999999 must not overflow
            return f"{name} {value} is above {MAX_PRICE:f}"
    instrument = (record.venue, record.symbol)
    found = references.reference(instrument, ts, config.reference_max_age_ms)
    if found is None:
        floor = config.price_floors.get(asset)
        if floor is not None:
            for name, value in prices:
                if value < floor:
                    return (f"{name} {value} is below {asset}'s floor {floor} (plausibility.price_floors): "
                            "a ratio, not a price")
    else:
        low, high = found[0].low, found[0].high
        for name, value in prices:
            if not low <= value <= high:
                return (f"{name} {value} is outside ±{(config.price_band * 100).normalize():f} % of the reference, "
                        f"{describe(found)} (plausibility.price_band)")
    if sides and sides[0] > _ZERO and sides[-1] > _ZERO:
        references.note(instrument, sides, ts, config.price_band)
    return None
