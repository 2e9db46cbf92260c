"""The portfolio evaluation (operators/study/portfolio_eval.py, portfolio_margin.py,
portfolio_metrics.py) and `arbflow study portfolio`.

The synthetic series are three hand-built pairs (no study run): their cumulative P&L,
positions and signals are given, so sleeves, fees, P&L, drawdown and utilisation can be
worked out by hand in the comments.
"""

import dataclasses
import json
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arbflow.cli.study import study
from arbflow.connectors.captures.funding_study_data import read_series
from arbflow.model.config import DEFAULT_SECTORS, parse_config
from arbflow.model.money import MONEY
from arbflow.operators.portfolio.accounts import PairSpec
from arbflow.operators.portfolio.metrics import daily_sharpe, max_drawdown
from arbflow.operators.study import portfolio_eval as pe
from arbflow.operators.study.carry import CARRY, SPREAD, PathPoint, StrategyResult, StudyParams
from arbflow.reports.portfolio import strategy_document

AHA_HH = Path(__file__).resolve().parents[2] / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
H8 = 8 * 3_600_000
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z
CAPITAL = Decimal(10_000)
CONFIG = parse_config({}, {})
BTC_CARRY = PairSpec(pair_id="BTC carry binance", strategy=CARRY, asset="BTC", venues=("binance", "binance"),
                     symbols=("BTC/USDT", "BTC/USDT:USDT"), fees_bps=(Decimal(10), Decimal(5)))
ETH_CARRY = PairSpec(pair_id="ETH carry bybit", strategy=CARRY, asset="ETH", venues=("bybit", "bybit"),
                     symbols=("ETH/USDT", "ETH/USDT:USDT"), fees_bps=(Decimal(10), Decimal("5.5")))
ETH_SPREAD = PairSpec(pair_id="ETH spread binance/okx", strategy=SPREAD, asset="ETH", venues=("binance", "okx"),
                      symbols=("ETH/USDT:USDT", "ETH/USDT:USDT"), fees_bps=(Decimal(5), Decimal(5)))


def _result(spec: PairSpec) -> StrategyResult:
    """A placeholder study result (only `net_pnl` and `naive_apr` are read by the loop's helpers)."""
    zero = Decimal(0)
    return StrategyResult(strategy=spec.strategy, asset=spec.asset, venues=spec.venues, symbols=spec.symbols,
                          start_ms=T0, end_ms=T0, steps=0, apr=zero, naive_apr=zero, funding=zero, basis_pnl=zero,
                          fees=zero, net_pnl=zero, max_drawdown=zero, traded_notional=zero, turnover=zero,
                          round_trips=0, time_in_market=zero, flags=(), decisions=(), curve=())


def path(spec: PairSpec, *, direction: int, price: str, signal: str, pnl: list[str]) -> pe.PairPath:
    """A pair held (or flat) the whole time at one price for both legs, qty = N / price."""
    px = Decimal(price)
    qty = MONEY.divide(CAPITAL, px) if direction else Decimal(0)
    points = {T0 + k * H8: PathPoint(ts_ms=T0 + k * H8, direction=direction, qty=qty, entry=(px, px), marks=(px, px),
                                     signal_8h=Decimal(signal), pnl=Decimal(v), fees=Decimal(0), traded=Decimal(0))
              for k, v in enumerate(pnl)}
    return pe.PairPath(spec=spec, result=_result(spec), points=points)


def three_pairs() -> list[pe.PairPath]:
    return [path(BTC_CARRY, direction=1, price="20000", signal="0.0002", pnl=["0", "10", "30", "60"]),
            path(ETH_CARRY, direction=1, price="2000", signal="0.0001", pnl=["0", "5", "5", "15"]),
            path(ETH_SPREAD, direction=0, price="2000", signal="-0.0001", pnl=["0", "0", "0", "0"])]


def run_config(**allocation: object) -> pe.RunConfig:
    return pe.RunConfig(capital=CAPITAL, allocation=dataclasses.replace(CONFIG.allocation, **allocation),
                        margin=CONFIG.margin, venues=CONFIG.venues)


