"""Walk-forward figures (operators/study/walk_forward.py) by hand, and the portfolio's
decomposition (funding + basis − fees = net, per pair and in total)."""

from decimal import Decimal as D

from arbflow.operators.study import portfolio_eval as pe
from arbflow.operators.study import walk_forward as wf
from tests.unit.test_portfolio_eval import run_config, three_pairs

DAY = 86_400_000
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z


def _result(curve: list[tuple[int, D]], ledger: list[tuple[int, D, D, D]]) -> pe.PortfolioResult:
    return pe.PortfolioResult(
        name="x", pairs=(), start_ms=curve[0][0], end_ms=curve[-1][0], steps=len(curve), capital=D(1000),
        net_pnl=curve[-1][1] - 1000, annual_return=None, sharpe=None, max_drawdown=D(0), utilisation=D(0),
        traded=ledger[-1][3], turnover=D(0), fees=ledger[-1][2], resizes=0, refusals={}, deleverings=0,
        liquidations=0, min_health=D(1), min_health_after_entry=None, min_distance=None, flags=(),
        curve=tuple(curve), ledger=tuple(ledger))


def test_a_window_starts_from_the_equity_before_it_and_takes_the_ledger_differences() -> None:
    # days 0..4: equity 1000, 1010, 1005, 1020, 1030; funding 0, 12, 14, 30, 41; fees 0, 2, 9, 10, 11
    equity = [D(1000), D(1010), D(1005), D(1020), D(1030)]
    funding = [D(0), D(12), D(14), D(30), D(41)]
    fees = [D(0), D(2), D(9), D(10), D(11)]
    curve = [(T0 + i * DAY, e) for i, e in enumerate(equity)]
    ledger = [(T0 + i * DAY, f, c, D(100) * i) for i, (f, c) in enumerate(zip(funding, fees, strict=True))]
    result = _result(curve, ledger)
    window = wf.Window(name="days 2–4", start_ms=T0 + 2 * DAY)
    got = wf.figures(result, window, D(1000))
    assert got is not None
    # from day 1 (1010) to day 4 (1030): 20 / 1000 over 3 days → × 365 / 3
    q = D("1E-20")
    assert got.annual_return is not None and got.annual_return.quantize(q) == (D(20) * 365 / 3000).quantize(q)
    # peak 1010 (the start) → 1005: 0.495 %
    assert got.max_drawdown.quantize(q) == (D(5) / 1010).quantize(q)
    assert (got.funding, got.fees) == (D(29), D(9))
    assert got.fee_share is not None and got.fee_share.quantize(q) == (D(9) / 29).quantize(q)
    assert got.turnover is not None and got.turnover.quantize(q) == (D(300) * 365 / 3000).quantize(q)
    assert wf.figures(result, wf.Window(name="before", end_ms=T0), D(1000)) is None


def test_the_naive_figure_averages_each_series_mean_inside_the_window() -> None:
    a = [(T0, D("0.0001")), (T0 + DAY, D("0.0003"))]
    b = [(T0, D("0.0002")), (T0 + 2 * DAY, D("-0.0001"))]
    window = wf.Window(name="first day", end_ms=T0 + DAY)
    assert wf.naive_apr([a, b], window) == D("0.00015") * 1095  # means 1 bp and 2 bp
    assert wf.naive_apr([a, b], wf.Window(name="later", start_ms=T0 + 5 * DAY)) is None


def test_the_decomposition_adds_up_per_pair_and_in_total() -> None:
    result = pe.run(three_pairs(), pe.ALLOCATOR, run_config())
    assert result.by_pair
    for figures in result.by_pair.values():
        assert figures.funding + figures.basis - figures.fees == figures.net
    assert sum(f.net for f in result.by_pair.values()) == result.net_pnl
    assert sum(f.fees for f in result.by_pair.values()) == result.fees
    assert result.funding + result.basis - result.fees == result.net_pnl
    assert result.ledger[-1][1:] == (result.funding, result.fees, result.traded)


def test_the_equal_weight_policy_holds_one_nth_of_the_capital_in_every_pair() -> None:
    paths = three_pairs()
    result = pe.run(paths, pe.EQUAL_WEIGHT, run_config())
    assert result.name == "always in, equal weight"
    last = result.weights[-1][1]
    assert len(last) == len(paths)
    assert len(set(last.values())) == 1  # equal sleeves
