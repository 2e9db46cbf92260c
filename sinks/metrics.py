"""Prometheus metrics of the signal and trading flow (README.md, Metrics).

Labels are low-cardinality by construction: `venue`, `market` (spot / perp), `reason`
(a fixed code list), `stage` (the four flow stages below) and, on the funding and desk gauges
only, `symbol` / `asset` — bounded by the configured universe (venues × assets; 11 × 2 by
default), never by the data. Per-pair and per-trade detail lives in Kafka and Redis.

| metric | type | labels | meaning |
|---|---|---|---|
| `arbflow_records_decoded_total` | counter | market | market-data records accepted by the flow |
| `arbflow_dead_letters_total` | counter | reason | records refused to a dead-letter topic |
| `arbflow_opportunities_total` | counter | reason | scanned candidates by outcome (`ACCEPTED` or the refusal) |
| `arbflow_venue_latency_ms` | gauge | venue | offset-corrected 10 s mean latency |
| `arbflow_venue_clock_offset_ms` | gauge | venue | local − venue clock |
| `arbflow_venue_stale` | gauge | venue | 1 when the corrected latency is above 200 ms |
| `arbflow_end_to_end_seconds` | histogram | – | receipt (`ts_local`) to the Redis write, live data only |
| `arbflow_stream_time_ms` | gauge | – | the newest `ts_local` among the decoded market-data records (ms UTC) |
| `arbflow_entries_denied_total` | counter | reason | accepted opportunities the execution desk refused |
| `arbflow_stage_events_total` | counter | stage | records through each stage (below); `rate()` = events/s |
| `arbflow_funding_rate_8h` | gauge | venue, symbol | the latest funding rate of a perp as a fraction per 8 h |
| `arbflow_funding_apr` | gauge | venue, symbol | the same rate annualised (fraction per year) |
| `arbflow_funding_carry_bps` | gauge | asset | widest funding carry of the asset's latest scan, bps/8 h |
| `arbflow_funding_carry_apr` | gauge | asset | that carry annualised (fraction per year) |
| `arbflow_portfolio_{available,open_notional,cumulative_pnl}_usd` | gauge | – | the portfolio ledger |
| `arbflow_portfolio_open_positions` / `_leg_outs` | gauge | – | open trades; leg-out events so far |
| `arbflow_portfolio_updates_total` | counter | – | portfolio totals observed (0: no desk has reported yet) |
| `arbflow_desk_margin_health` | gauge | asset | the desk's weakest venue account's margin health (1: no margin used) |
| `arbflow_desk_liquidation_distance` | gauge | asset | its smallest price move (fraction) to health 0 (NaN: none) |
| `arbflow_risk_alerts_total` | counter | reason | alerts published on risk.alert, by code |
| `arbflow_venue_order_events_total` | counter | venue, kind | live gateway answers (accepted/fill/canceled/rejected) |
| `arbflow_venue_errors_total` | counter | venue, reason | refused orders by reason code (unknown codes: `OTHER`) |
| `arbflow_venue_retries_total` | counter | venue, error | requests retried, by ccxt error class (429: DDoSProtection) |
| `arbflow_venue_unconfirmed_orders` | gauge | venue | orders the venue confirmed neither way yet (poll() asks) |
| `arbflow_venue_exposure_usd` | gauge | venue | the gateway's notional at risk (working orders + net fills) |
| `arbflow_venue_up` | gauge | venue | 1 while the gateway's lane of the venue is reconciled and trading, 0: down |

Stages: `decode` (md.* messages in), `desk` (records the asset desks emitted), `redis`
(records written to Redis), `kafka` (records handed to the Kafka producer, dead letters included).
"""

import time
from collections import Counter as Tally
from collections.abc import Iterable
from decimal import Decimal

from prometheus_client import Counter, Gauge, Histogram

from arbflow.model import reasons
from arbflow.model.execution import VenueEvent
from arbflow.model.portfolio import PortfolioState
from arbflow.model.signals import LatencyReading, Opportunity

ENTRIES_DENIED = Counter("arbflow_entries_denied", "Accepted opportunities the execution desk refused, by reason.",
                         ["reason"])
