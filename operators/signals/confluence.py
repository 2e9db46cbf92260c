"""Confluence score 0–100 (docs/architecture.md §3.5, §3.9): hard constraints first, then six soft
metrics mapped to [0, 1], weighted 9/8/7/6/5/5 and normalised by 40; market-wide stress
(another monitored venue stale) costs 30 points.

Every soft mapping lives here once, with its formula (fractions, not percent, unless
named): funding `carry_8h / 0.0005`; imbalance `0.5 + (obi_long − obi_short) / 4`;
open interest `(OI / OI_24h_avg − 0.9) / 0.2`; VWAP `1 − |z| / 3`; volatility
`1 − ATR% / 1 %` plus 0.2 while ATR falls; liquidations `distance / 5 %`. Each is clamped
to [0, 1]; a metric without data scores a neutral 0.5 and is flagged.
Scores are floats (docs/architecture.md §3.1 allows it); money inputs arrive as Decimal.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.signals import ConfluenceComponents

WEIGHTS: Final = {"funding": 9, "imbalance": 8, "open_interest": 7, "vwap": 6, "volatility": 5, "liquidations": 5}
WEIGHT_TOTAL: Final = 40
NEUTRAL: Final = 0.5
STRESS_PENALTY: Final = 30
MIN_DEPTH_MULTIPLE: Final = Decimal(2)
MAX_LATENCY_MS: Final = 200.0


def _clamp(value: float) -> float:
    return 0.0 if value < 0 else 1.0 if value > 1 else value


def funding_score(carry_8h: Decimal) -> float:
    """`carry_8h / 0.05 %`: 0.05 % per 8 h or more favours the trade fully."""
    return _clamp(float(carry_8h / Decimal("0.0005")))


def imbalance(bid_qty: Decimal, ask_qty: Decimal) -> float | None:
    """Order-book imbalance `(bid − ask) / (bid + ask)` in [−1, 1]; None on an empty book."""
    total = bid_qty + ask_qty
    return None if total <= 0 else float((bid_qty - ask_qty) / total)


def imbalance_score(obi_long: float, obi_short: float) -> float:
    """Buying pressure on the long leg and selling pressure on the short leg favour it."""
    return _clamp(0.5 + (obi_long - obi_short) / 4)


def open_interest_score(open_interest: Decimal, average_24h: Decimal) -> float:
    """`(OI / 24 h average − 0.9) / 0.2`: rising interest on the perp leg favours it."""
    return open_interest_ratio_score(float(open_interest / average_24h))


def open_interest_ratio_score(ratio: float) -> float:
    """The same from the ratio `OI / 24 h average` itself."""
    return _clamp((ratio - 0.9) / 0.2)


def vwap_score(z: float) -> float:
    """`1 − |z| / 3` for the perp price's z-score against its 1 h VWAP."""
    return _clamp(1 - abs(z) / 3)


def volatility_score(atr_pct: float, falling: bool) -> float:
    """`1 − ATR% / 1 %` (1-minute bars, 14 periods), plus 0.2 while ATR falls."""
    return _clamp(1 - atr_pct / 1.0 + (0.2 if falling else 0.0))


def liquidation_score(distance_pct: float) -> float:
    """`distance / 5 %` to the nearest heavy liquidation cluster."""
    return _clamp(distance_pct / 5.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class HardInputs:
    """What the hard constraints look at. Depths in quote notional; latencies in ms
    (None = unknown, which fails: no data is not a pass)."""

    position: Decimal
    depth_long: Decimal
    depth_short: Decimal
    latency_long_ms: float | None
    latency_short_ms: float | None


def hard_failure(inputs: HardInputs) -> tuple[str, str] | None:
    """(reason, detail) of the first failed hard constraint, or None (docs/architecture.md §3.5):
    depth and latency. The carry has no floor here: the carry rule alone judges it
    (`carry_rule.decide_entry`; a fixed 1 bp/8h floor refused the Binance carries that sit
    exactly at the 1 bp clamp, which the rule trades)."""
    need = inputs.position * MIN_DEPTH_MULTIPLE
    if inputs.depth_long < need or inputs.depth_short < need:
        return reasons.DEPTH_TOO_THIN, f"depth {inputs.depth_long}/{inputs.depth_short} < 2 × {inputs.position}"
    for leg, latency in (("long", inputs.latency_long_ms), ("short", inputs.latency_short_ms)):
        if latency is None or latency >= MAX_LATENCY_MS:
            return reasons.VENUE_STALE, f"{leg} leg latency {latency} ms is not below {MAX_LATENCY_MS:g} ms"
    return None


def score(components: ConfluenceComponents, *, other_venue_stale: bool) -> tuple[int, tuple[str, ...]]:
    """Weighted score 0–100 and the names of metrics that had no data (scored 0.5)."""
    total = 0.0
    missing = []
    for name, weight in WEIGHTS.items():
        value = getattr(components, name)
        if value is None:
            missing.append(name)
            value = NEUTRAL
        total += weight * value
    points = round(100 * total / WEIGHT_TOTAL)
    if other_venue_stale:
        points = max(0, points - STRESS_PENALTY)
    return points, tuple(f"no_data:{name}" for name in missing)
