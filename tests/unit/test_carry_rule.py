"""The one fee-aware decision rule and the holding-period estimate, by hand-worked numbers.

Bundled fees (model/config.py DEFAULT_VENUES): Binance spot 10/10 bps, perp maker 2 / taker
5 bps; both legs rank 11, so the spot (long) leg is the harder one. maker_first:
2 × (10 maker spot + 5 taker perp) = 30 bps; taker: 2 × (10 + 5) = 30 bps.
OKX spot maker 8 / taker 10, perp taker 5: maker_first 2 × (8 + 5) = 26, taker 30."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import DEFAULT_VENUES, OrderStyle, StrategyConfig, parse_config
from arbflow.model.errors import ConfigError
from arbflow.operators.strategy import carry_rule, holding

# The rule as these hand numbers are worked: margin 5 bps, exit at or below 0, μ̂ over 21 settlements,
# H default 21 clamped to [3, 90], lookback 270 (the defaults are tested in the last test).
CFG = StrategyConfig(entry_margin_bps=Decimal(5), exit_carry_8h=Decimal(0), carry_window_intervals=21)
RAW = replace(CFG, carry_window_intervals=1)  # μ̂ = the last value: runs measured on the raw carry
P, N = Decimal("0.0001"), Decimal("-0.0001")


def _binance_fees(style: OrderStyle = "maker_first") -> Decimal:
    binance = DEFAULT_VENUES["binance"]
    assert binance.spot is not None
    return carry_rule.round_trip_fees_bps(style, binance.spot, binance.perp)


def test_round_trip_fees_at_the_bundled_table_when_priced_per_order_style() -> None:
    okx = DEFAULT_VENUES["okx"]
    assert okx.spot is not None
    assert _binance_fees("maker_first") == Decimal(30)
    assert _binance_fees("taker") == Decimal(30)
    assert carry_rule.round_trip_fees_bps("maker_first", okx.spot, okx.perp) == Decimal(26)
    assert carry_rule.round_trip_fees_bps("taker", okx.spot, okx.perp) == Decimal(30)


def test_a_2bp_binance_carry_is_accepted_with_its_horizon_when_there_is_no_history() -> None:
    h = holding.expected_holding((), CFG)
    decision = carry_rule.decide_entry(carry_8h=Decimal("0.0002"), holding=h, entry_spread_bps=Decimal(0),
                                       fees_bps=_binance_fees(), exit_slippage_bps=Decimal(0), cfg=CFG)
    # 2 bp × 21 = 42 bps of carry − 30 bps of fees = 12 bps > 5 bps margin
    assert (h.intervals, h.source) == (21, "default")
    assert decision.accepted and decision.reason is None
    assert decision.edge_bps == Decimal(12)
    assert "H 21 (default)" in decision.detail() and "edge 12.00 bps" in decision.detail()
    assert carry_rule.projected_profit(Decimal(10_000), decision.edge_bps) == Decimal(12)  # $10k × 12 bps


def test_a_half_bp_binance_carry_is_refused_not_profitable_with_the_numbers() -> None:
    decision = carry_rule.decide_entry(carry_8h=Decimal("0.00005"), holding=holding.expected_holding((), CFG),
                                       entry_spread_bps=Decimal(0), fees_bps=_binance_fees(),
                                       exit_slippage_bps=Decimal(0), cfg=CFG)
    # 0.5 bp × 21 = 10.5 bps − 30 bps = −19.5 bps ≤ 5 bps
    assert not decision.accepted and decision.reason == reasons.NOT_PROFITABLE
    assert decision.edge_bps == Decimal("-19.5")
    text = decision.detail()
    for part in ("carry 0.50 bp/8h", "H 21 (default)", "= 10.50 bps", "cost 30.00", "edge -19.50 bps", "margin 5"):
        assert part in text, (part, text)


def test_the_edge_adds_the_spread_and_subtracts_exit_slippage_when_both_are_given() -> None:
    # 1 bp × 10 = 10 + 8 spread − (30 + 2) = −14
    h = holding.Holding(intervals=10, source="config")
    decision = carry_rule.decide_entry(carry_8h=P, holding=h, entry_spread_bps=Decimal(8), fees_bps=Decimal(30),
                                       exit_slippage_bps=Decimal(2), cfg=CFG)
    assert decision.edge_bps == Decimal(-14) and decision.cost_bps == Decimal(32)


def test_the_history_sets_h_when_completed_runs_exist() -> None:
    history = [N] + [P] * 20 + [N] + [P] * 30 + [N] + [P] * 4  # runs 20, 30; the last 4 still open
    h = holding.expected_holding(history, RAW)
    assert (h.intervals, h.source, h.runs) == (25, "history", 2)
    decision = carry_rule.decide_entry(carry_8h=Decimal("0.0002"), holding=h, entry_spread_bps=Decimal(0),
                                       fees_bps=_binance_fees(), exit_slippage_bps=Decimal(0), cfg=CFG)
    assert decision.edge_bps == Decimal(20) and "H 25 (history, 2 runs)" in decision.detail()  # 2 × 25 − 30


def test_runs_cut_by_the_window_do_not_count_when_measuring() -> None:
    assert holding.completed_runs([P, N, P, P, N, P]) == [2]
    assert holding.completed_runs([P, P, P]) == []
    assert holding.completed_runs([N, Decimal(0), P, Decimal(0)]) == [1]


def test_h_is_clamped_when_the_runs_are_short_or_the_carry_never_flips() -> None:
    flips = [N, P] * 10 + [N]  # ten completed runs of 1
    assert holding.expected_holding(flips, RAW).intervals == 3
    cfg = replace(CFG, holding_lookback_intervals=5, carry_window_intervals=1, default_holding_intervals=3)
    # no completed run: the open run's length, at least the default (5 positive in a row → 5)
    assert holding.expected_holding([N] + [P] * 5, cfg) == holding.Holding(intervals=5, source="history")
    assert holding.expected_holding([P] * 2, cfg).source == "default"  # shorter than the default
    # only the last 5 values are read: [P, N, P, P, N] has one completed run of 2 → clamped to 3
    assert holding.expected_holding([N, P, P, P, P, P, N, P, P, N], cfg).intervals == 3


def test_hold_continues_below_the_entry_bar_and_exits_below_zero_when_carry_fades() -> None:
    h = holding.Holding(intervals=21, source="default")
    one_bp = carry_rule.decide_entry(carry_8h=P, holding=h, entry_spread_bps=Decimal(0), fees_bps=Decimal(30),
                                     exit_slippage_bps=Decimal(0), cfg=CFG)
    assert not one_bp.accepted  # 21 − 30 = −9: too little to enter ...
    assert not carry_rule.should_exit(P, CFG)  # ... but an open trade keeps earning it
    assert carry_rule.should_exit(Decimal(0), CFG)  # a pair earning nothing frees its capital
    assert carry_rule.should_exit(Decimal("-0.00001"), CFG)
    assert carry_rule.should_exit(Decimal("0.00004"), replace(CFG, exit_carry_8h=Decimal("0.00005")))


def test_reverse_carry_is_refused_with_the_reason_when_carry_is_negative() -> None:
    decision = carry_rule.decide_entry(carry_8h=Decimal("-0.0002"), holding=holding.configured_holding(CFG),
                                       entry_spread_bps=Decimal(100), fees_bps=Decimal(30),
                                       exit_slippage_bps=Decimal(0), cfg=CFG)
    # −2 × 21 = −42 + 100 − 30 = 28 would beat the margin, but the exit rule would close it at once
    assert decision.edge_bps == Decimal(28)
    assert not decision.accepted and decision.reason == reasons.FUNDING_DELTA_TOO_LOW
    assert "spot borrow" in decision.detail()


def test_a_carry_exactly_at_the_binance_clamp_is_judged_by_the_rule_alone() -> None:
    """1 bp/8h (Binance's clamp, where its BTC funding sits for months) has no fixed floor
    against it: 1 × 90 = 90 − 34 = 56 bps > the 5 bps margin → accepted."""
    decision = carry_rule.decide_entry(carry_8h=Decimal("0.0001"), holding=holding.Holding(intervals=90,
                                       source="history"), entry_spread_bps=Decimal(0), fees_bps=Decimal(30),
                                       exit_slippage_bps=Decimal(4), cfg=CFG)
    assert decision.edge_bps == Decimal(56) and decision.accepted and decision.reason is None


def test_the_strategy_section_is_validated_when_parsed() -> None:
    parsed = parse_config({"strategy": {"order_style": "taker", "entry_margin_bps": "2"}}, {})
    assert parsed.strategy.order_style == "taker" and parsed.strategy.entry_margin_bps == Decimal(2)
    with pytest.raises(ConfigError, match=r"strategy\.order_style"):
        parse_config({"strategy": {"order_style": "maker"}}, {})
    with pytest.raises(ConfigError, match="default_holding_intervals"):
        parse_config({"strategy": {"min_holding_intervals": 30}}, {})


@given(low=st.integers(-50, 50), step=st.integers(0, 50), h=st.integers(1, 90), spread=st.integers(-50, 50))
def test_more_carry_never_turns_an_entry_away_when_all_else_is_equal(low: int, step: int, h: int,
                                                                      spread: int) -> None:
    def accepted(carry_hundredth_bp: int) -> bool:
        return carry_rule.decide_entry(carry_8h=Decimal(carry_hundredth_bp) / 1_000_000,
                                       holding=holding.Holding(intervals=h, source="config"),
                                       entry_spread_bps=Decimal(spread), fees_bps=Decimal(30),
                                       exit_slippage_bps=Decimal(0), cfg=CFG).accepted
    assert not accepted(low) or accepted(low + step)


def test_the_expected_carry_is_the_mean_of_the_last_k_settlements() -> None:
    cfg = replace(CFG, carry_window_intervals=4)
    assert holding.expected_carry([], cfg) is None
    assert holding.expected_carry([P], cfg) == P
    # the last four: 1, 1, −1, 3 bp → 1 bp
    assert holding.expected_carry([N * 9, P, P, N, P * 3], cfg) == P
    assert holding.rolling_means([P, N, P * 3], 2) == [P, Decimal(0), P]


def test_one_negative_print_does_not_end_a_run_of_the_expected_carry() -> None:
    # raw: 30 positive, one −1 bp, 30 positive → two runs of the raw sign, none of μ̂ (k 21)
    history = [N] * 21 + [P] * 30 + [N] + [P] * 30
    assert holding.completed_runs(history[20:]) == [30]
    raw = holding.expected_holding(history, RAW)
    smooth = holding.expected_holding(history, CFG)
    assert raw.runs == 1 and raw.intervals == 30
    # μ̂ turns positive at the 32nd value (11 P > 10 N in its window) and stays so: an open run of 51
    assert (smooth.intervals, smooth.source, smooth.runs) == (51, "history", 0)


def test_with_the_defaults_a_2bp_binance_carry_with_history_is_accepted_and_half_a_bp_is_refused() -> None:
    rule = StrategyConfig()  # margin 20 bps, μ̂ over 42 settlements, exit at or below −0.5 bp
    history = [P * 2] * 60  # 60 settlements at 2 bp: μ̂ positive throughout, an open run of 60 → H 60
    h = holding.expected_holding(history, rule)
    assert (h.intervals, h.source) == (60, "history")
    carry = holding.expected_carry(history, rule)
    accepted = carry_rule.decide_entry(carry_8h=carry, holding=h, entry_spread_bps=Decimal(0),
                                       fees_bps=_binance_fees(), exit_slippage_bps=Decimal(0), cfg=rule)
    assert accepted.accepted and accepted.edge_bps == Decimal(90)  # 2 × 60 − 30 = 90 > 20
    half = carry_rule.decide_entry(carry_8h=P / 2, holding=h, entry_spread_bps=Decimal(0), fees_bps=_binance_fees(),
                                   exit_slippage_bps=Decimal(0), cfg=rule)
    assert not half.accepted and half.reason == reasons.NOT_PROFITABLE  # 0.5 × 60 − 30 = 0 ≤ 20
    assert "carry 0.50 bp/8h × H 60 (history)" in half.detail() and "margin 20 bps" in half.detail()


def test_the_runs_of_the_rolling_sums_are_the_runs_of_the_rolling_means() -> None:
    """H reads only the signs of μ̂: the k-sums have them, without a division per value."""
    import random

    rng = random.Random(7)
    values = [Decimal(rng.randint(-30, 40)) / Decimal(100_000) for _ in range(400)]
    for k in (1, 3, 21, 42):
        means, sums = holding.rolling_means(values, k), holding.rolling_sums(values, k)
        assert [m > 0 for m in means] == [s > 0 for s in sums]
        assert holding.completed_runs(means) == holding.completed_runs(sums)
