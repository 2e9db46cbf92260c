"""The opportunity scanner on hand-worked books (docs/architecture.md §3.6, §3.9), judged by the
one carry rule (operators/strategy/carry_rule.py): with no settled funding history H is the
default 21 intervals, so a carry of c per 8 h is worth c × 21 × 10⁴ bps of edge."""

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import DEFAULT_VENUES, ScannerConfig, StrategyConfig
from arbflow.model.market import FundingRate
from arbflow.model.money import MONEY
from arbflow.operators.signals import funding, scanner
from arbflow.operators.signals.scanner import LegStats, MarketView, Quote
from tests.unit.execution_support import WORKED_RULE

T = 1_723_161_600_000
H8 = 8 * 3_600_000
CFG = ScannerConfig()
STRATEGY = WORKED_RULE  # margin 5 bps, exit at or below 0, μ̂ over 21
BINANCE_PERP = Quote(venue="binance", symbol="BTC/USDT:USDT", market="perp", bids=((D(60_000), D(10)),),
                     asks=((D(60_001), D(10)),), is_book=True, ts=T)
BYBIT_PERP = Quote(venue="bybit", symbol="BTC/USDT:USDT", market="perp", bids=((D(60_100), D(10)),),
                   asks=((D(60_101), D(10)),), is_book=True, ts=T)
BINANCE_SPOT = Quote(venue="binance", symbol="BTC/USDT", market="spot", bids=((D(60_000), D(10)),),
                     asks=((D(60_001), D(10)),), is_book=True, ts=T)
GOOD_STATS = {("binance", "BTC/USDT:USDT"): LegStats(obi=0.4),
              ("bybit", "BTC/USDT:USDT"): LegStats(obi=-0.4, oi_ratio=1.1, vwap_z=0.0, atr_pct=0.1,
                                                   atr_falling=True, liquidation_distance_pct=5.0)}


def _funding(*rates: tuple[str, str]) -> funding.FundingMonitor:
    state = None
    for venue, rate in rates:
        state, _ = funding.observe(state, FundingRate(venue=venue, symbol="BTC/USDT:USDT", market="perp",
                                                      rate=D(rate), interval_ms=H8, next_funding_time=T + H8,
                                                      ts_local=T - 1000))
    assert state is not None
    return state


def _view(**changes: object) -> MarketView:
    base = MarketView(asset="BTC", quotes=(BINANCE_PERP, BYBIT_PERP),
                      funding=_funding(("binance", "0.0001"), ("bybit", "0.0004")),
                      latency_ms={"binance": 20.0, "bybit": 20.0}, now=T, stats=GOOD_STATS)
    return replace(base, **changes)  # type: ignore[arg-type]


def _only(view: MarketView, long: str = "binance", short: str = "bybit",  # type: ignore[no-untyped-def]
          cfg: ScannerConfig = CFG, strategy: StrategyConfig = STRATEGY):
    [opportunity] = [o for o in scanner.scan(view, cfg, DEFAULT_VENUES, strategy)
                     if (o.long_venue, o.short_venue) == (long, short)]
    return opportunity


