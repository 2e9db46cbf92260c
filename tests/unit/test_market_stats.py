"""Soft-metric inputs from the streams: imbalance, open interest ratio, VWAP z-score, ATR,
liquidation-cluster distance (docs/architecture.md §3.9)."""

from decimal import Decimal as D

import pytest

from arbflow.model.market import Liquidation, MarketTrade, OpenInterest
from arbflow.operators.signals import market_stats as ms

T = 1_723_161_600_000


def _trade(ts: int, px: str, qty: str = "1") -> MarketTrade:
    return MarketTrade(venue="binance", symbol="BTC/USDT:USDT", market="perp", px=D(px), qty=D(qty), side="buy",
                       trade_id=str(ts), ts_local=ts)


def test_imbalance_counts_only_quantities_within_ten_bps_of_the_mid() -> None:
    # mid 100.05, band 0.10005: bid 100 and ask 100.1 count; 99.5 and 101 do not → (3 − 1) / 4
    assert ms.book_imbalance(((D(100), D(3)), (D("99.5"), D(5))), ((D("100.1"), D(1)), (D(101), D(4)))) == 0.5
    assert ms.book_imbalance((), ((D(1), D(1)),)) is None


def test_the_vwap_z_score_uses_the_volume_weighted_spread_of_the_last_hour() -> None:
    state = ms.InstrumentStats()
    ms.observe_trade(state, _trade(T, "100"))
    ms.observe_trade(state, _trade(T + 1, "102"))  # vwap 101, variance 10202 − 10201 = 1 → z = (102 − 101) / 1
    assert ms.leg_stats(state).vwap_z == pytest.approx(1.0)
    ms.observe_trade(state, _trade(T + 3_600_001, "101"))  # both earlier trades leave the window
    assert ms.leg_stats(state).vwap_z == 0.0


def test_atr_is_the_mean_true_range_of_fourteen_closed_minute_bars_in_percent() -> None:
    state = ms.InstrumentStats()
    for minute in range(15):  # each minute trades 100 then 101: range 1, close 101
        ms.observe_trade(state, _trade(T + minute * 60_000, "100"))
        ms.observe_trade(state, _trade(T + minute * 60_000 + 1, "101"))
    stats = ms.leg_stats(state)  # 14 bars closed (the 15th is still open)
    assert stats.atr_pct == pytest.approx(100 / 101) and not stats.atr_falling
    ms.observe_trade(state, _trade(T + 15 * 60_000, "101"))  # closes bar 15: 100 → 101 again, same ATR
    ms.observe_trade(state, _trade(T + 16 * 60_000, "101"))  # closes a flat bar 16: TR 0
    assert ms.leg_stats(state).atr_falling


def test_open_interest_is_compared_with_its_24_hour_average() -> None:
    state = ms.InstrumentStats()
    for i, value in enumerate(("100", "100", "130")):
        ms.observe_open_interest(state, OpenInterest(venue="binance", symbol="BTC/USDT:USDT", market="perp",
                                                     open_interest=D(value), ts_local=T + i))
    assert ms.leg_stats(state).oi_ratio == pytest.approx(130 / 110)


def test_the_distance_to_the_heaviest_liquidation_bucket() -> None:
    state = ms.InstrumentStats()
    for px, qty in (("100", "10"), ("105", "0.1")):  # notionals 1,000 and 10.5
        ms.observe_liquidation(state, Liquidation(venue="binance", symbol="BTC/USDT:USDT", market="perp", px=D(px),
                                                  qty=D(qty), side="sell", ts_local=T))
    ms.observe_trade(state, _trade(T + 1, "101"))
    # the 90th percentile of two bucket totals is the larger: the bucket around 100 (10 bps wide)
    assert ms.leg_stats(state).liquidation_distance_pct == pytest.approx(1.0 / 101 * 100, abs=0.06)
    assert ms.leg_stats(ms.InstrumentStats()).liquidation_distance_pct is None
