"""The portfolio ledger: capital conservation, PnL sums, metrics (docs/architecture.md §3.8)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.operators.execution import ledger as lg
from tests.strategies import decimals

D = Decimal
DAY_MS = 86_400_000


def test_a_trade_reserves_books_fees_and_funding_and_closes_into_cumulative_pnl() -> None:
    book = lg.new_ledger()
    lg.observe_time(book, 0)
    lg.reserve(book, "t1", D("6000.00"))
    assert (book.available, lg.open_notional(book)) == (D("14000.00"), D("6000.00"))
    lg.book(book, "t1", D("-1.2"))  # maker fee of the first leg
    lg.book(book, "t1", D("-3.0075"))  # taker fee of the second leg
    lg.resize(book, "t1", D("5999.50"))  # what actually executed
    lg.book(book, "t1", D("0.481"))  # net funding received at a settlement
    assert book.realised_pnl == D("-3.7265") and book.cumulative_pnl == 0
    assert book.available + lg.open_notional(book) == book.starting_capital + book.realised_pnl
    lg.book(book, "t1", D("-2.4058"))  # exit fees
    lg.close(book, "t1", trading_pnl=D("16.2"), trade_pnl=D("10.0677"), leg_out_cost=D(0), ts=DAY_MS)
    assert book.available == D("20010.0677") and book.open == {}
    assert (book.realised_pnl, book.cumulative_pnl, book.win_count, book.loss_count) == (D("10.0677"),
                                                                                         D("10.0677"), 1, 0)
    assert lg.violations(book) == []
    state = lg.snapshot(book, DAY_MS)
    assert (state.available, state.open_positions, state.closed_trades) == (D("20010.0677"), 0, 1)


def test_close_refuses_a_trade_pnl_that_does_not_add_up() -> None:
    book = lg.new_ledger(D(1000))
    lg.reserve(book, "t", D(100))
    lg.book(book, "t", D(-1))
    with pytest.raises(ValueError, match="trade PnL"):
        lg.close(book, "t", trading_pnl=D(5), trade_pnl=D(5), leg_out_cost=D(0), ts=1)


def test_release_returns_an_untraded_reservation_and_refuses_what_cannot_be_reserved() -> None:
    book = lg.new_ledger(D(1000))
    lg.reserve(book, "t", D(600))
    with pytest.raises(ValueError):
        lg.reserve(book, "u", D(500))
    lg.release(book, "t")
    assert (book.available, book.closed) == (D(1000), [])


def test_metrics_win_rate_average_utilisation_leg_outs_and_apr() -> None:
    book = lg.new_ledger(D(20_000))
    lg.observe_time(book, 0)
    for trade_id, pnl in (("a", D(30)), ("b", D(-10)), ("c", D(20))):
        lg.reserve(book, trade_id, D(1000))
        lg.close(book, trade_id, trading_pnl=pnl, trade_pnl=pnl, leg_out_cost=D(0), ts=1)
    lg.leg_out(book, D("4"), new_event=True)
    lg.reserve(book, "open", D(5000))
    m = lg.metrics(book, 73 * DAY_MS)
    assert m.win_rate == D("0.6666666666666666666666666666666667")  # 2 of 3, 34 digits
    assert m.average_profit == D("13.33333333333333333333333333333333")  # 40 / 3
    assert m.utilisation == D("0.25") and (m.leg_out_count, m.leg_out_loss) == (1, D(4))
    assert m.leg_out_loss_rate == D("0.1")  # 4 / 40, by definition
    assert m.apr == D("0.01")  # (40 / 20 000) × 365 / 73
    assert lg.metrics(lg.new_ledger(), 0).win_rate is None


_ops = st.lists(st.tuples(st.sampled_from(["reserve", "book", "resize", "close", "release"]),
                          st.integers(0, 4), decimals("-50", "50", places=6), decimals("1", "3000", places=2)),
                max_size=60)


@settings(max_examples=200, deadline=None)
@given(_ops)
def test_invariants_hold_after_every_operation(ops: list[tuple[str, int, Decimal, Decimal]]) -> None:
    book = lg.new_ledger()
    for op, n, amount, notional in ops:
        trade = f"t{n}"
        is_open = trade in book.open
        if op == "reserve" and not is_open and notional <= book.available:
            lg.reserve(book, trade, notional)
        elif op == "book" and is_open:
            lg.book(book, trade, amount)
        elif op == "resize" and is_open:
            lg.resize(book, trade, notional)
        elif op == "close" and is_open:
            lg.close(book, trade, trading_pnl=amount, trade_pnl=amount + book.booked_open[trade], leg_out_cost=D(0),
                     ts=1)
        elif op == "release" and is_open and book.booked_open[trade] == 0:
            lg.release(book, trade)
        assert lg.violations(book) == []
        assert book.available + lg.open_notional(book) == book.starting_capital + book.realised_pnl
        assert book.cumulative_pnl == sum((c.pnl for c in book.closed), D(0))
