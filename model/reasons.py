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
# a price or size above 1e15: no market has one, and money arithmetic on it would overflow
VALUE_OUT_OF_RANGE: Final = "VALUE_OUT_OF_RANGE"
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

# -- stream position and routing (valid records refused where they arrive) ----------------
LATE_RECORD: Final = "LATE_RECORD"  # event time further behind the asset's stream than the tolerance
KEY_MISMATCH: Final = "KEY_MISMATCH"  # the Kafka key names another asset than the record's symbol
# a price outside the plausibility band around its reference, or below its asset's floor (a ratio
# where a price belongs): model/plausibility.py
PRICE_IMPLAUSIBLE: Final = "PRICE_IMPLAUSIBLE"
DUPLICATE_ROW: Final = "DUPLICATE_ROW"  # a file row repeating its series' previous time (a settlement)
OUT_OF_ORDER_ROW: Final = "OUT_OF_ORDER_ROW"  # a file row earlier than its series' previous one

# -- feed alerts (risk.alert codes of the live ingest) -----------------------------------
STALE_FEED: Final = "STALE_FEED"  # warning: no streamed update for stale_after_s
FEED_RECOVERED: Final = "FEED_RECOVERED"  # info: updates flow again after STALE_FEED
FEED_FAILED: Final = "FEED_FAILED"  # critical: a stream stopped on a non-retryable venue error
FUNDING_FALLBACK: Final = "FUNDING_FALLBACK"  # warning: a funding websocket stopped; the REST poll serves the perp

# -- decisions (refusals of opportunities and entries) ------------------------------------
MISSING_FUNDING_LEG: Final = "MISSING_FUNDING_LEG"  # a perp leg has no funding rate yet
STALE_FUNDING: Final = "STALE_FUNDING"  # settlement passed without a new rate, or the stream went silent
DEPTH_TOO_THIN: Final = "DEPTH_TOO_THIN"  # hard: a leg's book holds less than 2 × the position
VENUE_STALE: Final = "VENUE_STALE"  # hard: a leg's venue latency above 200 ms or silent
FUNDING_DELTA_TOO_LOW: Final = "FUNDING_DELTA_TOO_LOW"  # expected carry ≤ strategy.exit_carry_8h
SCORE_TOO_LOW: Final = "SCORE_TOO_LOW"  # confluence score below the entry threshold (70)
SPREAD_BELOW_COSTS: Final = "SPREAD_BELOW_COSTS"  # a spread trade's entry spread below min_spread_bps (5)
NOT_PROFITABLE: Final = "NOT_PROFITABLE"  # carry × H + spread − round-trip cost ≤ the entry margin
SHALLOW_BOOK: Final = "SHALLOW_BOOK"  # less than $50k within 2 bps of mid on a leg
NO_BOOK: Final = "NO_BOOK"  # a leg has no price yet
TOXIC_BASIS: Final = "TOXIC_BASIS"  # basis below its 1st percentile, or funding fading while basis < 0

