"""Margin gates (docs/architecture.md §3.8, §3.9 Margin; operators.portfolio.risk_gates): the 0.8 / 0.6 / 0.7 /
65 % transitions on hand-worked accounts, the reference test (inject health 0.5 → every
pending entry aborts), and refusals always carrying a reason code.

The test venue has round numbers: USDT at face value, a flat 10 % maintenance rate, min_qty
and lot 0.001. With 10,000 USDT and a BTC perp of q BTC at 10,000 (entry = mark):
TMM = 1,000 q, AE = 10,000, health = 1 − 1.2 × 1,000 q / 10,000 = 1 − 0.12 q, margin use 0.1 q.
"""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import FeeSchedule, MarginConfig, Tier, VenueConfig, VenueMarginConfig
from arbflow.model.risk import CollateralBalance, MarginAccount, PerpPosition, ProposedOrder
from arbflow.operators.portfolio.risk_gates import abort_pending, assess
from tests.strategies import decimals

FLAT = (Tier(floor=D(0), rate=D(0)),)
TEN_PERCENT = (Tier(floor=D(0), rate=D("0.10")),)
TEST_TABLES = VenueMarginConfig(haircuts={"USDT": FLAT}, maintenance={"*": TEN_PERCENT})
MARGIN = MarginConfig(max_leverage=D(100), venues={"testex": TEST_TABLES})
VENUES = {"testex": VenueConfig(kind="cex", liquidity_rank=1, perp=FeeSchedule(maker_bps=D(2), taker_bps=D(5)),
                                lot_size=D("0.001"), min_qty=D("0.001"))}
PX = {"BTC/USDT:USDT": "10000", "ETH/USDT:USDT": "1000"}


def _account(*positions: tuple[str, str, float | None], usdt: str = "10000") -> MarginAccount:
    """positions: (symbol, signed qty, quality) at entry = mark = PX."""
    return MarginAccount(venue="testex", collateral=(CollateralBalance(asset="USDT", balance=D(usdt), price=D(1)),),
                         positions=tuple(PerpPosition(venue="testex", symbol=s, side="long" if D(q) > 0 else "short",
                                                      qty=abs(D(q)), entry_px=D(PX[s]), mark_px=D(PX[s]), quality=k)
                                         for s, q, k in positions))


def _order(order_id: str, symbol: str, side: str, qty: str) -> ProposedOrder:
    return ProposedOrder(order_id=order_id, venue="testex", symbol=symbol, side=side, qty=D(qty),  # type: ignore[arg-type]
                         px=D(PX[symbol]))


def _assess(account: MarginAccount, *orders: ProposedOrder, pending: tuple[str, ...] = (),
            margin: MarginConfig = MARGIN, assume: D | None = None):
    return assess(account, list(orders), list(pending), margin, VENUES, assume_health=assume)


# -- entries and the 0.8 line ---------------------------------------------------------------


def test_entry_is_accepted_when_projected_health_stays_at_or_above_0_8() -> None:
    # q 1.5 → 1.6: health 1 − 0.12 × 1.6 = 0.808
    account = _account(("BTC/USDT:USDT", "1.5", 0.5))
    decision = _assess(account, _order("e1", "BTC/USDT:USDT", "buy", "0.1")).decisions[0]
    assert decision.accepted and decision.reason is None
    assert decision.health_before == D("0.82") and decision.health_after == D("0.808")


def test_entry_is_refused_with_a_reason_when_projected_health_falls_below_0_8() -> None:
    # q 1.5 → 2.0: health 0.76 < 0.8
    account = _account(("BTC/USDT:USDT", "1.5", 0.5))
    decision = _assess(account, _order("e1", "BTC/USDT:USDT", "buy", "0.5")).decisions[0]
    assert not decision.accepted and decision.reason == reasons.HEALTH_BELOW_ENTRY_MIN
    assert decision.health_after == D("0.82")  # the refused order is not kept


def test_later_entries_see_earlier_accepted_ones_when_judged_in_turn() -> None:
    # 1.0 → 1.6 (0.808, accepted) → 1.7 (0.796, refused) ; a reduction is always accepted
    response = _assess(_account(("BTC/USDT:USDT", "1", 0.5)), _order("a", "BTC/USDT:USDT", "buy", "0.6"),
                       _order("b", "BTC/USDT:USDT", "buy", "0.1"), _order("c", "BTC/USDT:USDT", "sell", "0.2"))
    assert [(d.order_id, d.accepted, d.reason) for d in response.decisions] == [
        ("a", True, None), ("b", False, reasons.HEALTH_BELOW_ENTRY_MIN), ("c", True, None)]
    assert response.decisions[2].effect == "reduce" and response.decisions[2].health_after == D("0.832")


