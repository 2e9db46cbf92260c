"""Funding monitor (docs/architecture.md §3.2, §3.9): per-leg normalisation to 8 h and APR, interval
inference, carry of a pair with the sign matrix, missing-leg and stale-funding blocks.

Units: rates are fractions per interval (`rate`), per 8 h (`rate_8h`) or per year
(`apr`); times are integer ms of stream time. Formulas (one place each):
- `rate_8h = rate × 8 h / interval`, `apr = rate × 365 × 24 h / interval`;
- carry of "long A, short B" `= rate_8h(B) − rate_8h(A)`, a spot leg counting 0 (the
  long pays when its rate is positive, the short receives), so swapping legs flips the
  sign (antisymmetric);
- stale: `next_funding_time` passed more than 60 s ago without a new rate, or no update
  for `silent_after_ms` (10 min) mid-interval — `None` turns the silence rule off for
  settlement-only histories, which update once per interval by nature;
- settled history: when a perp's `next_funding_time` moves forward, the rate held until
  then is the one that settled; its `rate_8h` joins the perp's history in the 8 h bucket
  `settle_time // 8 h` (a bucket keeps the sum and count of its settlements, so an hourly
  perp's bucket is its mean over eight settlements). At most `HISTORY_BUCKETS` buckets
  (one year) are kept per perp. `carry_history` of a pair = per bucket both perp legs have,
  mean rate_8h(short) − mean rate_8h(long), a spot leg counting 0 — the input of the
  strategy's holding-period estimate (operators/strategy/holding.py).

State is one mutable `FundingMonitor` per key (base asset), owned by its step.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.config import StrategyConfig
from arbflow.model.market import FundingRate
from arbflow.model.money import MONEY
from arbflow.operators.strategy import holding

HOUR_MS: Final = 3_600_000
EIGHT_HOURS_MS: Final = 8 * HOUR_MS
YEAR_MS: Final = 365 * 24 * HOUR_MS
STANDARD_INTERVALS_MS: Final = frozenset({HOUR_MS, 2 * HOUR_MS, 4 * HOUR_MS, 8 * HOUR_MS})
SETTLEMENT_GRACE_MS: Final = 60_000
SILENT_AFTER_MS: Final = 600_000
HISTORY_BUCKETS: Final = 1_095  # 8 h buckets kept per perp: one year, the longest holding lookback
_ZERO: Final = Decimal(0)


def rate_8h(rate: Decimal, interval_ms: int) -> Decimal:
    """A per-interval rate as its 8-hour equivalent (docs/architecture.md §3.9)."""
    return MONEY.divide(MONEY.multiply(rate, Decimal(EIGHT_HOURS_MS)), Decimal(interval_ms))


def apr(rate: Decimal, interval_ms: int) -> Decimal:
    """A per-interval rate as a simple annual rate: `rate × (365 × 24 h / interval)`."""
    return MONEY.divide(MONEY.multiply(rate, Decimal(YEAR_MS)), Decimal(interval_ms))


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingLeg:
    """The latest funding of one instrument, normalised. `interval_source` says where
    `interval_ms` came from: "inferred" (consecutive next_funding_time) or "record"."""

    venue: str
    symbol: str
    rate: Decimal
    rate_8h: Decimal
    apr: Decimal
    predicted_rate_8h: Decimal | None
    interval_ms: int
    interval_source: str
    next_funding_time: int
    ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Carry:
    """Funding carry of "long `long`, short `short`" per 8 h and per year (fractions).
    `expected_8h` averages current and predicted rates where a leg has a prediction."""

    carry_8h: Decimal
    carry_apr: Decimal
    expected_8h: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Blocked:
    """Why a carry cannot be computed: a reason code and which leg."""

    reason: str
    detail: str


@dataclass(slots=True)
class FundingMonitor:
    """Latest leg per (venue, symbol) and the next_funding_time seen before it."""

    legs: dict[tuple[str, str], FundingLeg] = field(default_factory=dict)
    previous_next: dict[tuple[str, str], int] = field(default_factory=dict)
    # per perp, oldest first: (8 h bucket = settle_time // 8 h, sum of settled rate_8h, settlements)
    settled: dict[tuple[str, str], tuple[tuple[int, Decimal, int], ...]] = field(default_factory=dict)
    # per perp: (the `settled` tuple it was taken of, its bucket → mean): a scan asks for each
    # leg's means once per candidate it is in; they change only when the leg settles
    means: dict[tuple[str, str], tuple[tuple[tuple[int, Decimal, int], ...], dict[int, Decimal]]] = field(
        default_factory=dict)


def observe(state: FundingMonitor | None, record: FundingRate) -> tuple[FundingMonitor, FundingLeg | None]:
    """Fold a funding record in; spot sentinels yield no leg (spot funding is 0)."""
    state = state or FundingMonitor()
    if record.market == "spot":
        return state, None
    key = (record.venue, record.symbol)
    interval, source = record.interval_ms, "record"
    before = state.previous_next.get(key)
    held = state.legs.get(key)
    if held is not None and record.next_funding_time != held.next_funding_time:
        before = held.next_funding_time
        state.previous_next[key] = before
        if record.next_funding_time > before:
            _settle(state, key, before, held.rate_8h)
    if before is not None and record.next_funding_time - before in STANDARD_INTERVALS_MS:
        interval, source = record.next_funding_time - before, "inferred"
    predicted = None if record.predicted_rate is None else rate_8h(record.predicted_rate, interval)
    leg = FundingLeg(venue=record.venue, symbol=record.symbol, rate=record.rate, rate_8h=rate_8h(record.rate, interval),
                     apr=apr(record.rate, interval), predicted_rate_8h=predicted, interval_ms=interval,
                     interval_source=source, next_funding_time=record.next_funding_time, ts=record.ts_local)
    state.legs[key] = leg
    return state, leg


def _settle(state: FundingMonitor, key: tuple[str, str], settle_time: int, settled_8h: Decimal) -> None:
    """Add one settled rate to the perp's bucketed history (see the module docstring)."""
    history = state.settled.get(key, ())
    bucket = settle_time // EIGHT_HOURS_MS
    if history and history[-1][0] == bucket:
        _, total, count = history[-1]
        state.settled[key] = (*history[:-1], (bucket, total + settled_8h, count + 1))
    elif not history or history[-1][0] < bucket:
        state.settled[key] = (*history, (bucket, settled_8h, 1))[-HISTORY_BUCKETS:]


