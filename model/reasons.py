"""Reason codes carried by `Rejected` records and refusals.

Every code is an UPPER_SNAKE string constant so it can travel on the wire and be used as
a low-cardinality Prometheus label. `INPUT_REASONS` are why an input record was refused
(dead letters); `DECISION_REASONS` why the strategy refused to act on valid data;
`ALL_REASONS` is both.
"""

from typing import Final

# -- decoding ---------------------------------------------------------------------------
MALFORMED_JSON: Final = "MALFORMED_JSON"  # not JSON, or not a JSON object
UNKNOWN_TOPIC: Final = "UNKNOWN_TOPIC"  # no record type is registered for the topic
MISSING_FIELD: Final = "MISSING_FIELD"  # a required field is absent
UNEXPECTED_FIELD: Final = "UNEXPECTED_FIELD"  # a field the schema does not know
WRONG_TYPE: Final = "WRONG_TYPE"  # e.g. a number where a decimal string is required
INVALID_NUMBER: Final = "INVALID_NUMBER"  # a decimal string that does not parse
NON_FINITE: Final = "NON_FINITE"  # NaN or infinity
INVALID_VALUE: Final = "INVALID_VALUE"  # a value outside its enumeration
UNSUPPORTED_SCHEMA_VERSION: Final = "UNSUPPORTED_SCHEMA_VERSION"

# -- semantic checks --------------------------------------------------------------------
NON_POSITIVE_PRICE: Final = "NON_POSITIVE_PRICE"  # price <= 0
NEGATIVE_SIZE: Final = "NEGATIVE_SIZE"  # quantity < 0
ZERO_SIZE: Final = "ZERO_SIZE"  # a trade or liquidation of quantity 0
CROSSED_BOOK: Final = "CROSSED_BOOK"  # best bid >= best ask
UNSORTED_BOOK: Final = "UNSORTED_BOOK"  # bids not descending or asks not ascending
TIMESTAMP_IN_SECONDS: Final = "TIMESTAMP_IN_SECONDS"
TIMESTAMP_IN_MICROSECONDS: Final = "TIMESTAMP_IN_MICROSECONDS"
TIMESTAMP_IN_NANOSECONDS: Final = "TIMESTAMP_IN_NANOSECONDS"
TIMESTAMP_OUT_OF_RANGE: Final = "TIMESTAMP_OUT_OF_RANGE"
UNKNOWN_VENUE: Final = "UNKNOWN_VENUE"
UNKNOWN_SYMBOL: Final = "UNKNOWN_SYMBOL"
MARKET_MISMATCH: Final = "MARKET_MISMATCH"  # market field disagrees with the symbol
IMPOSSIBLE_INTERVAL: Final = "IMPOSSIBLE_INTERVAL"  # funding interval outside 1 min..24 h
IMPOSSIBLE_RATE: Final = "IMPOSSIBLE_RATE"  # |funding rate| above the plausible cap
INVALID_SENTINEL: Final = "INVALID_SENTINEL"  # spot funding that is not the 0/0 sentinel
INCONSISTENT_CANDLE: Final = "INCONSISTENT_CANDLE"  # high/low outside open/close, or bar times disagree

INPUT_REASONS: Final = tuple(
    value for name, value in sorted(globals().items()) if name.isupper() and isinstance(value, str)
)

# -- stream position (valid records refused where they arrive) ----------------------------
LATE_RECORD: Final = "LATE_RECORD"  # event time further behind the asset's stream than the tolerance

# -- decisions (refusals of opportunities and entries) ------------------------------------
MISSING_FUNDING_LEG: Final = "MISSING_FUNDING_LEG"  # a perp leg has no funding rate yet
STALE_FUNDING: Final = "STALE_FUNDING"  # settlement passed without a new rate, or the stream went silent
DEPTH_TOO_THIN: Final = "DEPTH_TOO_THIN"  # hard: a leg's book holds less than 2 × the position
VENUE_STALE: Final = "VENUE_STALE"  # hard: a leg's venue latency above 200 ms or silent
FUNDING_DELTA_TOO_LOW: Final = "FUNDING_DELTA_TOO_LOW"  # hard: carry ≤ 0.01 % per 8 h
SCORE_TOO_LOW: Final = "SCORE_TOO_LOW"  # confluence score below the entry threshold (70)
SPREAD_BELOW_COSTS: Final = "SPREAD_BELOW_COSTS"  # spread ≤ fees + funding cost, or < 5 bps
NOT_PROFITABLE: Final = "NOT_PROFITABLE"  # projected profit after slippage ≤ 0
SHALLOW_BOOK: Final = "SHALLOW_BOOK"  # less than $50k within 2 bps of mid on a leg
NO_BOOK: Final = "NO_BOOK"  # a leg has no price yet
TOXIC_BASIS: Final = "TOXIC_BASIS"  # basis below its 1st percentile, or funding fading while basis < 0

ALL_REASONS: Final = tuple(
    value for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, str) and name not in ("INPUT_REASONS", "DECISION_REASONS")
)
DECISION_REASONS: Final = tuple(value for value in ALL_REASONS if value not in INPUT_REASONS)
