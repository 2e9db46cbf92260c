"""The funding-carry study (operators/study/carry.py, operators/study/carry_steps.py) and its
command (cli/study.py, `arbflow study funding`).

Expected figures are worked out by hand in the comments, or — for the quarter of real data —
summed straight from the raw CSV rows with plain `csv` + `Decimal`, independent of the
loader and the operator.
"""

import csv
import dataclasses
import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.cli.study import study
from arbflow.connectors.captures.funding_study_data import read_series
from arbflow.model.config import DEFAULT_VENUES, HOUR_MS, StrategyConfig
from arbflow.model.market import Candle, FundingRate
from arbflow.model.money import MONEY
from arbflow.operators.strategy import holding
from arbflow.operators.study import carry as cs
from arbflow.operators.study.carry_steps import bucket_end, buckets_8h

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "funding"
SUPERVIK = FIXTURES / "funding_btc_eth_7venues_utc.csv.gz"
AHA_HH = FIXTURES / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
H8 = 8 * HOUR_MS
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z, on the 00/08/16 grid
N = Decimal(10_000)
BINANCE, BYBIT, DYDX = DEFAULT_VENUES["binance"], DEFAULT_VENUES["bybit"], DEFAULT_VENUES["dydx"]
PERP = "BTC/USDT:USDT"
# The carry rule with H pinned to 35 intervals and the exit at 0.5 bp/8h: at Binance's taker round
# trip, 2 × (spot 10 + perp 5) = 30 bps, a carry-only cash-and-carry then enters above
# (30 + 5 margin) / 35 = 1 bp/8h and exits below 0.5 bp/8h — the thresholds these hand
# replays are worked with. A binance/bybit spread (round trip 2 × (5 + 5.5) = 21 bps) enters
# above 26 / 35 ≈ 0.74 bp/8h; binance/dYdX (2 × (5 + 5) = 20 bps) above 25 / 35 ≈ 0.71 bp/8h.
# The rule as the hand numbers below are worked (the defaults were chosen on 2023's data and may move).
WORKED = cs.StudyParams(strategy=StrategyConfig(entry_margin_bps=Decimal(5), exit_carry_8h=Decimal(0),
                                                carry_window_intervals=21))
# μ̂ is the last settlement (window 1), the basis stop at −5 bps for 3 bars, re-entry at 0 bps.
H35 = cs.StudyParams(strategy=StrategyConfig(entry_margin_bps=Decimal(5), exit_carry_8h=Decimal("0.00005"),
                                             min_holding_intervals=35,
                                             default_holding_intervals=35, max_holding_intervals=35,
                                             carry_window_intervals=1, basis_stop_bps=Decimal(-5)))


def funding(rates: list[str] | list[Decimal], *, venue: str = "binance", symbol: str = PERP, start: int = T0,
            interval: int = H8) -> list[FundingRate]:
    """Settlements every `interval` from `start`, published at their settlement time."""
    return [FundingRate(venue=venue, symbol=symbol, market="perp", rate=Decimal(r), interval_ms=interval,
                        next_funding_time=start + i * interval + interval, ts_exchange=start + i * interval,
                        ts_local=start + i * interval) for i, r in enumerate(rates)]


def bars(closes: dict[int, str], *, symbol: str, venue: str = "binance") -> list[Candle]:
    """8h bars closing at T0 + k × 8h with the given close (open/high/low = close)."""
    return [Candle(venue=venue, symbol=symbol, market="perp" if ":" in symbol else "spot", interval_ms=H8,
                   open=Decimal(c), high=Decimal(c), low=Decimal(c), close=Decimal(c), volume=Decimal(1),
                   ts_open=T0 + k * H8 - H8, ts_close=T0 + k * H8, ts_local=T0 + k * H8) for k, c in closes.items()]