# -- hand-worked: three pairs, four steps ----------------------------------------------------


def test_portfolio_sleeves_pnl_drawdown_and_utilisation_when_worked_by_hand() -> None:
    # No sector cap here (sector_cap 1). Steps 0 and 1: fewer than 3 carry points → nothing.
    # Step 2: ratios mean / max(std, 0.5 bp floor): BTC 0.0002 / 0.00005 = 4, ETH carry 2 (the
    # spread is flat: carry 0, excluded). softmax: 1 / (1 + e^-2) = 0.880797077978, the rest
    # 0.119202922022; correlation: prior 0 (different assets) → no penalty.
    # Ideal (cents, down): 8807.97 and 1192.02. Gain test: 0.0002 × 90 = 1.8 % > 2.5 × 30 bp;
    # 0.0001 × 90 = 0.9 % > 2.5 × 31 bp = 0.775 % → both enter.
    # Fees: BTC 8807.97 × (10 + 5) bp = 13.2119550; ETH 1192.02 × (10 + 5.5) bp = 1.8476310.
    # Step 3: BTC sleeve earns 0.880797 × (60 − 30) = 26.423910; ETH 0.119202 × (15 − 5) = 1.192020;
    # equity 10,012.556344 ≥ Σ held (else the allocator would trim: CAPITAL_EXHAUSTED), and the
    # new ideals (8,819.03 and 1,193.52) are inside the 7 % band: hold.
    result = pe.run(three_pairs(), pe.ALLOCATOR, run_config(sector_cap=Decimal(1)))
    fees = Decimal("13.2119550") + Decimal("1.8476310")
    assert result.fees == fees
    assert result.traded == 2 * (Decimal("8807.97") + Decimal("1192.02"))
    assert [e for _, e in result.curve] == [CAPITAL, CAPITAL, CAPITAL - fees,
                                            CAPITAL - fees + Decimal("26.423910") + Decimal("1.192020")]
    assert result.weights[2][1] == {"BTC carry binance": Decimal("0.880797"), "ETH carry bybit": Decimal("0.119202")}
    assert result.weights[3][1] == {"BTC carry binance": MONEY.divide(Decimal("8807.97"), Decimal("10012.556344")),
                                    "ETH carry bybit": MONEY.divide(Decimal("1192.02"), Decimal("10012.556344"))}
    assert result.net_pnl == Decimal("12.556344")
    assert result.max_drawdown == Decimal("0.0015059586")  # peak 10,000, trough 9,984.940414
    assert result.utilisation == Decimal("0.4999995")  # (0 + 0 + 0.999999 + 0.999999) / 4
    assert result.resizes == 2 and not result.refusals and result.deleverings == 0 and result.liquidations == 0
    # 24 h of steps: simple annualisation × 365
    assert result.annual_return is not None
    assert result.annual_return.quantize(Decimal("1E-20")) == Decimal("0.0012556344") * 365  # 1/365 is inexact
    # Daily: 2023-01-01 closes at step 2 (9,984.940414), 2023-01-02 at step 3 (10,012.556344).
    returns = [9984.940414 / 10_000 - 1, 10012.556344 / 9984.940414 - 1]
    mean = sum(returns) / 2
    std = math.sqrt(sum((r - mean) ** 2 for r in returns))
    assert result.sharpe is not None and float(result.sharpe) == pytest.approx(mean / std * math.sqrt(365), rel=1e-9)


def test_two_sectors_hold_half_the_capital_each_when_the_universe_is_narrow() -> None:
    result = pe.run(three_pairs(), pe.ALLOCATOR, run_config())
    # BTC (bitcoin) and ETH (smart-contract-l1): the 15 % cap rises to 1/2 of 10,000 = 5,000 each
    # (ETH's 4,999.99: its ideal is cut to cents, rounded down)
    assert result.weights[2][1] == {"BTC carry binance": Decimal("0.50"), "ETH carry bybit": Decimal("0.499999")}
    assert result.utilisation == Decimal("0.4999995")  # (0 + 0 + 0.999999 + 0.999999) / 4