# -- execution: entry refusals (operators.execution_entry) ----------------------------------
ENTRY_IN_FLIGHT: Final = "ENTRY_IN_FLIGHT"  # an entry on the same instrument pair is still being placed
EXIT_IN_FLIGHT: Final = "EXIT_IN_FLIGHT"  # the pair's position is being closed
POSITION_OPEN: Final = "POSITION_OPEN"  # the pair already holds an open position (one trade per pair)
INSUFFICIENT_CAPITAL: Final = "INSUFFICIENT_CAPITAL"  # available capital below the minimum trade size
BELOW_MIN_SIZE: Final = "BELOW_MIN_SIZE"  # sized notional < $100, or a leg quantity below the venue's min_qty
ENTRIES_PAUSED: Final = "ENTRIES_PAUSED"  # a failed hedge/unwind/exit paused new entries
STALE_OPPORTUNITY: Final = "STALE_OPPORTUNITY"  # the opportunity is older than the entry age limit in stream time
DUPLICATE_OPPORTUNITY: Final = "DUPLICATE_OPPORTUNITY"  # this opportunity already started a trade (replay)
UNTRADABLE_VENUE: Final = "UNTRADABLE_VENUE"  # a leg's venue or market has no configured fee schedule
# -- execution: why a trade or order ended --------------------------------------------------
FIRST_LEG_TIMEOUT: Final = "FIRST_LEG_TIMEOUT"  # the harder leg did not fill within 500 ms: cancel, reject
FIRST_LEG_REJECTED: Final = "FIRST_LEG_REJECTED"  # the venue refused the harder leg
SECOND_LEG_REJECTED: Final = "SECOND_LEG_REJECTED"  # the second leg cannot be placed: unwind the first
LEG_OUT: Final = "LEG_OUT"  # one leg filled, the other not in time: hedged with a marketable order
IOC_REMAINDER: Final = "IOC_REMAINDER"  # the unfilled rest of an immediate-or-cancel order
NO_LIQUIDITY: Final = "NO_LIQUIDITY"  # nothing to trade against (paper venue: no book for the instrument)
ORDER_TIMEOUT: Final = "ORDER_TIMEOUT"  # an order was not done within 500 ms of stream time: canceled
HEDGE_FAILED: Final = "HEDGE_FAILED"  # critical: hedges exhausted their retries; entries paused
UNWIND_FAILED: Final = "UNWIND_FAILED"  # critical: unwinds exhausted their retries; a leg stays exposed
EXIT_FAILED: Final = "EXIT_FAILED"  # critical: exit orders exhausted their retries; a leg stays exposed
UNKNOWN_ORDER: Final = "UNKNOWN_ORDER"  # a venue event for a client order id this state never sent
LATE_FILL: Final = "LATE_FILL"  # critical: a new fill for an order of a trade that already ended
OVERFILL: Final = "OVERFILL"  # a venue reported more filled than the order's quantity
DUPLICATE_CLIENT_ID: Final = "DUPLICATE_CLIENT_ID"  # refused to send a client order id a second time
# -- execution: exit triggers (docs/architecture.md §3.7) ---------------------------------------------
EXIT_FUNDING_CONVERGED: Final = "EXIT_FUNDING_CONVERGED"  # soft: carry below strategy.exit_carry_8h (0)
EXIT_PROFIT_TARGET: Final = "EXIT_PROFIT_TARGET"  # soft: 90 % of projected profit over H realised (+ mark-to-close)
EXIT_SPREAD_WIDENED: Final = "EXIT_SPREAD_WIDENED"  # soft: close spread > entry spread + 50 bps
EXIT_STOP_LOSS: Final = "EXIT_STOP_LOSS"  # hard: close spread > entry spread + 100 bps
EXIT_BASIS_STOP: Final = "EXIT_BASIS_STOP"  # hard: basis-at-risk stop on a leg's venue (§3.3)
EXIT_REQUESTED: Final = "EXIT_REQUESTED"  # an exit asked for from outside (breaker, operator)

# -- portfolio risk: margin simulator and gates (operators.portfolio.margin, operators.portfolio.risk_gates) ----
HEALTH_BELOW_ENTRY_MIN: Final = "HEALTH_BELOW_ENTRY_MIN"  # an entry would end with health below 0.8
HEALTH_CRITICAL: Final = "HEALTH_CRITICAL"  # health below 0.6: pending entries abort, de-lever to 0.7
MARGIN_USE_TOO_HIGH: Final = "MARGIN_USE_TOO_HIGH"  # TMM / adjusted equity above 65 %: reduce to 60 %
LEVERAGE_CAP_EXCEEDED: Final = "LEVERAGE_CAP_EXCEEDED"  # Σ perp notional / adjusted equity above 3×
LIQUIDATION_TOO_CLOSE: Final = "LIQUIDATION_TOO_CLOSE"  # a position's price move to health 0 is below 10 %
EQUITY_NON_POSITIVE: Final = "EQUITY_NON_POSITIVE"  # adjusted equity <= 0 with margin due: metrics saturate
INSUFFICIENT_COLLATERAL: Final = "INSUFFICIENT_COLLATERAL"  # a spot order needs more than the account holds
MISSING_PRICE: Final = "MISSING_PRICE"  # a collateral asset without a price counts zero (conservative)
UNKNOWN_HAIRCUT: Final = "UNKNOWN_HAIRCUT"  # no haircut table for a collateral asset: counts zero
UNKNOWN_MAINTENANCE_TABLE: Final = "UNKNOWN_MAINTENANCE_TABLE"  # no tiers for a perp: its whole notional is due
DUST_POSITION: Final = "DUST_POSITION"  # a position below the venue's min_qty counts as zero
MARGIN_UNMODELLED: Final = "MARGIN_UNMODELLED"  # the simulator cannot model a leg (a short spot leg): entry refused
# -- portfolio risk: allocation (operators.portfolio.allocator) ----------------------------------------
CARRY_NOT_POSITIVE: Final = "CARRY_NOT_POSITIVE"  # excluded: current carry <= 0
HISTORY_TOO_SHORT: Final = "HISTORY_TOO_SHORT"  # excluded: fewer carry points than the minimum in the window
SHORT_HISTORY: Final = "SHORT_HISTORY"  # flag: less than the full window of carry history
PAIR_LIMIT: Final = "PAIR_LIMIT"  # excluded: not among the best max_pairs by ratio
SECTOR_CAPPED: Final = "SECTOR_CAPPED"  # the pair's sector reached its cap (15 % of equity): target cut
UNMAPPED_SECTOR: Final = "UNMAPPED_SECTOR"  # flag: the asset has no sector; it shares the unmapped one
CORRELATION_PRIOR: Final = "CORRELATION_PRIOR"  # flag: too little common history; correlation from the prior
CORRELATED: Final = "CORRELATED"  # flag: the weight was cut for co-moving with other holdings
WITHIN_BAND: Final = "WITHIN_BAND"  # hold: |target − current| within the 7 % band
GAIN_BELOW_COSTS: Final = "GAIN_BELOW_COSTS"  # hold: expected gain <= 2.5 × round-trip costs
CAPITAL_EXHAUSTED: Final = "CAPITAL_EXHAUSTED"  # an entry cut or held: no free capital until exits fill
NO_CANDIDATES: Final = "NO_CANDIDATES"  # the candidate list was empty: nothing allocated
REBALANCE_UP: Final = "REBALANCE_UP"  # adjustment: enter or increase towards the target
REBALANCE_DOWN: Final = "REBALANCE_DOWN"  # adjustment: reduce towards the target
CANCEL_PENDING: Final = "CANCEL_PENDING"  # adjustment: cancel open entry orders above the target

