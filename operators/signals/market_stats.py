"""Soft-metric inputs computed from the streams, per instrument (docs/architecture.md §3.5, §3.9):
order-book imbalance near the mid, open interest against its 24 h average, the price's
z-score against its 1 h trade VWAP, ATR% of 1-minute bars (14 periods) and its trend,
and the distance to the nearest heavy liquidation cluster.

Floats are used inside (they feed scores, not money); inputs are Decimal records. Every
window is in stream time (ms). State is one mutable `InstrumentStats` per instrument,
owned by its step; `leg_stats` turns it into the scanner's `LegStats`.
"""

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Final

from arbflow.model.market import Level, Liquidation, MarketTrade, OpenInterest
from arbflow.operators.signals.scanner import LegStats

OBI_BAND_BPS: Final = 10.0
OI_WINDOW_MS: Final = 86_400_000
VWAP_WINDOW_MS: Final = 3_600_000
BAR_MS: Final = 60_000
ATR_PERIODS: Final = 14
LIQ_WINDOW_MS: Final = 86_400_000
LIQ_BUCKET_BPS: Final = 10.0
LIQ_PERCENTILE: Final = 0.9


def book_imbalance(bids: tuple[Level, ...], asks: tuple[Level, ...], band_bps: float = OBI_BAND_BPS) -> float | None:
    """`(bid − ask) / (bid + ask)` of the quantities within `band_bps` of the mid."""
    if not bids or not asks:
        return None
    middle = (float(bids[0][0]) + float(asks[0][0])) / 2
    limit = middle * band_bps / 10_000
    bid = sum(float(q) for p, q in bids if middle - float(p) <= limit)
    ask = sum(float(q) for p, q in asks if float(p) - middle <= limit)
    return None if bid + ask == 0 else (bid - ask) / (bid + ask)


@dataclass(slots=True)
class InstrumentStats:
    """Rolling windows of one instrument."""

    oi: deque[tuple[int, float]] = field(default_factory=deque)
    oi_sum: float = 0.0
    trades: deque[tuple[int, float, float]] = field(default_factory=deque)  # ts, price, qty
    sum_q: float = 0.0
    sum_pq: float = 0.0
    sum_ppq: float = 0.0
    bar_index: int | None = None
    bar: list[float] = field(default_factory=list)  # open, high, low, close of the current minute
    previous_close: float | None = None
    true_ranges: deque[float] = field(default_factory=lambda: deque(maxlen=ATR_PERIODS))
    atr_history: deque[float] = field(default_factory=lambda: deque(maxlen=2))
    liquidations: deque[tuple[int, int, float]] = field(default_factory=deque)  # ts, bucket, notional
    obi: float | None = None
    last_price: float | None = None


def observe_open_interest(state: InstrumentStats, record: OpenInterest) -> None:
    """Add an open-interest reading to the 24 h window."""
    value = float(record.open_interest)
    state.oi.append((record.ts_local, value))
    state.oi_sum += value
    while state.oi[0][0] <= record.ts_local - OI_WINDOW_MS:
        state.oi_sum -= state.oi.popleft()[1]


def observe_trade(state: InstrumentStats, trade: MarketTrade) -> None:
    """Add a trade to the 1 h VWAP window and the current 1-minute bar."""
    ts, price, qty = trade.ts_local, float(trade.px), float(trade.qty)
    state.trades.append((ts, price, qty))
    state.sum_q += qty
    state.sum_pq += price * qty
    state.sum_ppq += price * price * qty
    while state.trades[0][0] <= ts - VWAP_WINDOW_MS:
        _, old_p, old_q = state.trades.popleft()
        state.sum_q -= old_q
        state.sum_pq -= old_p * old_q
        state.sum_ppq -= old_p * old_p * old_q
    state.last_price = price
    index = ts // BAR_MS
    if state.bar_index is None or index != state.bar_index:
        if state.bar:
            _close_bar(state)
        state.bar_index, state.bar = index, [price, price, price, price]
    else:
        bar = state.bar
        bar[1], bar[2], bar[3] = max(bar[1], price), min(bar[2], price), price


def _close_bar(state: InstrumentStats) -> None:
    _, high, low, close = state.bar
    previous = state.previous_close
    true_range = high - low if previous is None else max(high - low, abs(high - previous), abs(low - previous))
    state.true_ranges.append(true_range / close * 100)  # in % of price
    state.previous_close = close
    if len(state.true_ranges) == ATR_PERIODS:
        state.atr_history.append(sum(state.true_ranges) / ATR_PERIODS)


_LOG_STEP: Final = math.log1p(LIQ_BUCKET_BPS / 10_000)


def _bucket(price: float) -> int:
    """10-bps buckets on a log-price grid: bucket k spans [1.001^k, 1.001^(k+1))."""
    return math.floor(math.log(price) / _LOG_STEP)


def observe_liquidation(state: InstrumentStats, record: Liquidation) -> None:
    """Add a liquidation's notional to its 10-bps price bucket (24 h window)."""
    price = float(record.px)
    state.liquidations.append((record.ts_local, _bucket(price), price * float(record.qty)))
    while state.liquidations[0][0] <= record.ts_local - LIQ_WINDOW_MS:
        state.liquidations.popleft()


def _liquidation_distance_pct(state: InstrumentStats, price: float) -> float | None:
    if not state.liquidations:
        return None
    totals: dict[int, float] = {}
    for _, bucket, notional in state.liquidations:
        totals[bucket] = totals.get(bucket, 0.0) + notional
    ordered = sorted(totals.values())
    threshold = ordered[min(len(ordered) - 1, int(LIQ_PERCENTILE * len(ordered)))]
    heavy = [bucket for bucket, total in totals.items() if total >= threshold]
    nearest = min(abs(math.exp((bucket + 0.5) * _LOG_STEP) - price) for bucket in heavy)
    return nearest / price * 100


def leg_stats(state: InstrumentStats) -> LegStats:
    """The scanner's view of this instrument (None where a window has no data)."""
    price = state.last_price
    z = None
    if price is not None and state.sum_q > 0:
        vwap = state.sum_pq / state.sum_q
        variance = max(state.sum_ppq / state.sum_q - vwap * vwap, 0.0)
        z = 0.0 if variance == 0 else (price - vwap) / variance ** 0.5
    atr = state.atr_history[-1] if state.atr_history else None
    falling = len(state.atr_history) == 2 and state.atr_history[1] < state.atr_history[0]
    oi_ratio = state.oi[-1][1] / (state.oi_sum / len(state.oi)) if state.oi and state.oi_sum > 0 else None
    return LegStats(obi=state.obi, oi_ratio=oi_ratio, vwap_z=z, atr_pct=atr, atr_falling=falling,
                    liquidation_distance_pct=None if price is None else _liquidation_distance_pct(state, price))
