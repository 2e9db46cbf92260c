"""Confluence score: soft mappings, weights, neutral missing data, stress penalty, hard
constraints (docs/architecture.md §3.5, §3.9)."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.signals import ConfluenceComponents
from arbflow.operators.signals import confluence as c


@pytest.mark.parametrize(("function", "args", "expected"), [
    (c.funding_score, (D("0.00025"),), 0.5),  # half of 0.05 %/8h
    (c.funding_score, (D("0.001"),), 1.0),  # clamped
    (c.funding_score, (D("-0.0001"),), 0.0),
    (c.imbalance_score, (0.4, -0.4), 0.7),  # 0.5 + 0.8 / 4
    (c.imbalance_score, (-1.0, 1.0), 0.0),
    (c.open_interest_score, (D(100), D(100)), 0.5),  # (1.0 − 0.9) / 0.2
    (c.open_interest_score, (D(110), D(100)), 1.0),
    (c.vwap_score, (1.5,), 0.5),
    (c.vwap_score, (-3.0,), 0.0),
    (c.volatility_score, (0.5, False), 0.5),
    (c.volatility_score, (0.5, True), 0.7),
    (c.liquidation_score, (2.5,), 0.5),
])
def test_each_soft_metric_maps_to_its_formula(function, args, expected) -> None:  # type: ignore[no-untyped-def]
    assert function(*args) == pytest.approx(expected)


def test_imbalance_is_bid_minus_ask_over_their_sum() -> None:
    assert c.imbalance(D(3), D(1)) == pytest.approx(0.5)
    assert c.imbalance(D(0), D(0)) is None


def test_the_score_weights_nine_eight_seven_six_five_five_over_forty() -> None:
    components = ConfluenceComponents(funding=1.0, imbalance=0.5, open_interest=0.0, vwap=1.0, volatility=0.2,
                                      liquidations=1.0)
    # 9 + 4 + 0 + 6 + 1 + 5 = 25 → 100 × 25 / 40 = 62.5 → 62 (round half to even)
    assert c.score(components, other_venue_stale=False) == (62, ())


def test_a_metric_without_data_is_neutral_and_flagged() -> None:
    components = ConfluenceComponents(funding=1.0, imbalance=1.0, open_interest=None, vwap=1.0, volatility=1.0,
                                      liquidations=None)
    # 9 + 8 + 7×0.5 + 6 + 5 + 5×0.5 = 34 → 85
    assert c.score(components, other_venue_stale=False) == (85, ("no_data:open_interest", "no_data:liquidations"))


def test_another_stale_venue_costs_thirty_points_but_never_below_zero() -> None:
    full = ConfluenceComponents(funding=1.0, imbalance=1.0, open_interest=1.0, vwap=1.0, volatility=1.0,
                                liquidations=1.0)
    assert c.score(full, other_venue_stale=True) == (70, ())
    empty = ConfluenceComponents(funding=0.0, imbalance=0.0, open_interest=0.0, vwap=0.0, volatility=0.0,
                                 liquidations=0.0)
    assert c.score(empty, other_venue_stale=True) == (0, ())


def _hard(**changes: object) -> c.HardInputs:
    base = {"position": D(10_000), "depth_long": D(20_000), "depth_short": D(50_000), "latency_long_ms": 20.0,
            "latency_short_ms": 199.0}
    return c.HardInputs(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "reason"), [
    ({}, None),
    ({"depth_long": D("19999.99")}, reasons.DEPTH_TOO_THIN),
    ({"latency_short_ms": 200.0}, reasons.VENUE_STALE),
    ({"latency_long_ms": None}, reasons.VENUE_STALE),
])
def test_hard_constraints(changes: dict[str, object], reason: str | None) -> None:
    failure = c.hard_failure(_hard(**changes))
    assert (failure[0] if failure else None) == reason


unit = st.one_of(st.none(), st.floats(min_value=0, max_value=1))


@given(unit, unit, unit, unit, unit, unit, st.booleans())
def test_the_score_stays_between_0_and_100(a, b, d, e, f, g, stressed) -> None:  # type: ignore[no-untyped-def]
    points, _ = c.score(ConfluenceComponents(funding=a, imbalance=b, open_interest=d, vwap=e, volatility=f,
                                             liquidations=g), other_venue_stale=stressed)
    assert 0 <= points <= 100