def test_single_pair_holds_all_capital_while_its_rules_are_in() -> None:
    # Entered at step 0 with scale 1: fees 10,000 × 15 bp = 15; then +10, +20, +30 → net 45.
    result = pe.run(three_pairs(), "BTC carry binance", run_config())
    assert [e for _, e in result.curve] == [Decimal(9985), Decimal(9995), Decimal(10015), Decimal(10045)]
    assert result.net_pnl == 45 and result.fees == 15 and result.utilisation == 1
    assert result.max_drawdown == Decimal("0.0015")


def test_run_refuses_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="unknown policy"):
        pe.run(three_pairs(), "SOL carry nowhere", run_config())


def test_daily_sharpe_and_drawdown_when_worked_by_hand() -> None:
    # Daily closes 100 → 101 → 100 → 102 (the last step of each day counts): returns 1 %,
    # −0.990099 %, 2 %; mean 0.6699670 %, sample std 1.5276 % → × √365.
    curve = [(T0, Decimal(101)), (T0 + 86_400_000, Decimal(99)), (T0 + 86_400_000 + H8, Decimal(100)),
             (T0 + 2 * 86_400_000, Decimal(102))]
    returns = [0.01, 100 / 101 - 1, 0.02]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    sharpe = daily_sharpe(curve, Decimal(100))
    assert sharpe is not None and float(sharpe) == pytest.approx(mean / std * math.sqrt(365), rel=1e-12)
    assert max_drawdown(curve, Decimal(100)) == MONEY.divide(Decimal(2), Decimal(101))


# -- properties ------------------------------------------------------------------------------


@st.composite
def random_paths(draw: st.DrawFn) -> list[pe.PairPath]:
    """Three pairs over 4–10 steps: random positions (direction per step), signals, prices and
    P&L. Prices walk by at most 3 % a step (8 h): the de-levering acts once per step, so a
    jump of tens of percent between two steps could liquidate a venue whatever it does — the
    property is about the rules, not about gaps no step can answer."""
    n = draw(st.integers(4, 10))
    out = []
    for spec, base in ((BTC_CARRY, 20_000), (ETH_CARRY, 2_000), (ETH_SPREAD, 2_000)):
        points, pnl, entry = {}, Decimal(0), None
        px = Decimal(base) * Decimal(draw(st.integers(80, 120))) / 100
        for k in range(n):
            direction = draw(st.sampled_from([0, 1] if spec.strategy == CARRY else [-1, 0, 1]))
            px = px * Decimal(draw(st.integers(97, 103))) / 100
            entry = (entry or (px, px)) if direction else None
            pnl += Decimal(draw(st.integers(-300, 300)))
            points[T0 + k * H8] = PathPoint(
                ts_ms=T0 + k * H8, direction=direction, qty=MONEY.divide(CAPITAL, entry[0]) if entry else Decimal(0),
                entry=entry or (px, px), marks=(px, px + Decimal(draw(st.integers(-20, 20)))),
                signal_8h=Decimal(draw(st.integers(-3, 30))) / 100_000, pnl=pnl, fees=Decimal(0), traded=Decimal(0))
        out.append(pe.PairPath(spec=spec, result=_result(spec), points=points))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_paths())
def test_weights_sector_cap_and_health_hold_every_step_when_paths_are_random(paths: list[pe.PairPath]) -> None:
    cfg = run_config(min_history_points=2)
    result = pe.run(paths, pe.ALLOCATOR, cfg)
    sectors = {p.spec.pair_id: DEFAULT_SECTORS[p.spec.asset] for p in paths}
    slack = 1 + cfg.allocation.rebalance_band  # equity that shrank by less than the band forces no cut
    for _, weights in result.weights:
        assert sum(weights.values()) <= slack
        limit = max(cfg.allocation.sector_cap, Decimal(1) / len(set(sectors.values())))
        for sector in set(sectors.values()):  # a cap overshot by less than the band forces no trade
            assert sum(w for k, w in weights.items() if sectors[k] == sector) <= limit * slack
    if result.min_health_after_entry is not None:
        assert result.min_health_after_entry >= cfg.margin.entry_min_health
    assert result.liquidations == 0