def actions(result: cs.StrategyResult) -> list[tuple[int, str, int, str]]:
    """(step index, action, direction, reason) of each decision."""
    return [((d.ts_ms - T0) // H8, d.action, d.direction, d.reason) for d in result.decisions]


# -- the hand-checked quarter of real data -----------------------------------------------------


Q1_2023 = (1_672_531_200_000, 1_680_307_200_000)  # [2023-01-01, 2023-04-01) UTC


def _raw_quarter_rates() -> list[Decimal]:
    """Binance BTC settlements of Q1 2023 straight from the supervik CSV (no project code)."""
    with gzip.open(SUPERVIK, "rt", newline="") as handle:
        return [Decimal(row["funding_rate"]) for row in csv.DictReader(handle)
                if row["asset"] == "BTC" and row["venue"] == "binance"
                and Q1_2023[0] <= int(row["funding_time_ms_utc"]) < Q1_2023[1]]


@pytest.fixture(scope="module")
def quarter() -> list[FundingRate]:
    _, data = read_series(SUPERVIK, venues=DEFAULT_VENUES)
    return [r for r in data.funding[("binance", PERP)] if Q1_2023[0] <= r.ts_local < Q1_2023[1]]


def test_carry_figure_for_binance_btc_q1_2023_matches_the_raw_file(quarter: list[FundingRate]) -> None:
    # Rules that hold the position all quarter: entered after the first settlement
    # (2023-01-01 00:00Z, 0.00010000, not collected), closed after the last one
    # (2023-03-31 16:00:00.011Z, 0.00010000, collected). The raw file has 270 settlements;
    # the 269 collected sum to 0.02013568 → 201.3568 USD on 10,000; fees 2 × 10,000 ×
    # (10 + 5) bps = 30 USD; net 171.3568 USD.
    raw = _raw_quarter_rates()
    assert len(raw) == len(quarter) == 270
    assert sum(raw[1:]) == Decimal("0.02013568")
    # H pinned to 90: 1 bp × 90 = 90 bps > 30 + 0 margin at the first settlement; never below the exit
    always_in = cs.StudyParams(strategy=StrategyConfig(
        entry_margin_bps=Decimal(0), exit_carry_8h=Decimal("-0.99"), min_holding_intervals=90,
        default_holding_intervals=90, max_holding_intervals=90, carry_window_intervals=1))
    result = cs.carry_trade(quarter, venue=BINANCE, params=always_in)
    assert result.funding == N * sum(raw[1:]) == Decimal("201.3568")
    assert result.fees == Decimal(30)
    assert result.net_pnl == Decimal("171.3568")
    assert result.round_trips == 1 and result.basis_pnl == 0
    assert any("carry only" in flag for flag in result.flags)


def test_carry_with_h35_rules_for_binance_btc_q1_2023_matches_a_hand_replay(quarter: list[FundingRate]) -> None:
    # The same rows replayed by hand: after settlement r, in → out when r < 0.00005, out → in
    # when r > 0.0001 (every Binance interval here is 8 h, so r is its own 8h rate); 15 bps
    # of N per entry or exit; the last settlement closes an open position.
    raw = _raw_quarter_rates()
    held, received, fees, trips = False, Decimal(0), Decimal(0), 0
    for index, r in enumerate(raw):
        if held:
            received += N * r
            if r < Decimal("0.00005"):
                held, fees, trips = False, fees + N * Decimal("0.0015"), trips + 1
        elif r > Decimal("0.0001"):
            held, fees = True, fees + N * Decimal("0.0015")
        if held and index == len(raw) - 1:
            held, fees, trips = False, fees + N * Decimal("0.0015"), trips + 1
    result = cs.carry_trade(quarter, venue=BINANCE, params=H35)
    assert (result.funding, result.fees, result.round_trips) == (received, fees, trips)
    assert result.net_pnl == received - fees
    assert trips > 0


# -- hysteresis, basis stop, fees ----------------------------------------------------------------


def test_hysteresis_enters_above_entry_and_exits_only_below_exit() -> None:
    rates = ["0.00005", "0.00012", "0.00008", "0.00006", "0.00004", "0.00009", "0.00006", "0.00011", "0.0001"]
    result = cs.carry_trade(funding(rates), venue=BINANCE, params=H35)
    assert actions(result) == [(1, "enter", 1, "carry rule"), (4, "exit", 1, "carry below exit"),
                               (7, "enter", 1, "carry rule"), (8, "exit", 1, cs.END_OF_DATA)]
    # held into settlements 2, 3, 4 and 8: (0.00008 + 0.00006 + 0.00004 + 0.0001) × 10,000
    assert result.funding == Decimal("2.8")
    assert result.fees == 4 * N * Decimal("0.0015")  # each entry and exit: spot 10 + perp 5 bps
    assert result.round_trips == 2
    assert result.time_in_market == Decimal(4) / Decimal(8)


def test_no_ping_pong_inside_the_band_when_rates_wobble_between_thresholds() -> None:
    rates = ["0.0002"] + ["0.00009", "0.00006"] * 5 + ["0.00004"] + ["0.00009", "0.00006"] * 5
    result = cs.carry_trade(funding(rates), venue=BINANCE, params=H35)
    assert actions(result) == [(0, "enter", 1, "carry rule"), (11, "exit", 1, "carry below exit")]


def test_a_rate_at_the_entry_bar_does_not_enter_and_one_at_the_exit_threshold_exits() -> None:
    # 1 bp × 35 − 30 = 5 bps is not above the 5 bps margin; 1.1 bp × 35 − 30 = 8.5 is; a carry
    # of exactly 0.5 bp, the exit threshold, exits (hold while above it)
    result = cs.carry_trade(funding(["0.0001", "0.00011", "0.00005", "0.00005"]), venue=BINANCE, params=H35)
    assert actions(result) == [(1, "enter", 1, "carry rule"), (2, "exit", 1, "carry below exit")]


def test_basis_stop_exits_after_three_bars_below_minus_5_bps_and_waits_for_0_bps() -> None:
    # Spot closes at 100 throughout; the perp at (bar k): 1: 100.01 (+1 bp) → enter, q = 100;
    # 2–4: 99.94 (−6 bp) → the third is the stop; 5: 99.99 (−1 bp) still blocked (re-entry at
    # ≥ 0 bp); 6: 100.00 → enter; 7–9: 100.02; the data ends at 9. Funding 0.0002 each time.
    perp_closes = {1: "100.01", 2: "99.94", 3: "99.94", 4: "99.94", 5: "99.99", 6: "100.00", 7: "100.02",
                   8: "100.02", 9: "100.02"}
    result = cs.carry_trade(funding(["0.0002"] * 10), venue=BINANCE,
                            spot_candles=bars(dict.fromkeys(perp_closes, "100"), symbol="BTC/USDT"),
                            perp_candles=bars(perp_closes, symbol=PERP), params=H35)
    # entries: 2 bp × 35 − 30 > 5 (the study prices no entry spread: closes are no executable prices)
    assert actions(result) == [(1, "enter", 1, "carry rule"), (4, "exit", 1, "basis stop"),
                               (6, "enter", 1, "carry rule"), (9, "exit", 1, cs.END_OF_DATA)]
    # funding on q × perp close: 3 × 0.0002 × 100 × 99.94 + 3 × 0.0002 × 100 × 100.02
    assert result.funding == Decimal("11.9976")
    # short perp 100.01 → 99.94 gains 7; 100.00 → 100.02 loses 2; spot flat
    assert result.basis_pnl == Decimal(5)
    # spot 10 bps of 10,000 per fill (4 fills) + perp 5 bps of 10,001 / 9,994 / 10,000 / 10,002
    assert result.fees == Decimal("59.9985")
    assert result.net_pnl == Decimal("-43.0009")
    assert result.traded_notional == Decimal(79_997)  # 4 × 10,000 spot + 10,001 + 9,994 + 10,000 + 10,002
    assert result.flags == ("position closed at the end of the data",)


def test_no_entry_without_a_closed_bar_when_the_series_has_bars() -> None:
    # The first settlement has no bar closed by then (the first bar closes 8 h later).
    result = cs.carry_trade(funding(["0.0002"] * 3), venue=BINANCE, params=WORKED,
                            spot_candles=bars({1: "100", 2: "100"}, symbol="BTC/USDT"),
                            perp_candles=bars({1: "100", 2: "100"}, symbol=PERP))
    assert actions(result)[0] == (1, "enter", 1, "carry rule")  # default rule: 2 bp × 21 − 30 = 12 > 5


def test_funding_spread_goes_short_the_higher_rate_with_fees_on_both_legs() -> None:
    # spread bybit − binance per bucket: 0, +1.5, +1, +0.4, −2, 0 bp.
    a = funding(["0.0001", "0.0001", "0.0001", "0.0001", "0.0003", "0.0001"])
    b = funding(["0.0001", "0.00025", "0.0002", "0.00014", "0.0001", "0.0001"], venue="bybit")
    result = cs.funding_spread(a, b, venue_a=BINANCE, venue_b=BYBIT, params=H35)
    assert result is not None
    assert actions(result) == [(1, "enter", 1, "carry rule"), (3, "exit", 1, "carry below exit"),
                               (4, "enter", -1, "carry rule"), (5, "exit", -1, "carry below exit")]
    # long binance / short bybit into buckets 2 and 3: (0.0002 − 0.0001) + (0.00014 − 0.0001);
    # long bybit / short binance into bucket 5: 0.0001 − 0.0001
    assert result.funding == Decimal("1.4")
    assert result.fees == 4 * N * Decimal("0.00105")  # both perps' taker fees: 5 + 5.5 bps
    assert result.round_trips == 2
    # naive: mean |spread| = (0 + 1.5 + 1 + 0.4 + 2 + 0) / 6 = 4.9 / 6 bp per 8 h, × 3 × 365
    assert result.naive_apr == MONEY.multiply(MONEY.divide(Decimal("0.00049"), Decimal(6)), Decimal(1095))


def test_funding_spread_flips_at_once_when_the_other_side_clears_entry() -> None:
    a = funding(["0.0001", "0.0003", "0.0003"])
    b = funding(["0.0003", "0.0001", "0.0001"], venue="bybit")
    result = cs.funding_spread(a, b, venue_a=BINANCE, venue_b=BYBIT, params=H35)
    assert result is not None
    assert actions(result) == [(0, "enter", 1, "carry rule"), (1, "exit", 1, "carry below exit"),
                               (1, "enter", -1, "carry rule"), (2, "exit", -1, cs.END_OF_DATA)]
    # long binance / short bybit into bucket 1: 0.0001 − 0.0003; the reverse into bucket 2: +0.0002
    assert result.funding == Decimal(0)
    assert result.fees == 4 * N * Decimal("0.00105")


# -- 8h buckets and the naive figure -----------------------------------------------------------


def test_hourly_settlements_sum_into_8h_buckets() -> None:
    hourly = [Decimal(f"0.0000{k % 9 + 1}") for k in range(16)]  # 01:00 … 16:00
    buckets = buckets_8h(funding(hourly, venue="dydx", symbol="BTC/USD:USDC", start=T0 + HOUR_MS, interval=HOUR_MS))
    assert sorted(buckets) == [T0 + H8, T0 + 2 * H8]
    first, second = buckets[T0 + H8], buckets[T0 + 2 * H8]
    assert (first.paid, first.count, first.ts_ms) == (sum(hourly[:8]), 8, T0 + H8)
    assert second.paid == sum(hourly[8:])
    assert first.signal_8h == first.paid and second.signal_8h == second.paid  # full bucket: mean × 8 = sum


def test_bucket_edges_jitter_and_shifted_schedules() -> None:
    assert bucket_end(T0 + H8) == T0 + H8  # (E − 8h, E] holds E
    assert bucket_end(T0 + H8 + 12) == T0 + H8  # Binance's +12 ms jitter
    assert bucket_end(T0 + H8 + 60_000) == T0 + 2 * H8  # a minute late is the next bucket
    assert bucket_end(T0 + 4 * HOUR_MS) == T0 + H8  # KuCoin's 04:00 settlement


def test_spread_against_an_hourly_venue_pays_the_hourly_sum_per_bucket() -> None:
    # binance 8h: 0.0001 at 00:00, 08:00, 16:00; dYdX hourly 0.00003 (0.00024 per 8h) from 01:00.
    a = funding(["0.0001"] * 3)
    b = funding(["0.00003"] * 16, venue="dydx", symbol="BTC/USD:USDC", start=T0 + HOUR_MS, interval=HOUR_MS)
    result = cs.funding_spread(a, b, venue_a=BINANCE, venue_b=DYDX, params=H35)
    assert result is not None
    # buckets 08:00 and 16:00 (the span both cover); spread 2.4 − 1 = 1.4 bp → enter at 08:00
    # (long binance, short dYdX), collect bucket 16:00: 8 × 0.00003 − 0.0001, close at the end.
    assert actions(result) == [(1, "enter", 1, "carry rule"), (2, "exit", 1, cs.END_OF_DATA)]
    assert result.funding == N * (8 * Decimal("0.00003") - Decimal("0.0001"))
    assert "legs in different contracts: BTC/USDT:USDT vs BTC/USD:USDC" in result.flags


def test_naive_apr_is_mean_8h_rate_times_3_times_365() -> None:
    assert cs.naive_apr(funding(["0.0001", "0.0002", "0.0003"])) == Decimal("0.0002") * 1095
    hourly = funding(["0.00001"] * 8, venue="dydx", symbol="BTC/USD:USDC", interval=HOUR_MS)
    assert cs.naive_apr(hourly) == Decimal("0.00008") * 1095  # hourly × 8 = per 8 h


def test_apr_turnover_and_drawdown_use_notional_and_years() -> None:
    # 1,096 settlements = 365.33 days: enter at the first, collect 0.0001 × 1,095, close at the end.
    result = cs.carry_trade(funding(["0.0002"] + ["0.0001"] * 1095), venue=BINANCE, params=WORKED)
    years = Decimal(1095 * H8) / Decimal(365 * 24 * HOUR_MS)
    assert result.funding == Decimal("1095")
    assert result.apr == (Decimal(1095) - 30) / N / years
    assert result.turnover == Decimal(40_000) / N / years
    assert result.max_drawdown == Decimal(15) / N  # the entry fees, before any funding


# -- no look-ahead -------------------------------------------------------------------------------

rate_values = st.decimals(min_value=Decimal("-0.0004"), max_value=Decimal("0.0006"), places=5)
basis_bps = st.integers(min_value=-12, max_value=8)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(min_value=3, max_value=30))
def test_changing_data_after_t_never_changes_a_carry_decision_at_or_before_t(data: st.DataObject, n: int) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=n - 1))
    rates = data.draw(st.lists(rate_values, min_size=n, max_size=n))
    basis = data.draw(st.lists(basis_bps, min_size=n, max_size=n))
    later_rates = rates[:cut + 1] + data.draw(st.lists(rate_values, min_size=n - cut - 1, max_size=n - cut - 1))
    later_basis = basis[:cut + 1] + data.draw(st.lists(basis_bps, min_size=n - cut - 1, max_size=n - cut - 1))

    def run(rates: list[Decimal], basis: list[int]) -> list[cs.Decision]:
        perp = {k: str(Decimal(100) + Decimal(b) / 100) for k, b in enumerate(basis) if k}
        result = cs.carry_trade(funding(rates), venue=BINANCE, spot_candles=bars(dict.fromkeys(perp, "100"),
                                                                                 symbol="BTC/USDT"),
                                perp_candles=bars(perp, symbol=PERP))
        return [d for d in result.decisions if d.ts_ms <= T0 + cut * H8 and d.reason != cs.END_OF_DATA]

    assert run(rates, basis) == run(later_rates, later_basis)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), buckets=st.integers(min_value=2, max_value=8))
