"""The opportunity scanner (docs/architecture.md §3.6, §3.9): every candidate pair of one asset
of the kinds `[strategy] pair_kinds` trades — cross-venue perp–perp, spot–perp on one
venue, and (off by default) spot–perp across venues, the spot leg always long — priced
for `ScannerConfig.notional`, scored, judged by the one carry rule
(operators/strategy/carry_rule.py) and ranked.

Formulas (one place each), for "long A, short B" and notional N (USD):
- prices are book-walk VWAPs for N (a ticker-only quote uses the touch plus the fallback
  slippage); `mid = (short_px + long_px) / 2`;
- `entry_spread_bps = (short_px − long_px) / mid × 10⁴` and `close_spread_bps` the same for
  the exit walk (buy B back on its asks, sell A on its bids);
- fees of the four fills per `strategy.order_style`, the harder leg being the one of lower
  liquidity rank (`carry_rule.round_trip_fees_bps`); exit slippage = the two legs' exit walks;
  entry slippage is already inside the VWAP entry prices, so it is reported (`slippage_bps`,
  mean of the legs) but not subtracted twice;
- H from the pair's settled carry history (`holding.expected_holding` over
  `funding.carry_history`), `edge_bps = carry_8h × H × 10⁴ + entry_spread_bps − fees −
  exit slippage`, `projected_profit = N × edge_bps / 10⁴`; the opportunity's detail shows
  carry, H and its source, spread, cost, edge and margin (accepted or not).
Filters in order, the first failure is the reason: VENUE_STALE (a leg's last price older
than `quote_max_age_ms`), NO_BOOK, funding blocks, hard constraints (confluence),
FUNDING_DELTA_TOO_LOW (the carry rule: the expected carry at or below its exit bar),
SHALLOW_BOOK (< min depth within the band on a leg), SPREAD_BELOW_COSTS (a spread trade's
spread below `min_spread_bps`), NOT_PROFITABLE (the carry rule), TOXIC_BASIS, SCORE_TOO_LOW.
The confluence score ranks every accepted candidate, but gates (`min_score`, and
`min_spread_bps`) only a *spread trade* — one whose entry spread exceeds its carry over H:
its profit is made in hours, where the intraday soft metrics speak; a carry trade earns
over days, and the intraday metrics say nothing about that.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from arbflow.model import reasons
from arbflow.model.config import PAIR_KINDS, FeeSchedule, ScannerConfig, StrategyConfig, VenueConfig
from arbflow.model.market import Level, Market
from arbflow.model.money import BPS_PER_UNIT, MONEY, mid
from arbflow.model.signals import ConfluenceComponents, Opportunity
from arbflow.operators.signals import confluence, slippage
from arbflow.operators.signals.funding import (
    SILENT_AFTER_MS,
    Blocked,
    FundingMonitor,
    carry,
    carry_history,
    expected_carry,
)
from arbflow.operators.strategy import carry_rule, holding

_ZERO: Final = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """Visible prices of one instrument: a book's top levels, or (`is_book` False) a
    ticker's single best level."""

    venue: str
    symbol: str
    market: Market
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    is_book: bool
    ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStats:
    """Soft-metric inputs of one instrument; None = no data (neutral 0.5, flagged)."""

    obi: float | None = None
    oi_ratio: float | None = None  # latest open interest / its 24 h average
    vwap_z: float | None = None
    atr_pct: float | None = None
    atr_falling: bool = False
    liquidation_distance_pct: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketView:
    """What one asset's scan sees at stream time `now`. `latency_ms` is each venue's
    corrected latency (None = unknown); `toxic` a venue's basis entry block, if any."""

    asset: str
    quotes: tuple[Quote, ...]
    funding: FundingMonitor
    latency_ms: Mapping[str, float | None]
    now: int
    stats: Mapping[tuple[str, str], LegStats] = field(default_factory=dict)
    toxic: Mapping[str, str] = field(default_factory=dict)
    funding_silent_after_ms: int | None = SILENT_AFTER_MS


def _quote_ccy(symbol: str) -> str:
    return symbol.split("/", 1)[1].split(":", 1)[0]


def pairs(quotes: tuple[Quote, ...], quote_equivalents: tuple[str, ...] = (),
          kinds: tuple[str, ...] = PAIR_KINDS) -> list[tuple[Quote, Quote]]:
    """Candidate (long, short) pairs of the `kinds` traded (`carry_rule.pair_kind`): perp–perp
    across venues (both directions) and spot (long) – perp (short); quotes must match unless
    both are `quote_equivalents`."""
    out = []
    for long in quotes:
        for short in quotes:
            if short.market != "perp" or long is short or (long.market == "perp" and long.venue == short.venue):
                continue
            if carry_rule.pair_kind(long.market, long.venue, short.market, short.venue) not in kinds:
                continue
            a, b = _quote_ccy(long.symbol), _quote_ccy(short.symbol)
            if a != b and not (a in quote_equivalents and b in quote_equivalents):
                continue
            out.append((long, short))
    return out


