"""Decision points of the funding-carry study (`operators.study.carry`): settlement histories
and 8h bars → `Step`s, with no look-ahead — a step at T holds only records published at or
before T (`ts_local` ≤ T).

- cash-and-carry: one step per settlement of the perp; leg 0 is spot (rate 0), leg 1 the
  perp; the bars that closed since the previous step give their basis, the latest bar (if
  it closed less than 8 h before T) the marks;
- funding spread: one step per 8h bucket `(E − 8h, E]` of the 00/08/16 UTC grid (docs/architecture.md
  §3.9: legs normalised to 8 h before differencing). Per leg, `paid` = Σ rates settled in the
  bucket (dYdX: its eight hourly settlements), `signal_8h` = their mean 8h-normalised rate
  (= that sum for a full hourly bucket); a leg's last signal stands for up to 24 h. A step
  happens at E or at the latest settlement in it, whichever is later (Binance's times
  jitter by ms past E).
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from arbflow.model.market import Candle, FundingRate
from arbflow.model.money import MONEY, ZERO
from arbflow.operators.signals.funding import EIGHT_HOURS_MS, rate_8h

STALE_AFTER_MS: Final = 24 * 3_600_000  # a leg's last rate stands in for this long
MINUTE_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class Step:
    """One decision point. `rates`: funding settled on each leg since the previous step
    (fractions of the leg's notional); `signals`: each leg's 8h rate for the decision
    (None = stale/missing); `prices`: the legs' marks at `ts_ms` (None = not known);
    `bases`: the basis of each bar that closed since the previous step, oldest first."""

    ts_ms: int
    rates: tuple[Decimal, Decimal]
    signals: tuple[Decimal | None, Decimal | None]
    prices: tuple[Decimal, Decimal] | None = None
    bases: tuple[Decimal, ...] = ()


@dataclass(frozen=True, slots=True)
class Bucket:
    """A leg's settlements inside one 8h bucket `(end − 8h, end]`: `paid` = Σ rates,
    `signal_8h` = mean 8h-normalised rate, `ts_ms` = the latest settlement time."""

    paid: Decimal
    signal_8h: Decimal
    ts_ms: int
    count: int


# -- inputs → steps -------------------------------------------------------------------------


def check_series(series: Sequence[FundingRate]) -> None:
    if not series:
        raise ValueError("empty funding series")
    for before, after in itertools.pairwise(series):
        if after.ts_local <= before.ts_local:
            raise ValueError(f"{after.venue} {after.symbol}: settlements not in time order at {after.ts_local}")


def _bars(spot: Sequence[Candle], perp: Sequence[Candle]) -> list[tuple[int, int, Decimal, Decimal]]:
    """(published, ts_close, spot close, perp close) for bars closing at the same time on both."""
    perp_by_close = {c.ts_close: c for c in perp}
    joined = [(max(s.ts_local, p.ts_local), s.ts_close, s.close, p.close)
              for s in spot if (p := perp_by_close.get(s.ts_close)) is not None]
    return sorted(joined, key=lambda bar: bar[0])


def carry_steps(perp: Sequence[FundingRate], spot_candles: Sequence[Candle] = (),
                perp_candles: Sequence[Candle] = ()) -> list[Step]:
    """Decision points of a cash-and-carry: one per settlement, leg 0 = spot (rate 0), leg 1 =
    the perp. Bars enter a step once published (`ts_local` ≤ the settlement time)."""
    check_series(perp)
    bars = _bars(spot_candles, perp_candles)
    steps: list[Step] = []
    seen = 0
    latest: tuple[int, int, Decimal, Decimal] | None = None
    for record in perp:
        now = record.ts_local
        bases: list[Decimal] = []
        while seen < len(bars) and bars[seen][0] <= now:
            latest = bars[seen]
            bases.append(MONEY.divide(latest[3] - latest[2], latest[2]))
            seen += 1
        fresh = latest is not None and now - latest[1] < EIGHT_HOURS_MS
        prices = (latest[2], latest[3]) if fresh and latest is not None else None
        steps.append(Step(now, (ZERO, record.rate), (ZERO, rate_8h(record.rate, record.interval_ms)),
                          prices, tuple(bases)))
    return steps


def bucket_end(ts_ms: int) -> int:
    """The end E of the 8h bucket `(E − 8h, E]` on the 00/08/16 UTC grid holding a settlement
    at `ts_ms`, after rounding to the minute (Binance's settlement times jitter by ms)."""
    rounded = (ts_ms + MINUTE_MS // 2) // MINUTE_MS * MINUTE_MS
    return -(-rounded // EIGHT_HOURS_MS) * EIGHT_HOURS_MS


def buckets_8h(series: Sequence[FundingRate]) -> dict[int, Bucket]:
    """A series' settlements summed per 8h bucket, keyed by the bucket end (docs/architecture.md §3.9:
    legs are normalised to 8 h before differencing; an hourly venue's 8 settlements add up)."""
    check_series(series)
    grouped: dict[int, list[FundingRate]] = {}
    for record in series:
        grouped.setdefault(bucket_end(record.ts_local), []).append(record)
    return {end: Bucket(paid=sum((r.rate for r in records), ZERO),
                        signal_8h=MONEY.divide(sum((rate_8h(r.rate, r.interval_ms) for r in records), ZERO),
                                               Decimal(len(records))),
                        ts_ms=records[-1].ts_local, count=len(records))
            for end, records in grouped.items()}


def spread_steps(a: Sequence[FundingRate], b: Sequence[FundingRate], perp_candles_a: Sequence[Candle] = (),
                 perp_candles_b: Sequence[Candle] = ()) -> tuple[list[Step], int]:
    """Decision points of the pair (leg 0 = `a`, leg 1 = `b`) on the 8h grid over the span both
    series cover, and the number of (leg, bucket)s without a settlement. A leg whose last
    settlement is older than 24 h has no signal (the step decides nothing)."""
    legs = (buckets_8h(a), buckets_8h(b))
    closes = ({c.ts_close: c for c in perp_candles_a}, {c.ts_close: c for c in perp_candles_b})
    first, last = max(min(legs[0]), min(legs[1])), min(max(legs[0]), max(legs[1]))
    steps: list[Step] = []
    held: list[tuple[Decimal, int] | None] = [None, None]  # (last signal, its settlement time)
    empty = 0
    for end in range(first, last + 1, EIGHT_HOURS_MS):
        rates: list[Decimal] = []
        signals: list[Decimal | None] = []
        now = end
        for leg in (0, 1):
            bucket = legs[leg].get(end)
            if bucket is None:
                empty += 1
                rates.append(ZERO)
            else:
                held[leg] = (bucket.signal_8h, bucket.ts_ms)
                rates.append(bucket.paid)
                now = max(now, bucket.ts_ms)
            last_seen = held[leg]
            fresh = last_seen is not None and end - last_seen[1] <= STALE_AFTER_MS
            signals.append(last_seen[0] if fresh and last_seen is not None else None)
        bars = (closes[0].get(end), closes[1].get(end))
        prices = (bars[0].close, bars[1].close) if bars[0] and bars[1] and \
            max(bars[0].ts_local, bars[1].ts_local) <= now else None
        steps.append(Step(now, (rates[0], rates[1]), (signals[0], signals[1]), prices))
    return steps, empty