def test_changing_data_after_t_never_changes_a_spread_decision_at_or_before_t(data: st.DataObject,
                                                                               buckets: int) -> None:
    cut_ms = T0 + data.draw(st.integers(min_value=0, max_value=buckets * 8)) * HOUR_MS
    a = data.draw(st.lists(rate_values, min_size=buckets + 1, max_size=buckets + 1))
    b = data.draw(st.lists(rate_values, min_size=8 * buckets, max_size=8 * buckets))

    def changed(series: list[FundingRate]) -> list[FundingRate]:
        return [r if r.ts_local <= cut_ms else dataclasses.replace(r, rate=data.draw(rate_values)) for r in series]

    def run(a: list[FundingRate], b: list[FundingRate]) -> list[cs.Decision]:
        result = cs.funding_spread(a, b, venue_a=BINANCE, venue_b=DYDX)
        assert result is not None
        return [d for d in result.decisions if d.ts_ms <= cut_ms and d.reason != cs.END_OF_DATA]

    leg_a = funding(a)
    leg_b = funding(b, venue="dydx", symbol="BTC/USD:USDC", start=T0 + HOUR_MS, interval=HOUR_MS)
    assert run(leg_a, leg_b) == run(changed(leg_a), changed(leg_b))


# -- planning and the command --------------------------------------------------------------------