def carry_history(state: FundingMonitor, long: tuple[str, str], short: tuple[str, str],
                  intervals: int) -> tuple[Decimal, ...]:
    """The pair's settled carry per 8 h bucket, oldest first, at most the last `intervals`
    buckets that every perp leg has (fractions per 8 h; empty for two spot legs)."""
    means = [(_leg_means(state, key), sign) for key, sign in ((long, -1), (short, 1)) if ":" in key[1]]
    if not means:
        return ()
    # buckets ascending (a history is oldest first): walk back from the newest until `intervals` are found
    # (spelled out for speed; each bucket's value is the same sum, `0 + one leg's term + the other's`)
    if len(means) == 1:
        (a, sign_a), = means
        common = list(itertools.islice(reversed(a), max(intervals, 0)))[::-1]
        return tuple(_ZERO + (a[k] if sign_a > 0 else -a[k]) for k in common)
    (a, sign_a), (b, sign_b) = means
    common = []
    for bucket in reversed(a):
        if len(common) >= intervals:
            break
        if bucket in b:
            common.append(bucket)
    common.reverse()
    return tuple(_ZERO + (a[k] if sign_a > 0 else -a[k]) + (b[k] if sign_b > 0 else -b[k]) for k in common)


def expected_carry(state: FundingMonitor, long: tuple[str, str], short: tuple[str, str], current_8h: Decimal,
                   rule: StrategyConfig, settled: Sequence[Decimal] | None = None) -> Decimal:
    """The carry rule's μ̂ for a pair (operators/strategy/holding.py): the mean of its last
    `carry_window_intervals` carries, the settled ones and `current_8h` as the newest.
    `settled`: the pair's `carry_history` when the caller already has it (at least the last
    `carry_window_intervals − 1` buckets), so it is not read twice."""
    k = rule.carry_window_intervals
    if settled is None:
        settled = carry_history(state, long, short, k - 1) if k > 1 else ()
    mean = holding.expected_carry((*(settled[-(k - 1):] if k > 1 else ()), current_8h), rule)
    return current_8h if mean is None else mean


def _leg_means(state: FundingMonitor, key: tuple[str, str]) -> dict[int, Decimal]:
    """The perp's bucket means, taken once per settled history (cached in `state.means`)."""
    history = state.settled.get(key, ())
    cached = state.means.get(key)
    if cached is not None and cached[0] is history:
        return cached[1]
    means = {b: total if count == 1 else MONEY.divide(total, Decimal(count)) for b, total, count in history}
    state.means[key] = (history, means)
    return means


def staleness(leg: FundingLeg, now: int, silent_after_ms: int | None = SILENT_AFTER_MS) -> str | None:
    """Why `leg` is stale at stream time `now`, or None (docs/architecture.md §3.2, §3.9)."""
    if now > leg.next_funding_time + SETTLEMENT_GRACE_MS and leg.ts < leg.next_funding_time:
        return f"{leg.venue} {leg.symbol}: settlement at {leg.next_funding_time} passed with no new rate"
    if silent_after_ms is not None and now - leg.ts > silent_after_ms:
        return f"{leg.venue} {leg.symbol}: no funding update for {(now - leg.ts) // 1000} s"
    return None


def _leg_8h(state: FundingMonitor, venue: str, symbol: str, now: int,
            silent_after_ms: int | None) -> tuple[Decimal, Decimal] | Blocked:
    if ":" not in symbol:  # a spot leg neither pays nor receives funding
        return _ZERO, _ZERO
    leg = state.legs.get((venue, symbol))
    if leg is None:
        return Blocked(reason=reasons.MISSING_FUNDING_LEG, detail=f"no funding yet for {venue} {symbol}")
    stale = staleness(leg, now, silent_after_ms)
    if stale is not None:
        return Blocked(reason=reasons.STALE_FUNDING, detail=stale)
    expected = leg.rate_8h if leg.predicted_rate_8h is None else (leg.rate_8h + leg.predicted_rate_8h) / 2
    return leg.rate_8h, expected


def carry(state: FundingMonitor, long: tuple[str, str], short: tuple[str, str], now: int,
          silent_after_ms: int | None = SILENT_AFTER_MS) -> Carry | Blocked:
    """Carry of long `long` = (venue, symbol), short `short`, at stream time `now`."""
    long_8h = _leg_8h(state, *long, now, silent_after_ms)
    if isinstance(long_8h, Blocked):
        return long_8h
    short_8h = _leg_8h(state, *short, now, silent_after_ms)
    if isinstance(short_8h, Blocked):
        return short_8h
    carry_8h = short_8h[0] - long_8h[0]
    return Carry(carry_8h=carry_8h, carry_apr=MONEY.multiply(carry_8h, Decimal(3 * 365)),
                 expected_8h=short_8h[1] - long_8h[1])