# -- live venue gateway (sinks.gateway.client) --------------------------------------------------
NOTIONAL_CAP: Final = "NOTIONAL_CAP"  # refused before sending: qty × limit above the per-order notional cap
VENUE_NOTIONAL_CAP: Final = "VENUE_NOTIONAL_CAP"  # refused before sending: the entry would take the venue above its cap
UNBOUNDED_NOTIONAL: Final = "UNBOUNDED_NOTIONAL"  # refused before sending: a market order without a limit price
INVERSE_NOT_ROUTED: Final = "INVERSE_NOT_ROUTED"  # refused before sending: an inverse market (USD contracts)
INSUFFICIENT_FUNDS: Final = "INSUFFICIENT_FUNDS"  # the venue refused: balance or margin too low
INVALID_ORDER: Final = "INVALID_ORDER"  # the venue refused the order's parameters
VENUE_ERROR: Final = "VENUE_ERROR"  # the venue refused for another reason (its message follows the code)
ORDER_NOT_PLACED: Final = "ORDER_NOT_PLACED"  # retries exhausted and the venue confirms it holds no such order
ORDER_NOT_FOUND: Final = "ORDER_NOT_FOUND"  # a working order the venue no longer knows (reconciliation)
VENUE_BREAKER: Final = "VENUE_BREAKER"  # entry refused: the venue's order-failure breaker has paused it
BREAKER_ORDER_FAILURES: Final = "BREAKER_ORDER_FAILURES"  # alert: > 20 % of a venue's last 20 orders refused
HEALTH_LOW: Final = "HEALTH_LOW"  # alert (warning): a venue account's margin health below 0.8
DELTA_LEAKAGE: Final = "DELTA_LEAKAGE"  # alert: |long qty − short qty| × price above max($100, 1 %) for 30 s
BASIS_NEGATIVE: Final = "BASIS_NEGATIVE"  # alert: a venue's 5-minute median basis below 0 for more than 1 h
REBALANCE: Final = "REBALANCE"  # exit: the portfolio controller's target for the pair is zero
RESIZE_DRIFT: Final = "RESIZE_DRIFT"  # resize: qty × mark drifted beyond rebalance_drift of N
ALLOCATION_CAP: Final = "ALLOCATION_CAP"  # entry refused: the controller's cap for the pair is below min_notional
CANCELED_BY_VENUE: Final = "CANCELED_BY_VENUE"  # the venue ended a resting order we did not cancel (expiry, STP, ADL)
VENUE_NOT_LIVE: Final = "VENUE_NOT_LIVE"  # the gateway trades no live account on this venue: the order never left
VENUE_DOWN: Final = "VENUE_DOWN"  # the venue's gateway lane is down (unreachable, refused keys, failed): not sent

ALL_REASONS: Final = tuple(
    value for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, str) and name not in ("INPUT_REASONS", "DECISION_REASONS")
)
DECISION_REASONS: Final = tuple(value for value in ALL_REASONS if value not in INPUT_REASONS)