def test_reduction_is_accepted_when_health_is_already_below_0_8() -> None:
    response = _assess(_account(("BTC/USDT:USDT", "2", 0.5)), _order("r", "BTC/USDT:USDT", "sell", "0.1"))
    assert response.decisions[0].accepted  # health 0.76 → 0.772, still below 0.8: de-risking is never blocked


def test_entry_is_refused_when_leverage_would_exceed_the_cap() -> None:
    margin = MarginConfig(venues={"testex": TEST_TABLES})  # max_leverage 3
    # q 2.5 → 3.1: notional 31,000 / AE 10,000 = 3.1 > 3 (health 0.628 would also fail 0.8)
    decision = _assess(_account(("BTC/USDT:USDT", "1", 0.5)), _order("e", "BTC/USDT:USDT", "buy", "2.1"),
                       margin=margin).decisions[0]
    assert decision.reason == reasons.HEALTH_BELOW_ENTRY_MIN
    loose = MarginConfig(venues={"testex": VenueMarginConfig(haircuts={"USDT": FLAT},
                                                             maintenance={"*": (Tier(floor=D(0), rate=D("0.01")),)})})
    decision = _assess(_account(("BTC/USDT:USDT", "1", 0.5)), _order("e", "BTC/USDT:USDT", "buy", "2.1"),
                       margin=loose).decisions[0]
    assert decision.reason == reasons.LEVERAGE_CAP_EXCEEDED


# -- critical health: 0.6 and 0.7 ---------------------------------------------------------


def test_every_pending_entry_aborts_when_health_0_5_is_injected() -> None:
    """The reference test: inject health_score = 0.5 → all pending entry workflows abort."""
    aborts = abort_pending(D("0.5"), ["entry_BTC_1_0", "entry_ETH_1_0", "entry_SOL_2_1"], MARGIN)
    assert [a.entry_id for a in aborts] == ["entry_BTC_1_0", "entry_ETH_1_0", "entry_SOL_2_1"]
    assert {a.reason for a in aborts} == {reasons.HEALTH_CRITICAL}


def test_assess_aborts_pending_and_refuses_entries_when_health_0_5_is_assumed() -> None:
    response = _assess(_account(("BTC/USDT:USDT", "1", 0.5)), _order("e", "BTC/USDT:USDT", "buy", "0.001"),
                       pending=("p1", "p2"), assume=D("0.5"))
    assert response.critical and response.pause_entries
    assert [a.entry_id for a in response.aborts] == ["p1", "p2"]
    assert response.decisions[0].reason == reasons.HEALTH_CRITICAL


@pytest.mark.parametrize(("health", "aborted"), [("0.5", 2), ("0.5999", 2), ("0.6", 0), ("0.8", 0)])
def test_pending_entries_abort_only_when_health_is_below_0_6(health: str, aborted: int) -> None:
    assert len(abort_pending(D(health), ["a", "b"], MARGIN)) == aborted


def test_lowest_quality_position_is_reduced_until_health_0_7_when_critical() -> None:
    # BTC 2 (MM 2,000, quality 0.9) + ETH 20 at 1,000 (MM 2,000, quality 0.1): TMM 4,000,
    # health 1 − 1.2 × 0.4 = 0.52 < 0.6. Health ≥ 0.7 needs TMM ≤ 2,500: ETH down to 5 (reduce 15).
    response = _assess(_account(("BTC/USDT:USDT", "2", 0.9), ("ETH/USDT:USDT", "20", 0.1)), pending=("p",))
    assert response.health == D("0.52") and response.critical
    assert [(r.symbol, r.side, r.qty, r.reason) for r in response.reductions] == [
        ("ETH/USDT:USDT", "sell", D(15), reasons.HEALTH_CRITICAL)]
    assert response.reductions[0].fraction == D("0.75") and response.reductions[0].health_after == D("0.7")
    assert [a.entry_id for a in response.aborts] == ["p"]