def test_a_cross_venue_perp_pair_worked_by_hand_is_accepted() -> None:
    o = _only(_view())
    mid = (D(60_001) + D(60_100)) / 2  # 60,050.5
    assert (o.long_px, o.short_px) == (D(60_001), D(60_100))  # one level covers $10k on each side
    assert abs(o.entry_spread_bps - D(99) / mid * 10_000) < D("1E-25")  # ≈ 16.486 bps
    assert abs(o.close_spread_bps - D(101) / mid * 10_000) < D("1E-25")  # exit: 60,101 − 60,000
    assert o.fees_bps == D(14)  # bybit (harder, rank 10 < 11) maker 2 + binance taker 5, entry and exit
    assert (o.carry_8h, o.carry_apr) == (D("0.0003"), D("0.3285"))
    exit_slip = (D("60000.5") - D(60_000)) / D("60000.5") * 10_000 + (D(60_101) - D("60100.5")) / D("60100.5") * 10_000
    # over H = 21 intervals (the default: no settled history yet): 63 bps of carry + 16.49 spread − 14 − 0.17
    expected = D(10_000) * (D("0.0003") * 21 + D(99) / mid) - D(14) - D(10_000) * exit_slip / 10_000
    assert abs(o.projected_profit - expected) < D("1E-20")  # ≈ 65.32 USD
    assert o.holding_intervals == 21 and o.detail is not None and "H 21 (default)" in o.detail
    # 9×0.6 (carry 0.03 % / 0.05 %) + 8×0.7 + 7 + 6 + 5 + 5 = 34 → 85
    assert (o.score, o.accepted, o.reason, o.flags) == (85, True, None, ())


def test_the_reverse_direction_pays_the_spread_and_is_refused() -> None:
    o = _only(_view(), long="bybit", short="binance")
    # the expected carry is negative: the carry rule refuses it (reverse carry is not traded)
    assert not o.accepted and o.reason == reasons.FUNDING_DELTA_TOO_LOW and "exit threshold" in (o.detail or "")


@pytest.mark.parametrize(("changes", "reason"), [
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, bids=()))}, reasons.NO_BOOK),
    ({"funding": _funding(("binance", "0.0001"))}, reasons.MISSING_FUNDING_LEG),
    ({"latency_ms": {"binance": 20.0, "bybit": None}}, reasons.VENUE_STALE),
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, bids=((D(60_100), D("0.3")),)))}, reasons.DEPTH_TOO_THIN),
    ({"quotes": (replace(BINANCE_PERP, asks=((D(60_001), D("0.5")), (D(60_050), D(10)))), BYBIT_PERP)},
     reasons.SHALLOW_BOOK),  # $30k at the touch, the rest 8 bps away
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, asks=((D(60_101), D("0.1")), (D(61_500), D(10)))))},
     reasons.NOT_PROFITABLE),  # buying the short back walks $3,990 to 61,500: ≈ 93 bps > 63 + 16.5 − 14 − 5
])
def test_each_filter_refuses_with_its_reason(changes: dict[str, object], reason: str) -> None:
    o = _only(_view(**changes))
    assert (o.accepted, o.reason) == (False, reason) and o.detail


def test_a_thin_spread_earns_through_its_carry_when_the_carry_pays_the_fees() -> None:
    narrow = replace(BYBIT_PERP, bids=((D(60_080), D(10)),), asks=((D(60_081), D(10)),))  # ≈ 13.2 bps < 14 fees
    o = _only(_view(quotes=(BINANCE_PERP, narrow)))
    # spread 79 / 60,040.5 = 13.158 bps; exit slippage 0.5/60,000.5 + 0.5/60,080.5 = 0.1665 bps
    # 3 bp/8h × 21 = 63 + 13.158 − 14 − 0.1665 = 61.99 bps > 5: a carry trade, not refused for its spread
    assert o.accepted and o.detail is not None and "edge 61.99 bps" in o.detail


# Spread trades: carry 1.1 bp/8h × 21 = 23.1 bps < a ≈ 33 bps spread (bybit bid 60,200 vs binance ask 60,001)
SPREAD_TRADE = {"quotes": (BINANCE_PERP, replace(BYBIT_PERP, bids=((D(60_200), D(10)),), asks=((D(60_201), D(10)),))),
                "funding": _funding(("binance", "0.0001"), ("bybit", "0.00021"))}


def test_a_spread_trade_below_the_minimum_spread_is_refused_when_it_is_set_above_the_spread() -> None:
    o = _only(_view(**SPREAD_TRADE), cfg=ScannerConfig(min_spread_bps=D(40)))
    assert o.reason == reasons.SPREAD_BELOW_COSTS and o.detail is not None and "< min 40 bps" in o.detail
    assert _only(_view(**SPREAD_TRADE), cfg=ScannerConfig(min_spread_bps=D(30))).accepted


