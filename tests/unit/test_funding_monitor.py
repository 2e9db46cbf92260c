"""Funding normalisation, carry sign matrix, missing and stale legs (docs/architecture.md §3.2, §3.9)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.market import FundingRate
from arbflow.operators.signals import funding

H = 3_600_000
T = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def _rate(venue: str, symbol: str, rate: str, interval_h: int, next_time: int, ts: int,
          predicted: str | None = None) -> FundingRate:
    return FundingRate(venue=venue, symbol=symbol, market="perp", rate=Decimal(rate),
                       predicted_rate=None if predicted is None else Decimal(predicted), interval_ms=interval_h * H,
                       next_funding_time=next_time, ts_local=ts)


@pytest.mark.parametrize(("rate", "interval_h", "rate_8h", "apr"), [
    ("0.0001", 8, "0.0001", "0.1095"),  # the 0.01 %/8h clamp: 3 × 365 × 0.0001
    ("0.0000125", 1, "0.0001", "0.1095"),  # an hourly venue paying the same
    ("-0.0003", 4, "-0.0006", "-0.657"),  # 6 settlements a day × 365 × -0.0003
    ("0.00059", 1, "0.00472", "5.1684"),  # dYdX's max hourly BTC rate in the supervik set
])
def test_rates_normalise_to_8h_and_apr(rate: str, interval_h: int, rate_8h: str, apr: str) -> None:
    assert funding.rate_8h(Decimal(rate), interval_h * H) == Decimal(rate_8h)
    assert funding.apr(Decimal(rate), interval_h * H) == Decimal(apr)


def test_the_interval_is_inferred_from_consecutive_settlement_times() -> None:
    # The record says 8 h, but the venue moved to 4-hourly settlements.
    state, leg = funding.observe(None, _rate("binance", "BTC/USDT:USDT", "0.0002", 8, T + 8 * H, T))
    assert (leg.interval_ms, leg.interval_source) == (8 * H, "record")
    state, leg = funding.observe(state, _rate("binance", "BTC/USDT:USDT", "0.0002", 8, T + 12 * H, T + 8 * H))
    assert (leg.interval_ms, leg.interval_source, leg.rate_8h) == (4 * H, "inferred", Decimal("0.0004"))
    state, leg = funding.observe(state, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 12 * H, T + 9 * H))
    assert leg.interval_ms == 4 * H  # same settlement, an updated rate: the inference holds


def test_carry_is_short_minus_long_and_spot_counts_zero() -> None:
    state, _ = funding.observe(None, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T))
    state, _ = funding.observe(state, _rate("hyperliquid", "BTC/USDC:USDC", "0.00003", 1, T + H, T))
    # long Binance perp (pays 0.0001/8h), short Hyperliquid (receives 8 × 0.00003 = 0.00024/8h)
    result = funding.carry(state, ("binance", "BTC/USDT:USDT"), ("hyperliquid", "BTC/USDC:USDC"), T + 1000)
    assert result == funding.Carry(carry_8h=Decimal("0.00014"), carry_apr=Decimal("0.1533"),
                                   expected_8h=Decimal("0.00014"))
    # long spot, short Binance perp: the classic cash-and-carry receives the perp's funding
    spot = funding.carry(state, ("binance", "BTC/USDT"), ("binance", "BTC/USDT:USDT"), T + 1000)
    assert isinstance(spot, funding.Carry) and spot.carry_8h == Decimal("0.0001")


def test_a_predicted_rate_moves_the_expected_carry_only() -> None:
    state, _ = funding.observe(None, _rate("okx", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T, predicted="0.0003"))
    result = funding.carry(state, ("okx", "BTC/USDT"), ("okx", "BTC/USDT:USDT"), T)
    assert isinstance(result, funding.Carry)
    assert (result.carry_8h, result.expected_8h) == (Decimal("0.0001"), Decimal("0.0002"))


def test_a_perp_leg_without_funding_blocks_the_decision() -> None:
    state, _ = funding.observe(None, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T))
    result = funding.carry(state, ("bybit", "BTC/USDT:USDT"), ("binance", "BTC/USDT:USDT"), T)
    assert isinstance(result, funding.Blocked) and result.reason == reasons.MISSING_FUNDING_LEG


def test_funding_is_stale_sixty_seconds_after_a_settlement_with_no_new_rate() -> None:
    state, leg = funding.observe(None, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T + 8 * H - 5_000))
    assert funding.staleness(leg, T + 8 * H + 60_000) is None
    assert "passed with no new rate" in (funding.staleness(leg, T + 8 * H + 60_001) or "")
    result = funding.carry(state, ("binance", "BTC/USDT"), ("binance", "BTC/USDT:USDT"), T + 8 * H + 60_001)
    assert isinstance(result, funding.Blocked) and result.reason == reasons.STALE_FUNDING


def test_a_silent_stream_is_stale_unless_silence_is_expected() -> None:
    _, leg = funding.observe(None, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T))
    assert funding.staleness(leg, T + 600_000) is None
    assert "no funding update for 600 s" in (funding.staleness(leg, T + 600_001) or "")
    assert funding.staleness(leg, T + 4 * H, silent_after_ms=None) is None  # settlement-only history


rates = st.decimals(min_value=Decimal("-0.003"), max_value=Decimal("0.003"), places=6)


@given(rates, rates, st.sampled_from([1, 2, 4, 8]), st.sampled_from([1, 2, 4, 8]))
def test_swapping_the_legs_flips_the_carry(rate_a: Decimal, rate_b: Decimal, hours_a: int, hours_b: int) -> None:
    state, _ = funding.observe(None, _rate("binance", "BTC/USDT:USDT", str(rate_a), hours_a, T + hours_a * H, T))
    state, _ = funding.observe(state, _rate("bybit", "BTC/USDT:USDT", str(rate_b), hours_b, T + hours_b * H, T))
    a_b = funding.carry(state, ("binance", "BTC/USDT:USDT"), ("bybit", "BTC/USDT:USDT"), T)
    b_a = funding.carry(state, ("bybit", "BTC/USDT:USDT"), ("binance", "BTC/USDT:USDT"), T)
    assert isinstance(a_b, funding.Carry) and isinstance(b_a, funding.Carry)
    assert a_b.carry_8h == -b_a.carry_8h and a_b.carry_apr == -b_a.carry_apr


def test_the_stale_funding_alert_carries_its_value_threshold_and_time() -> None:
    """Settled at T + 8 h with no new rate: at T + 8 h + 90 s the leg is 90 s past its
    settlement, over the 60 s grace → STALE_FUNDING with value 90 (s) and threshold 60 (s)."""
    from arbflow.model.config import Config, SignalsConfig
    from arbflow.model.desk_config import desk_config
    from arbflow.model.market import Ticker
    from arbflow.model.portfolio import Alert
    from arbflow.operators.asset_desk import run_desk

    settings = desk_config(Config(signals=SignalsConfig(funding_silent_after_s=0)))
    state, _ = run_desk(None, _rate("binance", "BTC/USDT:USDT", "0.0001", 8, T + 8 * H, T), settings)
    tick = Ticker(venue="binance", symbol="BTC/USDT:USDT", market="perp", bid=Decimal(60_000), ask=Decimal(60_001),
                  bid_qty=Decimal(1), ask_qty=Decimal(1), ts_local=T + 8 * H + 90_000)
    state, out = run_desk(state, tick, settings)
    [alert] = [a for a in out if type(a) is Alert and a.code == reasons.STALE_FUNDING]
    assert (alert.value, alert.threshold, alert.ts, alert.venue, alert.asset) == (
        Decimal(90), Decimal(60), T + 8 * H + 90_000, "binance", "BTC")


def _settlements(venue: str, symbol: str, rates: list[str], interval_h: int = 8) -> funding.FundingMonitor:
    """One record per interval, each announcing the next settlement: record i's rate settles
    at T + (i + 1) × interval once record i + 1 arrives."""
    state = None
    for i, rate in enumerate(rates):
        state, _ = funding.observe(state, _rate(venue, symbol, rate, interval_h, T + (i + 1) * interval_h * H,
                                                T + i * interval_h * H))
    assert state is not None
    return state


def test_settled_rates_join_the_history_when_the_next_settlement_is_announced() -> None:
    state = _settlements("binance", "BTC/USDT:USDT", ["0.0001", "-0.0002", "0.0003"])
    # the third rate has not settled yet: two settlements, at T + 8 h and T + 16 h
    spot_perp = funding.carry_history(state, ("binance", "BTC/USDT"), ("binance", "BTC/USDT:USDT"), 270)
    assert spot_perp == (Decimal("0.0001"), Decimal("-0.0002"))
    reverse = funding.carry_history(state, ("binance", "BTC/USDT:USDT"), ("binance", "BTC/USDT"), 270)
    assert reverse == (Decimal("-0.0001"), Decimal("0.0002"))
    assert funding.carry_history(state, ("binance", "BTC/USDT"), ("binance", "BTC/USDT:USDT"), 1) == \
        (Decimal("-0.0002"),)


def test_an_hourly_perp_is_averaged_per_8h_bucket_when_paired_with_an_8h_perp() -> None:
    # hyperliquid pays 0.00001 per hour for eight hours (rate_8h 0.00008 each), then 0.00002
    state = _settlements("hyperliquid", "BTC/USDC:USDC", ["0.00001"] * 7 + ["0.00002"] * 3, interval_h=1)
    # settlements at T + 1 h … T + 9 h: bucket T//8h holds hours 1–7 (rate_8h 0.00008 each),
    # bucket +1 holds hour 8 (0.00016) and hour 9 (0.00016)
    assert [count for _, _, count in state.settled[("hyperliquid", "BTC/USDC:USDC")]] == [7, 2]
    for i, rate in enumerate(["0.0001", "0.0003", "0.0005"]):
        state, _ = funding.observe(state, _rate("binance", "BTC/USDT:USDT", rate, 8, T + (i + 1) * 8 * H,
                                                T + i * 8 * H))
    # binance settled 0.0001 at T + 8 h (bucket +1) and 0.0003 at T + 16 h (bucket +2): one common bucket
    long_hl = funding.carry_history(state, ("hyperliquid", "BTC/USDC:USDC"), ("binance", "BTC/USDT:USDT"), 270)
    assert long_hl == (Decimal("0.0001") - Decimal("0.00016"),)


def test_the_history_keeps_one_year_of_buckets_when_it_grows() -> None:
    state = _settlements("binance", "BTC/USDT:USDT", ["0.0001"] * (funding.HISTORY_BUCKETS + 10))
    assert len(state.settled[("binance", "BTC/USDT:USDT")]) == funding.HISTORY_BUCKETS