def test_plan_trades_linear_perps_and_keeps_naive_rows_for_the_rest() -> None:
    series = {("binance", PERP): funding(["0.0001"]), ("bybit", PERP): funding(["0.0001"], venue="bybit"),
              ("dydx", "BTC/USD:USDC"): funding(["0.00001"], venue="dydx", symbol="BTC/USD:USDC", interval=HOUR_MS),
              ("binance", "BTC/USD:BTC"): funding(["0.0001"], symbol="BTC/USD:BTC")}
    jobs = {(j.strategy, j.keys) for j in cs.plan(series, {}, DEFAULT_VENUES)}
    assert jobs == {
        ("naive", (("binance", "BTC/USD:BTC"),)),  # inverse perp
        ("cash-and-carry", (("binance", PERP),)), ("cash-and-carry", (("bybit", PERP),)),
        ("naive", (("dydx", "BTC/USD:USDC"),)),  # no spot market on dYdX
        ("funding spread", (("binance", PERP), ("bybit", PERP))),
        ("funding spread", (("binance", PERP), ("dydx", "BTC/USD:USDC"))),
        ("funding spread", (("bybit", PERP), ("dydx", "BTC/USD:USDC"))),
    }


def test_the_default_rule_takes_h_from_the_settled_history_when_runs_have_completed() -> None:
    # default rule: margin 5 bps, exit below 0, H clamped to [3, 90], default 21; taker round trip 30 bps.
    # −1, +1 × 4, −1 bp: one completed run of 4 → H 4. Then 5 bp: 5 × 4 = 20 − 30 ≤ 5, no entry (with the
    # default H 21 it would be 105 − 30); 15 bp: 15 × 4 = 60 − 30 = 30 > 5, enter; −0.1 bp < 0, exit.
    rates = ["-0.0001"] + ["0.0001"] * 4 + ["-0.0001", "0.0005", "0.0015", "-0.00001"]
    history = [Decimal(r) for r in rates[:7]]
    raw = StrategyConfig(carry_window_intervals=1, entry_margin_bps=Decimal(5), exit_carry_8h=Decimal(0))
    assert holding.expected_holding(history, raw) == holding.Holding(intervals=4, source="history", runs=1)
    result = cs.carry_trade(funding(rates), venue=BINANCE, params=cs.StudyParams(strategy=raw))
    assert actions(result) == [(7, "enter", 1, "carry rule"), (8, "exit", 1, "carry below exit")]


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real rows cut from the fixtures: aha-hh's first 40 bars (all 18 instruments) and supervik's
    BTC binance + bybit settlements of January 2021."""
    out = tmp_path_factory.mktemp("study")
    with gzip.open(AHA_HH, "rt", newline="") as handle:
        lines = handle.readlines()[:1 + 40 * 18]
    (out / "aha.csv").write_text("".join(lines))
    with gzip.open(SUPERVIK, "rt", newline="") as handle:
        header, *rows = handle.readlines()
    january = [r for r in rows if r.startswith(("BTC,binance,", "BTC,bybit,"))
               and 1_609_459_200_000 <= int(r.split(",")[2]) < 1_612_137_600_000]
    (out / "supervik.csv").write_text(header + "".join(january))
    return [out / "aha.csv", out / "supervik.csv"]


def test_study_funding_prints_the_table_and_writes_json_csv_and_html(small_files: list[Path],
                                                                     tmp_path: Path) -> None:
    args = ["funding", "--out", str(tmp_path / "study")] + [a for f in small_files for a in ("--data", str(f))]
    result = CliRunner().invoke(study, args)
    assert result.exit_code == 0, result.output
    for text in ("strategy", "venue/pair", "period", "APR", "naive APR", "max DD", "turnover", "round trips",
                 "cash-and-carry", "funding spread", "binance/bybit", "2021-01-01 → 2021-01-31"):
        assert text in result.stdout
    document = json.loads((tmp_path / "study" / "funding_study.json").read_text())
    assert {d["name"] for d in document["datasets"]} == {"aha-hh", "supervik"}
    rows = document["rows"]
    # aha-hh: 6 carries, 6 spreads, 6 inverse naive rows; supervik: 2 carries, 1 spread
    assert len(rows) == 21
    with open(tmp_path / "study" / "funding_study.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["dataset"], r["strategy"], r["venues"], r["apr"]) for r in table] == \
        [(r["dataset"], r["strategy"], r["venues"], r["apr"] or "") for r in rows]
    page = (tmp_path / "study" / "funding_study.html").read_text()
    charts = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', page)
    assert len(charts) >= 4 and "aha-hh-apr" in charts and "supervik-funding-spread-BTC" in charts
    assert "<script src=" not in page and page.count("plotly.js v") == 1  # plotly.js inlined once, nothing fetched
    plots = tmp_path / "study" / "plots"
    assert sorted(p.stem for p in plots.glob("*.html")) == sorted(charts)
    assert (plots / "plotly.min.js").is_file()  # each chart's own page loads it from beside itself: offline too
    # progress on a non-terminal: plain lines, no bar
    assert "reading: done" in result.stderr
    assert "simulating: done" in result.stderr


def test_study_funding_json_mode_prints_the_document(small_files: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(study, ["funding", "--json", "--out", str(tmp_path), "--data", str(small_files[1])])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["params"]["entry_margin_bps"] == "20" and len(document["rows"]) == 3
    assert (document["params"]["exit_carry_8h"], document["params"]["default_holding_intervals"]) == ("-0.00005", 21)


def test_study_funding_sets_the_rule_from_its_options(small_files: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(study, ["funding", "--json", "--entry-margin-bps", "2", "--exit-bps", "0.5",
                                        "--out", str(tmp_path), "--data", str(small_files[1])])
    assert result.exit_code == 0, result.output
    params = json.loads(result.stdout)["params"]
    assert (params["entry_margin_bps"], params["exit_carry_8h"]) == ("2", "0.00005")