def test_the_score_gates_spread_trades_and_not_carry_trades_when_soft_metrics_are_missing() -> None:
    spread_trade = _only(_view(**SPREAD_TRADE, stats={}))
    assert spread_trade.score < 70 and spread_trade.reason == reasons.SCORE_TOO_LOW
    carry_trade = _only(_view(stats={}))  # 63 bps of carry over H vs 16.5 bps of spread
    assert carry_trade.score < 70 and carry_trade.accepted


def test_another_stale_venue_costs_thirty_points() -> None:
    o = _only(_view(latency_ms={"binance": 20.0, "bybit": 20.0, "okx": 450.0}))
    assert o.score == 55  # 85 − 30
    assert _only(_view(**SPREAD_TRADE, latency_ms={"binance": 20.0, "bybit": 20.0, "okx": 450.0})).reason == \
        reasons.SCORE_TOO_LOW


def test_a_toxic_basis_blocks_spot_perp_entries_on_that_venue() -> None:
    spot_perp = _view(quotes=(BINANCE_SPOT, BYBIT_PERP), toxic={"bybit": "basis below its 1st percentile"},
                      stats={("binance", "BTC/USDT"): LegStats(obi=0.4), **GOOD_STATS})
    # spot taker 10 + bybit perp maker 2 → 24 bps of fees, paid by 4 bp/8h × 21 = 84 bps of carry
    cross = replace(STRATEGY, pair_kinds=("carry", "spread", "cross_carry"))
    assert _only(spot_perp, strategy=cross).reason == reasons.TOXIC_BASIS
    assert _only(replace(spot_perp, toxic={}), strategy=cross).accepted
    assert scanner.scan(spot_perp, CFG, DEFAULT_VENUES, STRATEGY) == []  # cross_carry is not traded by default


def _binance_spot_perp(rate: str, **changes: object) -> MarketView:
    fields: dict[str, object] = {"quotes": (BINANCE_SPOT, BINANCE_PERP), "funding": _funding(("binance", rate)),
                                 "stats": {}, "latency_ms": {"binance": 20.0}}
    return _view(**(fields | changes))


def test_a_2bp_binance_spot_perp_carry_is_accepted_with_its_horizon_despite_a_low_score() -> None:
    o = _only(_binance_spot_perp("0.0002"), short="binance")
    # fees 2 × (spot maker 10 + perp taker 5) = 30; spread −1/60,000.5 ≈ −0.17 bps; exit slippage 2 × 0.083
    # edge = 2 × 21 − 0.17 − 30 − 0.17 ≈ 11.67 bps > 5
    assert o.accepted and o.fees_bps == D(30) and o.score < 70 and o.holding_intervals == 21
    assert o.detail is not None and "H 21 (default)" in o.detail and "edge 11.67 bps" in o.detail


def test_a_thin_binance_spot_perp_carry_is_refused_not_profitable_with_the_numbers() -> None:
    o = _only(_binance_spot_perp("0.00012"), short="binance")
    # 1.2 × 21 = 25.2 − 0.17 − 30 − 0.17 ≈ −5.13 bps ≤ 5 (no fixed carry floor: the rule alone refuses it)
    assert o.reason == reasons.NOT_PROFITABLE and o.detail is not None
    for part in ("carry 1.20 bp/8h", "H 21 (default)", "cost 30.17", "edge -5.13 bps", "margin 5"):
        assert part in o.detail, (part, o.detail)