# -- the real file -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def january_to_march() -> tuple[dict, dict]:  # type: ignore[type-arg]
    _, data = read_series(AHA_HH, venues=CONFIG.venues)
    end = T0 + 59 * 86_400_000  # 2023-03-01
    return pe.between(data.funding, None, end), pe.between(data.candles, None, end)


def test_real_file_runs_without_liquidations_and_repeats_exactly(january_to_march: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    funding, candles = january_to_march
    cfg = pe.RunConfig(capital=Decimal(100_000), allocation=CONFIG.allocation, margin=CONFIG.margin,
                       venues=CONFIG.venues)
    first = pe.evaluate(funding, candles, cfg)
    second = pe.evaluate(funding, candles, cfg)
    assert len(first.candidates) == 12  # 6 cash-and-carry + 6 spreads
    for a, b in ((first.portfolio, second.portfolio), (first.single, second.single)):
        assert a.liquidations == 0 and a.min_health > 0
        assert a == b and strategy_document(a) == strategy_document(b)
    assert first.portfolio.steps == 177  # 59 days × 3
    # two sectors at 1/2 each; equity that shrank by less than the band forces no cut
    assert all(sum(w.values()) <= Decimal("1.07") for _, w in first.portfolio.weights)


def test_single_pair_in_the_loop_reproduces_the_study(january_to_march: tuple[dict, dict]) -> None:  # type: ignore[type-arg]
    funding, candles = january_to_march
    capital = Decimal(100_000)
    jobs = pe.candidate_jobs(funding, candles, CONFIG.venues)
    traced = [pe.trace_pair(j, funding, candles, CONFIG.venues, StudyParams(notional=capital)) for j in jobs]
    paths = [p for p in traced if p is not None]
    cfg = pe.RunConfig(capital=capital, allocation=CONFIG.allocation, margin=CONFIG.margin, venues=CONFIG.venues)
    checked = 0
    for p in paths:
        last = p.result.decisions[-1] if p.result.decisions else None
        if last is not None and last.ts_ms == p.result.end_ms and any(
                d.action == "enter" and d.ts_ms == p.result.end_ms for d in p.result.decisions):
            continue  # entered at the last step and closed at once: the loop never funds that
        result = pe.run(paths, p.spec.pair_id, cfg)
        assert not result.refusals
        exact = Decimal("1E-20")  # the loop sums the study's increments: equal to 34 significant digits
        assert abs(result.net_pnl - p.result.net_pnl) < exact, p.spec.pair_id
        assert abs(result.fees - p.result.fees) < exact, p.spec.pair_id
        checked += 1
    assert checked >= 6


def test_study_portfolio_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    args = ["portfolio", "--end", "2023-01-21", "--out", str(tmp_path)]
    result = CliRunner().invoke(study, args)
    assert result.exit_code == 0, result.output
    for text in ("multi-pair portfolio", "best single pair", "hindsight", "Sharpe (daily)", "utilisation",
                 "liquidations", "naive: mean funding × 3 × 365", "2023-01-01 → 2023-01-20"):
        assert text in result.stdout
    document = json.loads((tmp_path / "portfolio.json").read_text())
    assert document["portfolio"]["liquidations"] == 0 and document["best_single_pair"]["caveat"]
    assert (tmp_path / "portfolio_equity.csv").read_text().count("\n") == 1 + 60
    # the engine over the same 20 days: the desks of `arbflow backtest` (their ledger), beside the allocator's
    assert "the engine: arbflow backtest's desks" in result.stdout
    engine = document["engine"]
    assert engine["capital"] == "20000" and engine["trades"] >= 1 and Decimal(engine["funding"]) > 0


@pytest.mark.parametrize(("args", "message"), [(["--end", "2023-13-01"], "not a date"),
                                               (["--capital", "0"], "must be > 0")])
def test_study_portfolio_refuses_bad_options(args: list[str], message: str, tmp_path: Path,
                                            capsys: Callable[[], object]) -> None:
    result = CliRunner().invoke(study, ["portfolio", "--out", str(tmp_path), *args])
    assert result.exit_code == 2
    assert message in result.output