RECORDS = Counter("arbflow_records_decoded", "Market-data records accepted by the signal flow.", ["market"])
LATENCY = Gauge("arbflow_venue_latency_ms", "Offset-corrected 10 s mean latency per venue (ms).", ["venue"])
OFFSET = Gauge("arbflow_venue_clock_offset_ms", "Local minus venue clock (ms).", ["venue"])
STALE = Gauge("arbflow_venue_stale", "1 when the venue's corrected latency is above 200 ms.", ["venue"])
END_TO_END = Histogram("arbflow_end_to_end_seconds", "From receipt (ts_local) to the Redis write.",
                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
STREAM_TIME = Gauge("arbflow_stream_time_ms", "Newest ts_local among the decoded market-data records (ms UTC).")
STAGE_EVENTS = Counter("arbflow_stage_events", "Records through each flow stage (decode, desk, redis, kafka).",
                       ["stage"])
FUNDING_RATE_8H = Gauge("arbflow_funding_rate_8h", "Latest funding rate of a perp, fraction per 8 h.",
                        ["venue", "symbol"])
FUNDING_APR = Gauge("arbflow_funding_apr", "Latest funding rate of a perp, annualised fraction.", ["venue", "symbol"])
FUNDING_CARRY_BPS = Gauge("arbflow_funding_carry_bps", "Widest funding carry of the asset's latest scan, bps per 8 h.",
                          ["asset"])
FUNDING_CARRY_APR = Gauge("arbflow_funding_carry_apr", "Widest funding carry of the asset's latest scan, annualised.",
                          ["asset"])
PORTFOLIO = {name: Gauge(f"arbflow_portfolio_{name}", text) for name, text in (
    ("available_usd", "Capital not committed to open trades (USD)."),
    ("open_notional_usd", "Notional of the open trades (USD)."),
    ("cumulative_pnl_usd", "Realised PnL of the closed trades (USD)."),
    ("open_positions", "Open pair trades."),
    ("leg_outs", "Leg-out events so far."),
    ("margin_health", "Lowest margin health of the desks' venue accounts (1 = no margin used; absent: no positions)."),
    ("liquidation_distance", "Smallest price move (fraction) that takes a desk's venue account to health 0."),
)}
DESK_MARGIN_HEALTH = Gauge("arbflow_desk_margin_health",
                           "Lowest margin health of the desk's venue accounts (1 = no margin used).", ["asset"])
DESK_LIQUIDATION_DISTANCE = Gauge("arbflow_desk_liquidation_distance",
                                  "Smallest price move (fraction) that takes one of the desk's venue accounts to "
                                  "health 0 (NaN: no position).", ["asset"])
PORTFOLIO_UPDATES = Counter("arbflow_portfolio_updates", "Portfolio totals observed (0: no desk reported yet).")
ALERTS = Counter("arbflow_risk_alerts", "Alerts published on risk.alert, by code.", ["reason"])
VENUE_EVENTS = Counter("arbflow_venue_order_events", "Live gateway answers published on exec.venue, by kind.",
                       ["venue", "kind"])
VENUE_ERRORS = Counter("arbflow_venue_errors", "Orders refused (by the venue or the gateway), by reason code.",
                       ["venue", "reason"])
VENUE_RETRIES = Counter("arbflow_venue_retries", "Venue requests retried after an unknown outcome, by error class.",
                        ["venue", "error"])
VENUE_UNCONFIRMED = Gauge("arbflow_venue_unconfirmed_orders", "Orders the venue has not confirmed either way.",
                          ["venue"])
VENUE_EXPOSURE = Gauge("arbflow_venue_exposure_usd", "The live gateway's notional at risk on the venue (USD).",
                       ["venue"])
VENUE_UP = Gauge("arbflow_venue_up", "1 while the live gateway's lane of the venue is reconciled and trading, "
                 "0 while it is down (its orders are rejected VENUE_DOWN).", ["venue"])
OTHER = "OTHER"  # a label value outside the known set
LIVE_WINDOW_MS = 3_600_000  # older event times are a replay: no end-to-end latency to speak of


def count_records(markets: Iterable[str]) -> None:
    """Count decoded records per market, one increment per label per batch."""
    for market, count in Tally(markets).items():
        RECORDS.labels(market=market).inc(count)


def observe_stream_time(ts_local_ms: int) -> None:
    """The newest receipt time decoded so far; wall clock minus it is how far the flow lags."""
    if ts_local_ms > _newest[0]:
        _newest[0] = ts_local_ms
        STREAM_TIME.set(ts_local_ms)


_newest = [0]  # the gauge's value, kept as an int (several workers may report; the newest wins)


def observe_latency(reading: LatencyReading) -> None:
    LATENCY.labels(venue=reading.venue).set(reading.corrected_mean_ms)
    OFFSET.labels(venue=reading.venue).set(reading.offset_ms)
    STALE.labels(venue=reading.venue).set(1 if reading.stale else 0)


def observe_end_to_end(ts_local: int) -> None:
    """Record receipt → now for live data (ignored for replays of old data)."""
    age_ms = time.time() * 1000 - ts_local
    if 0 <= age_ms < LIVE_WINDOW_MS:
        END_TO_END.observe(age_ms / 1000)


def count_stage(stage: str, count: int) -> None:
    """`count` records passed `stage` (one call per batch)."""
    if count:
        STAGE_EVENTS.labels(stage=stage).inc(count)


def observe_funding(venue: str, symbol: str, rate_8h: Decimal, apr: Decimal) -> None:
    FUNDING_RATE_8H.labels(venue=venue, symbol=symbol).set(float(rate_8h))
    FUNDING_APR.labels(venue=venue, symbol=symbol).set(float(apr))


def observe_carry(opportunities: Iterable[Opportunity]) -> None:
    """Per asset, the widest carry among the candidates of its latest scan time."""
    latest: dict[str, tuple[int, Decimal, Decimal]] = {}
    for o in opportunities:
        if o.carry_8h is None or o.carry_apr is None:
            continue
        seen = latest.get(o.asset)
        if seen is None or o.ts > seen[0] or (o.ts == seen[0] and o.carry_8h > seen[1]):
            latest[o.asset] = (o.ts, o.carry_8h, o.carry_apr)
    for asset, (_, carry_8h, carry_apr) in latest.items():
        FUNDING_CARRY_BPS.labels(asset=asset).set(float(carry_8h * 10_000))
        FUNDING_CARRY_APR.labels(asset=asset).set(float(carry_apr))


def observe_portfolio(total: dict[str, object]) -> None:
    """The portfolio total as written to `strategy:portfolio:state` (Decimal / int values)."""
    PORTFOLIO_UPDATES.inc()
    for name, field in (("available_usd", "available"), ("open_notional_usd", "open_notional"),
                        ("cumulative_pnl_usd", "cumulative_pnl"), ("open_positions", "open_positions"),
                        ("leg_outs", "leg_out_count"), ("margin_health", "margin_health"),
                        ("liquidation_distance", "liquidation_distance")):
        value = total.get(field)
        if isinstance(value, (Decimal, int)):
            PORTFOLIO[name].set(float(value))
        elif name == "margin_health":
            PORTFOLIO[name].set(1.0)  # no positions: no margin used
        elif name == "liquidation_distance":
            PORTFOLIO[name].set(float("nan"))  # no position can be liquidated


def observe_desks(states: Iterable[PortfolioState]) -> None:
    """Each desk's margin health and liquidation distance, labelled by its asset (a desk with
    no position: health 1, distance NaN — nothing can be liquidated)."""
    for state in states:
        asset = state.asset or "all"
        health, distance = state.margin_health, state.liquidation_distance
        DESK_MARGIN_HEALTH.labels(asset=asset).set(1.0 if health is None else float(health))
        DESK_LIQUIDATION_DISTANCE.labels(asset=asset).set(float("nan") if distance is None else float(distance))


def reason_code(reason: str | None) -> str:
    """The code of a reason text ("INSUFFICIENT_FUNDS: binance {…}" → "INSUFFICIENT_FUNDS"),
    `OTHER` unless it is one of model.reasons' codes (the label stays bounded)."""
    code = (reason or "").split(":", 1)[0].strip()
    return code if code in reasons.ALL_REASONS else OTHER


def count_venue_events(events: Iterable[VenueEvent]) -> None:
    """Count the gateway's published answers by venue and kind, refusals also by reason code."""
    for event in events:
        VENUE_EVENTS.labels(venue=event.venue, kind=event.kind).inc()
        if event.kind == "rejected":
            VENUE_ERRORS.labels(venue=event.venue, reason=reason_code(event.reason)).inc()


def count_venue_retry(venue: str, error: str) -> None:
    """One retried venue request; `error` is a ccxt error class name (a fixed set)."""
    VENUE_RETRIES.labels(venue=venue, error=error).inc()


def observe_venue(venue: str, unconfirmed: int, exposure: Decimal) -> None:
    VENUE_UNCONFIRMED.labels(venue=venue).set(unconfirmed)
    VENUE_EXPOSURE.labels(venue=venue).set(float(exposure))


def observe_venue_up(venue: str, up: bool) -> None:
    """The gateway lane of `venue` went up (reconciled) or down."""
    VENUE_UP.labels(venue=venue).set(1 if up else 0)


def count_alerts(codes: Iterable[str]) -> None:
    """Alerts as they are published (the code is bounded: model.reasons)."""
    for code in codes:
        ALERTS.labels(reason=reason_code(code)).inc()