def test_the_settled_funding_history_sets_h_and_the_expected_carry_when_single_prints_dip() -> None:
    # settled rates, oldest first: −1, 25 × +2, −1, 35 × +2, −1 bp, then the current 2 bp. The raw sign
    # has runs of 25 and 35; the expected carry μ̂ (mean of 21) stays positive from the second value on:
    # one open run of 62 → H 62. μ̂ now = (19 × 2 − 1 + 2) / 21 = 39 / 21 bp.
    rates = ["-0.0001"] + ["0.0002"] * 25 + ["-0.0001"] + ["0.0002"] * 35 + ["-0.0001", "0.0002"]
    state = None
    for i, rate in enumerate(rates):
        settle = T + H8 - (len(rates) - 1 - i) * H8
        state, _ = funding.observe(state, FundingRate(venue="binance", symbol="BTC/USDT:USDT", market="perp",
                                                      rate=D(rate), interval_ms=H8, next_funding_time=settle,
                                                      ts_local=settle - H8 + (H8 - 1000 if i == len(rates) - 1 else 0)))
    o = _only(_binance_spot_perp("0.0002", funding=state), short="binance")
    assert o.expected_carry_8h == MONEY.divide(D("0.0039"), D(21)) and o.carry_8h == D("0.0002")
    # 39 / 21 × 62 = 115.14 bps − 0.16 spread − 30.17 cost ≈ 84.81 bps
    assert o.holding_intervals == 62 and o.detail is not None and "H 62 (history)" in o.detail
    assert "carry 1.86 bp/8h" in o.detail and "edge 84.81 bps" in o.detail


def test_candidates_are_cross_venue_perps_and_long_spot_short_perp_in_one_quote_currency() -> None:
    hyper = Quote(venue="hyperliquid", symbol="BTC/USDC:USDC", market="perp", bids=BYBIT_PERP.bids,
                  asks=BYBIT_PERP.asks, is_book=True, ts=T)
    quotes = (BINANCE_SPOT, BINANCE_PERP, BYBIT_PERP, hyper)
    names = {(a.venue + ":" + a.market, b.venue + ":" + b.market) for a, b in scanner.pairs(quotes)}
    assert names == {("binance:spot", "binance:perp"), ("binance:spot", "bybit:perp"),
                     ("binance:perp", "bybit:perp"), ("bybit:perp", "binance:perp")}
    traded = {(a.venue + ":" + a.market, b.venue + ":" + b.market)
              for a, b in scanner.pairs(quotes, (), StrategyConfig().pair_kinds)}
    assert traded == names - {("binance:spot", "bybit:perp")}  # the default kinds: carry and spread
    mixed = {(a.venue, b.venue) for a, b in scanner.pairs(quotes, ("USDT", "USDC"))}
    assert ("binance", "hyperliquid") in mixed and ("hyperliquid", "bybit") in mixed


@given(st.one_of(st.none(), st.floats(0, 1000)), st.decimals(min_value=0, max_value=40, places=1),
       st.decimals(min_value=D("-0.001"), max_value=D("0.001"), places=5))
def test_a_failed_hard_constraint_always_means_score_zero_and_rejected(latency, depth_btc, rate) -> None:  # type: ignore[no-untyped-def]
    view = _view(latency_ms={"binance": latency, "bybit": 20.0},
                 quotes=(replace(BINANCE_PERP, asks=((D(60_001), depth_btc),)) if depth_btc > 0 else BINANCE_PERP,
                         BYBIT_PERP),
                 funding=_funding(("binance", "0.0001"), ("bybit", str(rate))))
    o = _only(view)
    if o.reason in (reasons.DEPTH_TOO_THIN, reasons.VENUE_STALE):
        assert o.score == 0 and not o.accepted
    assert 0 <= o.score <= 100


def test_a_leg_whose_last_price_is_older_than_five_seconds_is_stale() -> None:
    old = replace(BYBIT_PERP, ts=T - 5_001)
    o = _only(_view(quotes=(BINANCE_PERP, old)))
    assert (o.reason, o.detail) == (reasons.VENUE_STALE, "bybit BTC/USDT:USDT: last price 5001 ms old")
