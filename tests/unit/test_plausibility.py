"""Plausibility (model/plausibility.py) where a replay or a live run meets it: the desk's market
stage refuses a price outside the band around the asset's other prices (PRICE_IMPLAUSIBLE, with
the value and the reference), and the funding cap scales with the interval."""

import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import Config, PlausibilityConfig, SignalsConfig
from arbflow.model.desk_config import desk_config
from arbflow.model.market import MarketTrade, Ticker
from arbflow.model.plausibility import PriceReferences, check_record, funding_problem
from arbflow.model.rejected import Rejected
from arbflow.operators import market_state
from arbflow.operators.asset_desk import run_desk
from arbflow.operators.market_state import MarketState

D = Decimal
T = 1_723_161_255_000
PERP = "BTC/USDT:USDT"
PLAUSIBLE = PlausibilityConfig()
PAPER = desk_config(Config(signals=SignalsConfig(funding_silent_after_s=0)), "paper")


def _ticker(venue: str, bid: str, ask: str, ts: int, symbol: str = PERP) -> Ticker:
    return Ticker(venue=venue, symbol=symbol, market="spot" if ":" not in symbol else "perp", bid=D(bid), ask=D(ask),
                  bid_qty=D(2), ask_qty=D(3), ts_local=ts)


def test_a_bid_of_0_00066_next_to_another_venues_67600_is_refused_with_both_values() -> None:
    desk, out = run_desk(None, _ticker("okx", "67600", "67600.2", T), PAPER)
    assert not any(type(r) is Rejected for r in out)
    desk, out = run_desk(desk, _ticker("binance", "0.00066", "0.00067", T + 5), PAPER)
    [refused] = [r for r in out if type(r) is Rejected]
    assert (refused.reason, refused.source, refused.ts) == (reasons.PRICE_IMPLAUSIBLE, "md.ticker", T + 5)
    assert refused.detail == ("bid 0.00066 is outside ±20 % of the reference, okx BTC/USDT:USDT mid 67600.1 "
                              "(plausibility.price_band)")
    assert '"bid":"0.00066"' in refused.raw
    assert ("binance", PERP) not in desk.market.quotes  # neither stage ever sees it
    assert desk.market.watermark == T
    # the venue's next plausible quote is taken
    desk, out = run_desk(desk, _ticker("binance", "67590", "67591", T + 10), PAPER)
    assert not any(type(r) is Rejected for r in out) and ("binance", PERP) in desk.market.quotes


def test_a_lone_first_price_below_the_assets_floor_looks_like_a_ratio() -> None:
    market = MarketState()
    refused = market_state.observe(market, _ticker("binance", "0.00066", "0.00067", T), None, PLAUSIBLE)
    assert refused is not None and refused.reason == reasons.PRICE_IMPLAUSIBLE
    assert "below BTC's floor 1" in refused.detail
    # an asset without a floor has no reference yet: nothing to judge it by
    sol_free = PlausibilityConfig(price_floors={})
    assert market_state.observe(MarketState(), _ticker("binance", "0.00066", "0.00067", T), None, sol_free) is None


def test_the_median_of_the_other_venues_outvotes_one_bad_reference() -> None:
    references = PriceReferences()
    for venue, mid in (("okx", "67600"), ("bybit", "67610"), ("gate", "6761")):  # gate's is off by 10×
        references.note((venue, PERP), (D(mid),), T, PLAUSIBLE.price_band)
    assert check_record(references, "BTC", _ticker("binance", "67590", "67591", T), T, PLAUSIBLE) is None
    problem = check_record(references, "BTC", _ticker("kucoin", "6760", "6761", T), T, PLAUSIBLE)
    # the lower median of 6761, 67590.5 (binance, just taken), 67600 and 67610
    assert problem is not None and "median 67590.5 of 4 other instruments' mids" in problem


def test_a_real_move_beyond_the_band_is_taken_once_the_old_prices_age_out() -> None:
    market = MarketState()
    assert market_state.observe(market, _ticker("binance", "60000", "60001", T), None, PLAUSIBLE) is None
    crash = _ticker("binance", "45000", "45001", T + 1_000)
    assert market_state.observe(market, crash, None, PLAUSIBLE) is not None  # 25 % in a second: refused
    later = _ticker("binance", "45000", "45001", T + PLAUSIBLE.reference_max_age_ms + 1)
    assert market_state.observe(market, later, None, PLAUSIBLE) is None  # the 60,000 reference has aged out


def test_trades_are_judged_but_never_become_references() -> None:
    market = MarketState()
    assert market_state.observe(market, _ticker("binance", "60000", "60001", T), None, PLAUSIBLE) is None
    trade = MarketTrade(venue="binance", symbol=PERP, market="perp", px=D("600"), qty=D(1), side="buy",
                        trade_id="1", ts_local=T + 1)
    refused = market_state.observe(market, trade, None, PLAUSIBLE)
    assert refused is not None and refused.source == "md.trade" and refused.detail.startswith("px 600 is outside")
    [(key, held)] = market.prices.mids.items()
    assert (key, held.mid, held.ts, held.low, held.high) == (("binance", PERP), D("60000.5"), T, D("48000.400"),
                                                             D("72000.600"))


@given(st.decimals(min_value=D("0.8"), max_value=D("1.2"), places=6))
def test_every_price_inside_the_band_is_accepted(factor: Decimal) -> None:
    references = PriceReferences()
    references.note(("okx", PERP), (D(50_000),), T, PLAUSIBLE.price_band)
    price = D(50_000) * factor
    ticker = _ticker("binance", str(price), str(price + 1), T)
    inside = D(40_000) <= price and price + 1 <= D(60_000)
    assert (check_record(references, "BTC", ticker, T, PLAUSIBLE) is None) == inside


@pytest.mark.parametrize(("rate", "interval_ms", "refused"), [
    ("0.03", 28_800_000, False), ("0.0300001", 28_800_000, True), ("-0.03", 28_800_000, False),
    ("0.00375", 3_600_000, False), ("0.0037501", 3_600_000, True), ("0.015", 14_400_000, False),
    ("1E+999999", 28_800_000, True), ("-1E+999999", 3_600_000, True), ("1E-999999", 60_000, False),
])
def test_the_funding_cap_is_3_percent_per_8h_scaled_to_the_interval(rate: str, interval_ms: int,
                                                                    refused: bool) -> None:
    assert (funding_problem("rate", D(rate), interval_ms, PLAUSIBLE.max_funding_rate_8h) is not None) == refused


def test_the_references_survive_a_snapshot_of_the_desk() -> None:
    market = MarketState()
    assert market_state.observe(market, _ticker("okx", "60000", "60001", T), None, PLAUSIBLE) is None
    restored = pickle.loads(pickle.dumps(market))
    [(key, held)] = restored.prices.mids.items()
    assert (key, held.mid, held.low, held.high, held.ts) == (("okx", PERP), D("60000.5"), D("48000.400"),
                                                             D("72000.600"), T)
    refused = market_state.observe(restored, _ticker("binance", "6000", "6001", T + 1), None, PLAUSIBLE)
    assert refused is not None and "okx BTC/USDT:USDT mid 60000.5" in refused.detail