def _schedule(venue: VenueConfig, market: Market) -> FeeSchedule | None:
    return venue.spot if market == "spot" else venue.perp


def price(quote: Quote, side: str, notional: Decimal) -> tuple[Decimal, Decimal] | None:
    """(VWAP, slippage bps) to buy or sell `notional` on `quote`; None when unfillable.
    The execution stage prices its entries and exits with this too (operators.execution.pricing)."""
    if not quote.bids or not quote.asks:
        return None
    if quote.is_book:
        bps = slippage.slippage_bps(side, quote.bids, quote.asks, notional)  # type: ignore[arg-type]
        if bps is None:
            return None
    else:
        level = quote.asks[0] if side == "buy" else quote.bids[0]
        bps = slippage.fallback_slippage_bps(notional, MONEY.multiply(level[0], level[1]))
    reference = mid(quote.bids[0][0], quote.asks[0][0])
    move = MONEY.divide(MONEY.multiply(reference, bps), BPS_PER_UNIT)
    return (reference + move if side == "buy" else reference - move), bps


def _bps(numerator: Decimal, denominator: Decimal) -> Decimal:
    return MONEY.divide(MONEY.multiply(numerator, BPS_PER_UNIT), denominator)


def evaluate(view: MarketView, long: Quote, short: Quote, cfg: ScannerConfig,
             venues: Mapping[str, VenueConfig], strategy: StrategyConfig) -> Opportunity:
    """Price, score and judge one pair (see the module docstring)."""
    n = cfg.notional
    pair_id = f"{view.asset}:{long.venue}:{long.symbol}>{short.venue}:{short.symbol}@{view.now}"
    base: dict[str, Any] = {
        "opportunity_id": pair_id, "asset": view.asset, "ts": view.now, "notional": n,
        "long_venue": long.venue, "long_symbol": long.symbol, "long_market": long.market,
        "short_venue": short.venue, "short_symbol": short.symbol, "short_market": short.market}
    for leg in (long, short):
        age = view.now - leg.ts
        if age > cfg.quote_max_age_ms:
            return _rejected(base, reasons.VENUE_STALE, f"{leg.venue} {leg.symbol}: last price {age} ms old")
    entry_long, entry_short = price(long, "buy", n), price(short, "sell", n)
    exit_long, exit_short = price(long, "sell", n), price(short, "buy", n)
    hard_venue, easy_venue = sorted((long, short), key=lambda q: venues[q.venue].liquidity_rank)
    hard = _schedule(venues[hard_venue.venue], hard_venue.market)
    easy = _schedule(venues[easy_venue.venue], easy_venue.market)
    if None in (entry_long, entry_short, exit_long, exit_short, hard, easy):
        return _rejected(base, reasons.NO_BOOK, "a leg has no price for the size, or no market on its venue")
    assert entry_long and entry_short and exit_long and exit_short and hard is not None and easy is not None
    middle = mid(entry_long[0], entry_short[0])
    entry_spread = _bps(entry_short[0] - entry_long[0], middle)
    close_spread = _bps(exit_short[0] - exit_long[0], middle)
    fees = carry_rule.round_trip_fees_bps(strategy.order_style, hard, easy)
    entry_slip, exit_slip = (entry_long[1] + entry_short[1]) / 2, exit_long[1] + exit_short[1]
    depth_long = sum((MONEY.multiply(p, q) for p, q in long.asks), _ZERO)
    depth_short = sum((MONEY.multiply(p, q) for p, q in short.bids), _ZERO)
    legs = (long.venue, long.symbol), (short.venue, short.symbol)
    funding = carry(view.funding, *legs, view.now, view.funding_silent_after_ms)
    priced: dict[str, Any] = {
        **base, "long_px": entry_long[0], "short_px": entry_short[0], "entry_spread_bps": entry_spread,
        "close_spread_bps": close_spread, "slippage_bps": entry_slip, "fees_bps": fees,
        "depth_long": depth_long, "depth_short": depth_short}
    if isinstance(funding, Blocked):
        return _rejected(priced, funding.reason, funding.detail)
    settled = carry_history(view.funding, *legs, strategy.holding_lookback_intervals + strategy.carry_window_intervals)
    held = holding.expected_holding(settled, strategy)
    expected = expected_carry(view.funding, *legs, funding.carry_8h, strategy, settled)
    decision = carry_rule.decide_entry(carry_8h=expected, holding=held, entry_spread_bps=entry_spread,
                                       fees_bps=fees, exit_slippage_bps=exit_slip, cfg=strategy)
    priced |= {"carry_8h": funding.carry_8h, "carry_apr": funding.carry_apr,
               "projected_profit": carry_rule.projected_profit(n, decision.edge_bps),
               "holding_intervals": held.intervals, "expected_carry_8h": expected}
    return _judge(view, long, short, cfg, priced, funding.carry_8h, funding.expected_8h, decision)


