"""The opportunity scanner on hand-worked books (docs/architecture.md §3.6, §3.9)."""

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import DEFAULT_VENUES, ScannerConfig
from arbflow.model.market import FundingRate
from arbflow.operators.signals import funding, scanner
from arbflow.operators.signals.scanner import LegStats, MarketView, Quote

T = 1_723_161_600_000
H8 = 8 * 3_600_000
CFG = ScannerConfig()
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


def _only(view: MarketView, long: str = "binance", short: str = "bybit"):  # type: ignore[no-untyped-def]
    [opportunity] = [o for o in scanner.scan(view, CFG, DEFAULT_VENUES)
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
    expected = D(10_000) * (D("0.0003") * 3 + D(99) / mid) - D(14) - D(10_000) * exit_slip / 10_000
    assert abs(o.projected_profit - expected) < D("1E-20")  # ≈ 11.32 USD
    # 9×0.6 (carry 0.03 % / 0.05 %) + 8×0.7 + 7 + 6 + 5 + 5 = 34 → 85
    assert (o.score, o.accepted, o.reason, o.flags) == (85, True, None, ())


def test_the_reverse_direction_pays_the_spread_and_is_refused() -> None:
    o = _only(_view(), long="bybit", short="binance")
    assert not o.accepted and o.reason == reasons.FUNDING_DELTA_TOO_LOW and o.score == 0


@pytest.mark.parametrize(("changes", "reason"), [
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, bids=()))}, reasons.NO_BOOK),
    ({"funding": _funding(("binance", "0.0001"))}, reasons.MISSING_FUNDING_LEG),
    ({"latency_ms": {"binance": 20.0, "bybit": None}}, reasons.VENUE_STALE),
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, bids=((D(60_100), D("0.3")),)))}, reasons.DEPTH_TOO_THIN),
    ({"quotes": (replace(BINANCE_PERP, asks=((D(60_001), D("0.5")), (D(60_050), D(10)))), BYBIT_PERP)},
     reasons.SHALLOW_BOOK),  # $30k at the touch, the rest 8 bps away
    ({"quotes": (BINANCE_PERP, replace(BYBIT_PERP, asks=((D(60_101), D("0.1")), (D(60_300), D(10)))))},
     reasons.NOT_PROFITABLE),  # buying the short back walks to 60,300: ≈ 13 bps of exit slippage
    ({"stats": {}}, reasons.SCORE_TOO_LOW),  # every soft metric but funding neutral: 52
])
def test_each_filter_refuses_with_its_reason(changes: dict[str, object], reason: str) -> None:
    o = _only(_view(**changes))
    assert (o.accepted, o.reason) == (False, reason) and o.detail


def test_a_thin_spread_is_refused_before_profit_is_considered() -> None:
    narrow = replace(BYBIT_PERP, bids=((D(60_080), D(10)),), asks=((D(60_081), D(10)),))  # ≈ 13.2 bps < 14 fees
    o = _only(_view(quotes=(BINANCE_PERP, narrow)))
    assert o.reason == reasons.SPREAD_BELOW_COSTS


def test_another_stale_venue_costs_thirty_points() -> None:
    o = _only(_view(latency_ms={"binance": 20.0, "bybit": 20.0, "okx": 450.0}))
    assert (o.score, o.reason) == (55, reasons.SCORE_TOO_LOW)


def test_a_toxic_basis_blocks_spot_perp_entries_on_that_venue() -> None:
    spot_perp = _view(quotes=(BINANCE_SPOT, BYBIT_PERP), toxic={"bybit": "basis below its 1st percentile"},
                      stats={("binance", "BTC/USDT"): LegStats(obi=0.4), **GOOD_STATS})
    o = _only(spot_perp)
    # spot taker 10 + bybit perp maker 2 → 24 bps of fees exceed the 16.5 bps spread first
    assert o.reason == reasons.SPREAD_BELOW_COSTS
    wide = replace(BYBIT_PERP, bids=((D(60_200), D(10)),), asks=((D(60_201), D(10)),))
    assert _only(replace(spot_perp, quotes=(BINANCE_SPOT, wide))).reason == reasons.TOXIC_BASIS


def test_candidates_are_cross_venue_perps_and_long_spot_short_perp_in_one_quote_currency() -> None:
    hyper = Quote(venue="hyperliquid", symbol="BTC/USDC:USDC", market="perp", bids=BYBIT_PERP.bids,
                  asks=BYBIT_PERP.asks, is_book=True, ts=T)
    quotes = (BINANCE_SPOT, BINANCE_PERP, BYBIT_PERP, hyper)
    names = {(a.venue + ":" + a.market, b.venue + ":" + b.market) for a, b in scanner.pairs(quotes)}
    assert names == {("binance:spot", "binance:perp"), ("binance:spot", "bybit:perp"),
                     ("binance:perp", "bybit:perp"), ("bybit:perp", "binance:perp")}
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
    if o.reason in (reasons.DEPTH_TOO_THIN, reasons.VENUE_STALE, reasons.FUNDING_DELTA_TOO_LOW):
        assert o.score == 0 and not o.accepted
    assert 0 <= o.score <= 100


def test_a_leg_whose_last_price_is_older_than_five_seconds_is_stale() -> None:
    old = replace(BYBIT_PERP, ts=T - 5_001)
    o = _only(_view(quotes=(BINANCE_PERP, old)))
    assert (o.reason, o.detail) == (reasons.VENUE_STALE, "bybit BTC/USDT:USDT: last price 5001 ms old")
