"""The signal stage of one asset's desk: what it keeps beyond the desk's market state, and
the one update function the desk calls for every market-data record once the market state
took it (docs/architecture.md §3.2–§3.6).

Per record: latency per venue (from streamed records only), the spot–perp basis change
stream with its risk verdict per venue, funding alerts, and the soft-metric windows; the
quotes and funding legs it reads are the market state's. A price update (ticker or
book) triggers a scan, at most every `scan_interval_ms` of stream time (once a
second by default) — at once, or, with `scan_on = "timestamp_complete"`, once stream
time moves past the update's timestamp (`timestamp_completed`, which judges the
timestamp's basis points then too); a scan emits every
candidate — accepted first, ranked — so consumers see rejections with reasons too.
Alerts are emitted on transitions only: a venue going stale or recovering, a funding leg
going stale, a basis-at-risk stop.

Outputs (in stream order): `BasisPoint`, `LatencyReading` (at most every
`latency_interval_ms` per venue), `Opportunity` and `Alert`; beside them, for the execution
stage, the basis-at-risk stop a record turned on or off (`BasisStopChanged`).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig
from arbflow.model.market import Liquidation, MarketTrade, OpenInterest, OrderBook, Ticker
from arbflow.model.portfolio import Alert
from arbflow.model.signals import BasisPoint
from arbflow.model.symbols import base_asset
from arbflow.operators.market_state import MarketState
from arbflow.operators.signals import basis_risk, market_stats, scanner
from arbflow.operators.signals import funding as funding_ops
from arbflow.operators.signals import latency as latency_ops
from arbflow.operators.signals.basis import BasisState, update_basis

HOUR_MS: Final = 3_600_000


@dataclass(slots=True)
class AssetSignals:
    """Mutable signal state of one asset, owned by its desk (snapshots pickle it)."""

    basis: BasisState | None = None
    risk: dict[str, basis_risk.BasisRisk] = field(default_factory=dict)
    verdicts: dict[str, basis_risk.BasisRiskReading] = field(default_factory=dict)
    latency: dict[str, latency_ops.VenueLatency] = field(default_factory=dict)
    stale: dict[str, bool] = field(default_factory=dict)
    stats: dict[tuple[str, str], market_stats.InstrumentStats] = field(default_factory=dict)
    last_scan: int = 0
    scan_due: int | None = None  # scan_on "timestamp_complete": the timestamp whose scan is pending
    basis_due: dict[str, BasisPoint] = field(default_factory=dict)  # timestamp_complete: venue → its pending point
    last_latency: dict[str, int] = field(default_factory=dict)
    alerted: set[tuple[str, ...]] = field(default_factory=set)
    negative_since: dict[str, int] = field(default_factory=dict)  # venue → since when its median basis < 0
    negative_median: dict[str, float] = field(default_factory=dict)  # venue → that median (bps), latest


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisStopChanged:
    """The basis-at-risk stop of `venue` turned on (`stop`) or off with this record."""

    venue: str
    stop: bool


def _stats(state: AssetSignals, venue: str, symbol: str) -> market_stats.InstrumentStats:
    key = (venue, symbol)
    found = state.stats.get(key)
    if found is None:
        found = state.stats[key] = market_stats.InstrumentStats()
    return found


def update(state: AssetSignals, market: MarketState, record: Any,
           settings: DeskConfig) -> tuple[AssetSignals, list[Any], BasisStopChanged | None]:
    """Fold one market-data record in, after `market` took it; return the state, the records
    to publish and the basis-at-risk stop the record turned on or off (at most one: a record
    moves at most one venue's basis)."""
    out: list[Any] = []
    now = record.ts_local
    kind = type(record)
    stop = None
    # Funding is polled or settled, not streamed: its timestamps say nothing about latency.
    if kind in (Ticker, OrderBook, MarketTrade) and record.ts_exchange is not None:
        out += _observe_latency(state, market.asset, record.venue, record.ts_exchange, now, settings)
    if kind is Ticker:
        state.basis, point = update_basis(state.basis, record)
        if point is not None and settings.signals.scan_on == "timestamp_complete":
            state.basis_due[point.venue] = point  # judged by `timestamp_completed`, with both legs of T in
        elif point is not None:
            out.append(point)
            alerts, stop = _judge_basis(state, market.funding, point, settings)
            out += alerts
    elif kind is MarketTrade:
        market_stats.observe_trade(_stats(state, record.venue, record.symbol), record)
    elif kind is OpenInterest:
        market_stats.observe_open_interest(_stats(state, record.venue, record.symbol), record)
    elif kind is Liquidation:
        market_stats.observe_liquidation(_stats(state, record.venue, record.symbol), record)
    if market.funding.legs:  # none known yet (a quotes-only stream): nothing to judge
        out += _funding_alerts(state, market.funding, now, settings)
    if kind is Ticker and record.venue in state.negative_since:
        out += _basis_negative_alert(state, market.asset, record.venue, now, settings.signals.basis_negative_alert_ms)
    if kind in (Ticker, OrderBook) and now - state.last_scan >= settings.signals.scan_interval_ms:
        state.last_scan = now
        if settings.signals.scan_on == "timestamp_complete":
            state.scan_due = now  # run by `timestamp_completed` once stream time moves past `now`
        else:
            out += _scan(state, market, base_asset(record.symbol), now, settings)
    return state, out, stop


def pending(state: AssetSignals) -> bool:
    """`signals.scan_on = "timestamp_complete"`: a scan or a basis point waits for its timestamp to complete."""
    return state.scan_due is not None or bool(state.basis_due)


def timestamp_completed(state: AssetSignals, market: MarketState, ts: int,
                        settings: DeskConfig) -> tuple[list[Any], list[BasisStopChanged]]:
    """`signals.scan_on = "timestamp_complete"`: what a timestamp T left pending runs here, at
    stream time T, once a record (or clock tick) of a later time `ts` arrives — before that
    record touches the market, so it sees every record of T and nothing after:
    1. each venue's basis point of T, judged once with both legs of T in (a bar history
       publishes a venue's spot and perp closes one after the other at T: judged per
       record, the first would pair T's close with the other leg's close of T − 8 h, a
       price move, not a basis); the stops it turned on or off are returned;
    2. the scan a price update at T found due.
    ([], []) when nothing is pending or `ts` is not past it."""
    out: list[Any] = []
    stops: list[BasisStopChanged] = []
    for venue, point in sorted(state.basis_due.items()):
        if point.ts >= ts:
            continue
        del state.basis_due[venue]
        out.append(point)
        alerts, stop = _judge_basis(state, market.funding, point, settings)
        out += alerts
        if stop is not None:
            stops.append(stop)
    due = state.scan_due
    if due is not None and ts > due:
        state.scan_due = None
        out += _scan(state, market, market.asset, due, settings)
    return out, stops


def _observe_latency(state: AssetSignals, asset: str, venue: str, ts_exchange: int, now: int,
                     settings: DeskConfig) -> Sequence[Any]:
    venue_state = state.latency[venue] = latency_ops.observe(state.latency.get(venue), ts_exchange, now)
    stale = latency_ops.corrected_mean(venue_state, now) > latency_ops.STALE_MS
    was_stale = state.stale.get(venue)
    state.stale[venue] = stale
    if was_stale == stale and now - state.last_latency.get(venue, 0) < settings.signals.latency_interval_ms:
        return ()  # the common case: no reading due, no change
    out: list[Any] = []
    if now - state.last_latency.get(venue, 0) >= settings.signals.latency_interval_ms:
        state.last_latency[venue] = now
        out.append(latency_ops.reading(venue_state, venue, now, asset=asset))
    if was_stale is not None and was_stale != stale:
        corrected = latency_ops.corrected_mean(venue_state, now)
        out.append(Alert(code=reasons.VENUE_STALE, severity="warning" if stale else "info",
                         message=f"{venue} latency {corrected:.0f} ms ({'stale' if stale else 'recovered'})",
                         venue=venue, ts=now))
    return out


def _judge_basis(state: AssetSignals, funding: funding_ops.FundingMonitor, point: BasisPoint,
                 settings: DeskConfig) -> tuple[list[Any], BasisStopChanged | None]:
    """The venue's basis-at-risk verdict on a new point: a TOXIC_BASIS alert when its stop
    turns on, and the stop's change, if any, for the execution stage."""
    leg = funding.legs.get((point.venue, point.perp_symbol))
    interval = leg.interval_ms if leg else settings.venues[point.venue].funding_interval_ms
    state.risk[point.venue], verdict = basis_risk.observe(
        state.risk.get(point.venue), point.basis_bps, point.ts, interval, rule=settings.strategy,
        rate_8h=leg.rate_8h if leg else None, predicted_8h=leg.predicted_rate_8h if leg else None)
    before = state.verdicts.get(point.venue)
    state.verdicts[point.venue] = verdict
    out: list[Any] = []
    _track_negative_basis(state, point.venue, verdict.median_bps, point.ts)
    was_stopped = before is not None and before.stop
    if verdict.stop and not was_stopped:
        out.append(Alert(code=reasons.TOXIC_BASIS, severity="critical", asset=point.asset, venue=point.venue,
                         message=f"basis-at-risk stop: median below {settings.strategy.basis_stop_bps} bps for "
                                 f"{verdict.negative_intervals} intervals",
                         ts=point.ts))
    return out, None if verdict.stop == was_stopped else BasisStopChanged(venue=point.venue, stop=verdict.stop)


def _track_negative_basis(state: AssetSignals, venue: str, median_bps: float, ts: int) -> None:
    """Remember since when the venue's 5-minute median basis is below 0 (the basis is a
    change stream: a steady basis produces no new points, so the alert is judged on every
    record by `_basis_negative_alert`)."""
    if median_bps >= 0:
        state.negative_since.pop(venue, None)
        state.negative_median.pop(venue, None)
        state.alerted.discard(("basis_negative", venue))
    else:
        state.negative_since.setdefault(venue, ts)
        state.negative_median[venue] = median_bps


def _basis_negative_alert(state: AssetSignals, asset: str, venue: str, now: int, after_ms: int) -> list[Any]:
    """BASIS_NEGATIVE (warning) once the venue's median basis has stayed below 0 for more
    than `after_ms` of stream time, judged on the venue's own tickers (other records — a
    funding history running past the quotes — do not make a stale median older); once per
    episode (re-armed when the median is ≥ 0 again)."""
    since = state.negative_since[venue]
    marker = ("basis_negative", venue)
    if now - since <= after_ms or marker in state.alerted:
        return []
    state.alerted.add(marker)
    median = Decimal(repr(state.negative_median[venue])).quantize(Decimal("0.0001"))
    return [Alert(code=reasons.BASIS_NEGATIVE, severity="warning", asset=asset, venue=venue,
                  message=f"{venue} {asset} median basis {median} bps has been negative for "
                          f"{(now - since) // 60_000} min", value=median, threshold=Decimal(0), ts=now)]


def _funding_alerts(state: AssetSignals, funding: funding_ops.FundingMonitor, now: int,
                    settings: DeskConfig) -> list[Any]:
    out = []
    for key, leg in funding.legs.items():
        stale = funding_ops.staleness(leg, now, settings.signals.funding_silent_after_ms)
        marker = ("funding", *key)
        if stale is not None and marker not in state.alerted:
            state.alerted.add(marker)
            # value: seconds past the settlement, or since the last update; threshold: the limit
            if now > leg.next_funding_time + funding_ops.SETTLEMENT_GRACE_MS and leg.ts < leg.next_funding_time:
                value, limit = now - leg.next_funding_time, funding_ops.SETTLEMENT_GRACE_MS
            else:
                value, limit = now - leg.ts, settings.signals.funding_silent_after_ms or 0
            out.append(Alert(code=reasons.STALE_FUNDING, severity="warning", message=stale, venue=key[0],
                             asset=base_asset(key[1]), value=Decimal(value) / 1000,
                             threshold=Decimal(limit) / 1000, ts=now))
        elif stale is None:
            state.alerted.discard(marker)
    return out


def scan_market(state: AssetSignals, market: MarketState, now: int, settings: DeskConfig) -> list[Any]:
    """The scan of the asset's market as the desk holds it, at stream time `now`, under
    `settings` — what a due scan emits (the opportunities, ranked)."""
    return _scan(state, market, market.asset, now, settings)


def _scan(state: AssetSignals, market: MarketState, asset: str, now: int, settings: DeskConfig) -> list[Any]:
    quotes = tuple(market.quotes.values())
    for quote in quotes:  # imbalance is needed only when scanning: computed here, not per tick
        _stats(state, quote.venue, quote.symbol).obi = market_stats.book_imbalance(quote.bids, quote.asks)
    latency_ms: dict[str, float | None] = {q.venue: None for q in quotes}  # no exchange time seen: unknown
    latency_ms |= {v: latency_ops.corrected_mean(s, now) for v, s in state.latency.items()}
    view = scanner.MarketView(
        asset=asset, quotes=quotes, funding=market.funding, latency_ms=latency_ms, now=now,
        stats={key: market_stats.leg_stats(s) for key, s in state.stats.items()},
        toxic={v: r.block for v, r in state.verdicts.items() if r.block is not None},
        funding_silent_after_ms=settings.signals.funding_silent_after_ms)
    return list(scanner.scan(view, settings.scanner, settings.venues, settings.strategy))