def _judge(view: MarketView, long: Quote, short: Quote, cfg: ScannerConfig, priced: dict[str, Any],
           carry_8h: Decimal, expected_8h: Decimal, decision: carry_rule.EntryDecision) -> Opportunity:
    """Score a priced pair and apply the filters after the funding blocks, in the module docstring's order."""
    components, flags = _components(view, long, short, expected_8h)
    points, flags_missing = confluence.score(components, other_venue_stale=_others_stale(view, long, short))
    priced |= {"components": components, "flags": flags + flags_missing}
    failure = confluence.hard_failure(confluence.HardInputs(
        position=cfg.notional, depth_long=priced["depth_long"], depth_short=priced["depth_short"],
        latency_long_ms=view.latency_ms.get(long.venue), latency_short_ms=view.latency_ms.get(short.venue)))
    if failure is not None:
        return _rejected(priced | {"score": 0}, *failure)
    priced["score"] = points
    if decision.reason == reasons.FUNDING_DELTA_TOO_LOW:  # the carry is against the pair: nothing else matters
        return _rejected(priced, decision.reason, decision.detail())
    band = [slippage.depth_within(side, mid(q.bids[0][0], q.asks[0][0]), cfg.depth_band_bps)
            for q, side in ((long, long.asks), (short, short.bids))]
    if min(band) < cfg.min_depth_usd:
        return _rejected(priced, reasons.SHALLOW_BOOK, f"depth within {cfg.depth_band_bps} bps: {band[0]}/{band[1]}")
    spread_trade = carry_rule.spread_trade(decision.entry_spread_bps, decision.carry_8h, decision.holding.intervals)
    if spread_trade and decision.entry_spread_bps < cfg.min_spread_bps:
        return _rejected(priced, reasons.SPREAD_BELOW_COSTS, f"spread trade: spread {decision.entry_spread_bps:.2f}"
                         f" bps < min {cfg.min_spread_bps} bps; {decision.detail()}")
    if not decision.accepted:
        assert decision.reason is not None
        return _rejected(priced, decision.reason, decision.detail())
    toxic = view.toxic.get(short.venue) if long.market == "spot" else None
    if toxic is not None:
        return _rejected(priced, reasons.TOXIC_BASIS, toxic)
    if spread_trade and points < cfg.min_score:
        return _rejected(priced, reasons.SCORE_TOO_LOW, f"spread trade: score {points} < {cfg.min_score}")
    return Opportunity(**priced, accepted=True, detail=decision.detail())


def _components(view: MarketView, long: Quote, short: Quote,
                expected_8h: Decimal) -> tuple[ConfluenceComponents, tuple[str, ...]]:
    empty = LegStats()
    long_stats = view.stats.get((long.venue, long.symbol), empty)
    short_stats = view.stats.get((short.venue, short.symbol), empty)
    perp = short_stats  # the short leg is always a perp; it carries the perp-only metrics
    imbalance = None if long_stats.obi is None or short_stats.obi is None else \
        confluence.imbalance_score(long_stats.obi, short_stats.obi)
    return ConfluenceComponents(
        funding=confluence.funding_score(expected_8h), imbalance=imbalance,
        open_interest=None if perp.oi_ratio is None else confluence.open_interest_ratio_score(perp.oi_ratio),
        vwap=None if perp.vwap_z is None else confluence.vwap_score(perp.vwap_z),
        volatility=None if perp.atr_pct is None else confluence.volatility_score(perp.atr_pct, perp.atr_falling),
        liquidations=None if perp.liquidation_distance_pct is None else
        confluence.liquidation_score(perp.liquidation_distance_pct)), ()


def _others_stale(view: MarketView, long: Quote, short: Quote) -> bool:
    return any(latency is None or latency >= confluence.MAX_LATENCY_MS
               for venue, latency in view.latency_ms.items() if venue not in (long.venue, short.venue))


def _rejected(fields: dict[str, Any], reason: str, detail: str) -> Opportunity:
    defaults: dict[str, Any] = {"long_px": _ZERO, "short_px": _ZERO, "entry_spread_bps": _ZERO,
                                   "close_spread_bps": _ZERO, "slippage_bps": _ZERO, "fees_bps": _ZERO,
                                   "depth_long": _ZERO, "depth_short": _ZERO, "projected_profit": _ZERO,
                                   "score": 0, "components": ConfluenceComponents()}
    return Opportunity(**(defaults | fields | {"accepted": False, "reason": reason, "detail": detail}))


def scan(view: MarketView, cfg: ScannerConfig, venues: Mapping[str, VenueConfig],
         strategy: StrategyConfig) -> list[Opportunity]:
    """Every candidate of the asset: accepted ones first by score then projected profit
    (at most `top_n`), then the rejected ones, each with its reason."""
    judged = [evaluate(view, long, short, cfg, venues, strategy)
              for long, short in pairs(view.quotes, cfg.quote_equivalents, strategy.pair_kinds)
              if long.venue in venues and short.venue in venues]
    accepted = sorted((o for o in judged if o.accepted), key=lambda o: (-o.score, -o.projected_profit,
                                                                      o.opportunity_id))[: cfg.top_n]
    return accepted + [o for o in judged if not o.accepted]