def test_next_position_is_reduced_when_closing_the_worst_is_not_enough() -> None:
    # ETH short 5 (MM 500, quality 0.1) + BTC 3.5 (MM 3,500, quality 0.9): health 0.52. Closing ETH
    # leaves TMM 3,500 (health 0.58); BTC then goes to 2.5 (TMM 2,500, health 0.7).
    response = _assess(_account(("BTC/USDT:USDT", "3.5", 0.9), ("ETH/USDT:USDT", "-5", 0.1)))
    assert [(r.symbol, r.side, r.qty, r.fraction) for r in response.reductions] == [
        ("ETH/USDT:USDT", "buy", D(5), D(1)), ("BTC/USDT:USDT", "sell", D(1), D("0.2857142858"))]
    assert response.reductions[-1].health_after == D("0.7")


def test_unknown_quality_is_reduced_first_when_ranking() -> None:
    response = _assess(_account(("BTC/USDT:USDT", "2", 0.1), ("ETH/USDT:USDT", "20", None)))
    assert response.reductions[0].symbol == "ETH/USDT:USDT"


# -- margin use: 65 % and 60 % -------------------------------------------------------------

# Without a shadow buffer health = 1 − margin use, so margin use 70 % is health 0.3: above a
# critical level of 0.2, which isolates the margin-use rule.
NO_BUFFER = MarginConfig(shadow_buffer=D(0), entry_min_health=D("0.3"), critical_health=D("0.2"),
                         deleverage_target_health=D("0.25"), max_leverage=D(100), venues={"testex": TEST_TABLES})


def test_margin_use_above_65_percent_is_reduced_to_60_percent_lowest_quality_first() -> None:
    # BTC 4 (MM 4,000, quality 0.9) + ETH 30 at 1,000 (MM 3,000, quality 0.2): margin use 70 %.
    # ≤ 60 % needs TMM ≤ 6,000: ETH down to 20 (reduce 10, a third).
    response = _assess(_account(("BTC/USDT:USDT", "4", 0.9), ("ETH/USDT:USDT", "30", 0.2)), margin=NO_BUFFER)
    assert response.margin_use == D("0.7") and not response.critical
    assert [(r.symbol, r.qty, r.reason) for r in response.reductions] == [
        ("ETH/USDT:USDT", D(10), reasons.MARGIN_USE_TOO_HIGH)]
    assert response.reductions[0].margin_use_after == D("0.6")


@pytest.mark.parametrize(("eth", "reduced"), [("24", False), ("25", False), ("25.1", True)])
def test_margin_use_reduction_starts_only_above_65_percent(eth: str, reduced: bool) -> None:
    # BTC 4 + ETH n: margin use (4,000 + 100 n) / 10,000 → 64 %, 65 %, 65.1 %
    response = _assess(_account(("BTC/USDT:USDT", "4", 0.9), ("ETH/USDT:USDT", eth, 0.2)), margin=NO_BUFFER)
    assert bool(response.reductions) is reduced


def test_entry_is_refused_when_margin_use_would_exceed_65_percent() -> None:
    decision = _assess(_account(("BTC/USDT:USDT", "6", 0.9)), _order("e", "BTC/USDT:USDT", "buy", "0.6"),
                       margin=NO_BUFFER).decisions[0]
    assert decision.reason == reasons.MARGIN_USE_TOO_HIGH  # 66 % (health 0.34 passes the 0.3 entry line)


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=80)
@given(decimals("1000", "200000", 2),
       st.lists(st.tuples(st.sampled_from(sorted(PX)), decimals("-20", "20", 3), st.none() | st.floats(0, 1)),
                max_size=2, unique_by=lambda t: t[0]),
       st.lists(st.tuples(st.sampled_from(sorted(PX)), st.sampled_from(["buy", "sell"]), decimals("0", "30", 4)),
                max_size=8),
       st.none() | decimals("-1", "1", 2))
def test_every_refusal_carries_a_reason_code_when_orders_are_random(
        usdt: D, held: list[tuple[str, D, float | None]], orders: list[tuple[str, str, D]], assume: D | None) -> None:
    account = _account(*[(s, str(q), k) for s, q, k in held if q != 0], usdt=str(usdt))
    response = _assess(account, *[_order(f"o{i}", s, side, str(q)) for i, (s, side, q) in enumerate(orders) if q > 0],
                       pending=("p",), assume=assume)
    for decision in response.decisions:
        assert decision.accepted or decision.reason in reasons.ALL_REASONS
        assert decision.accepted or decision.detail
        if decision.accepted and decision.effect == "entry" and not response.critical:
            assert decision.health_after >= MARGIN.entry_min_health
    assert all(a.reason == reasons.HEALTH_CRITICAL for a in response.aborts)
    assert all(r.reason in (reasons.HEALTH_CRITICAL, reasons.MARGIN_USE_TOO_HIGH) for r in response.reductions)
