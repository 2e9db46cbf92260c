"""Inverse (coin-margined) perps in the unified-margin simulator (operators.portfolio.inverse,
operators.portfolio.margin; docs/risk.md "Inverse perps"), on hand-worked numbers from the
default Binance tables (BTC maintenance 0.4 % below 50,000 USD, BTC haircut 5 %, shadow buffer
0.20, so k = 1.2).

The account: 0.025 BTC at 20,000 (value 500 USD, effective 475) on a Binance COIN-M wallet,
short 10 contracts of 100 USD of BTC/USD:BTC entered at 20,000 — 0.05 BTC at entry, face 1,000 USD.
"""

from decimal import Decimal as D

import pytest

from arbflow.model.config import DEFAULT_VENUES, MarginConfig
from arbflow.model.money import MONEY
from arbflow.model.risk import CollateralBalance, MarginAccount, PerpPosition, ProposedOrder
from arbflow.operators.execution import risk_checks
from arbflow.operators.execution.book import LegBook, Trade
from arbflow.operators.portfolio import inverse
from arbflow.operators.portfolio.margin import MarginBook, collateral_for, simulate

MARGIN = MarginConfig()
INVERSE, LINEAR = "BTC/USD:BTC", "BTC/USDT:USDT"


def _book(symbol: str = INVERSE, mark: str = "20000", btc: str = "0.025", usdt: str | None = None) -> MarginBook:
    collateral = [CollateralBalance(asset="BTC", balance=D(btc), price=D(mark))]
    if usdt is not None:
        collateral.append(CollateralBalance(asset="USDT", balance=D(usdt), price=D(1)))
    account = MarginAccount(venue="binance", collateral=tuple(collateral), positions=(
        PerpPosition(venue="binance", symbol=symbol, side="short", qty=D("0.05"), entry_px=D(20_000),
                     mark_px=D(mark)),))
    return MarginBook(account, MARGIN, DEFAULT_VENUES)


# -- the formulas -----------------------------------------------------------------------------


def test_inverse_formulas_give_the_hand_worked_coin_amounts() -> None:
    assert inverse.notional_usd(D(-10), D(100)) == D(1000)
    # short 1,000 USD from 20,000 to 25,000: −1,000 × (1/20,000 − 1/25,000) = −1,000 × 0.00001 = −0.01 BTC
    assert inverse.pnl_coin(D(-10), D(100), D(20_000), D(25_000)) == D("-0.01")
    # long 1,000 USD from 20,000 to 16,000: 1,000 × (0.00005 − 0.0000625) = −0.0125 BTC
    assert inverse.pnl_coin(D(10), D(100), D(20_000), D(16_000)) == D("-0.0125")
    # 1,000 USD × 0.4 % / 25,000 = 0.00016 BTC (worth 4 USD at the mark)
    assert inverse.margin_coin(D(1000), D("0.004"), D(25_000)) == D("0.00016")
    assert inverse.base_qty(D(10), D(100), D(20_000)) == D("0.05")
    assert inverse.whole_contracts(D("0.0512"), D(20_000), D(100)) == D(10)  # 10.24 contracts, rounded down


def test_an_inverse_legs_cash_arrives_as_its_coin_and_a_linear_legs_as_usdt() -> None:
    assert collateral_for(INVERSE, D(500), D(20_000)) == ("BTC", D("0.025"), D(20_000))
    assert collateral_for(LINEAR, D(500), D(20_000)) == ("USDT", D(500), D(1))


# -- the book -----------------------------------------------------------------------------------


def test_inverse_short_health_leverage_and_liquidation_moves_are_the_hand_worked_ones() -> None:
    book = _book()
    state = book.state()
    (position,) = state.positions
    assert position.notional == D(1000) and position.maintenance == D(4)  # 1,000 × 0.4 %
    assert state.effective_collateral == D(475) and state.adjusted_equity == D(475)
    # health = 1 − 4 × 1.2 / 475 = 1 − 0.0101052631… = 0.98989473…
    assert state.health == D("0.98989473")
    assert state.leverage == D("2.10526316")  # 1,000 / 475, rounded up
    # the position alone: 475 − 4.8 − 1,000 x = 0 → x = 0.4702 (the maintenance does not move)
    assert position.liquidation_move == D("0.4702")
    # with the BTC collateral moving too: 475 (1 + x) − 1,000 x − 4.8 = 0 → x = 470.2 / 525 = 0.89561904…
    assert position.asset_liquidation_move == D("0.89561904")


def test_a_linear_short_of_the_same_size_liquidates_closer_because_its_maintenance_grows_with_the_mark() -> None:
    (position,) = _book(LINEAR).state().positions
    # 475 − 1,000 x − 1.2 × 4 (1 + x) = 0 → x = 470.2 / 1,004.8 = 0.46795382…
    assert position.liquidation_move == D("0.46795382")


def test_a_marked_inverse_short_loses_in_coin_and_keeps_its_maintenance_fixed_in_usd() -> None:
    state = _book(mark="25000").state()
    (position,) = state.positions
    # U = −0.05 × 5,000 = −250 USD = −0.01 BTC × 25,000; collateral 0.025 × 25,000 × 0.95 = 593.75
    assert position.unrealised_pnl == D(-250) == inverse.pnl_coin(D(-10), D(100), D(20_000), D(25_000)) * 25_000
    assert position.notional == D(1000) and state.maintenance == D(4)
    assert state.adjusted_equity == D("343.75")
    assert state.health == D("0.98603636")  # 1 − 4.8 / 343.75 = 1 − 0.0139636…


def test_closing_an_inverse_short_takes_the_loss_from_the_coin_balance() -> None:
    close = ProposedOrder(order_id="close", venue="binance", symbol=INVERSE, side="buy", qty=D("0.05"), px=D(25_000))
    account = MarginAccount(
        venue="binance", collateral=(CollateralBalance(asset="BTC", balance=D("0.025"), price=D(25_000)),),
        positions=(PerpPosition(venue="binance", symbol=INVERSE, side="short", qty=D("0.05"),
                                entry_px=D(20_000), mark_px=D(25_000)),))
    after = simulate(account, [close], MARGIN, DEFAULT_VENUES).after
    # −0.05 × (25,000 − 20,000) / 25,000 = −0.01 BTC: 0.025 → 0.015 BTC; nothing realised in USD
    assert [(c.asset, c.balance) for c in after.collateral] == [("BTC", D("0.015"))]
    assert after.realised_pnl == 0 and after.positions == ()
    assert after.effective_collateral == D("356.25")  # 0.015 × 25,000 × 0.95


def test_a_coin_owed_after_an_inverse_loss_counts_in_full() -> None:
    account = MarginAccount(venue="binance", collateral=(CollateralBalance(asset="USDT", balance=D(1000), price=D(1)),))
    orders = [ProposedOrder(order_id="open", venue="binance", symbol=INVERSE, side="sell", qty=D("0.05"),
                            px=D(20_000)),
              ProposedOrder(order_id="close", venue="binance", symbol=INVERSE, side="buy", qty=D("0.05"),
                            px=D(25_000))]
    after = simulate(account, orders, MARGIN, DEFAULT_VENUES).after
    # the −0.01 BTC is owed, priced at the fill (the account had no BTC price): −250 USD, no haircut
    btc = {c.asset: c for c in after.collateral}["BTC"]
    assert (btc.balance, btc.price, btc.effective) == (D("-0.01"), D(25_000), D(-250))
    assert after.adjusted_equity == D(750)


@pytest.mark.parametrize(("first", "second", "entry"), [
    # 10 contracts at 20,000 (0.05 BTC) + 10 at 25,000 (0.04 BTC): Binance's average entry is
    # 20 / (10/20,000 + 10/25,000) = 20 / 0.0009 = 22,222.22…, the base-weighted mean 2,000 / 0.09
    (("0.05", "20000"), ("0.04", "25000"), MONEY.divide(D(20), D(10) / D(20_000) + D(10) / D(25_000))),
])
def test_growing_an_inverse_position_averages_its_entry_as_binance_does(
        first: tuple[str, str], second: tuple[str, str], entry: D) -> None:
    account = MarginAccount(venue="binance",
                            collateral=(CollateralBalance(asset="BTC", balance=D(1), price=D(25_000)),))
    book = MarginBook(account, MARGIN, DEFAULT_VENUES)
    for i, (qty, px) in enumerate((first, second)):
        book.apply(ProposedOrder(order_id=f"o{i}", venue="binance", symbol=INVERSE, side="buy", qty=D(qty), px=D(px)))
    held = book.positions[INVERSE]
    assert abs(held.entry - entry) < D("1e-29")  # 34 digits
    assert abs(held.notional - D(2000)) < D("1e-26")  # 20 contracts × 100 USD: the faces add up


# -- the desk's accounts (operators.execution.risk_checks) -----------------------------------------


def _trade(short_filled: bool) -> Trade:
    """Long 0.174 BTC/USDT:USDT on bybit at 17,199.5, short 0.174 BTC/USD:BTC on binance at 17,207.5
    (the Lean replay's first trade) or not yet filled; 3,000 USD reserved."""
    long = LegBook(name="long", venue="bybit", symbol=LINEAR, market="perp", open_side="buy", bought=D("0.174"),
                   buy_cost=D("0.174") * D("17199.5"))
    short = LegBook(name="short", venue="binance", symbol=INVERSE, market="perp", open_side="sell",
                    sold=D("0.174") if short_filled else D(0), sell_value=D("0.174") * D("17207.5") if short_filled
                    else D(0))
    return Trade(trade_id="t", opportunity_id="o", asset="BTC", pair=(("bybit", LINEAR), ("binance", INVERSE)),
                 long=long, short=short, first="long", phase="active", status="active", notional=D(3000),
                 qty=D("0.174"), projected_profit=D(10), planned_spread_bps=D(0), exit_fees_bps=D(10), ts_entry=0)


def test_the_desks_binance_account_holds_the_inverse_legs_half_as_btc() -> None:
    marks = {("binance", INVERSE): D("17300"), ("bybit", LINEAR): D("17290")}
    built = risk_checks.accounts([_trade(True)], marks, {})
    # 1,500 USD bought 1,500 / 17,207.5 BTC at the short's entry, valued at its mark 17,300
    assert built["binance"].collateral == (
        CollateralBalance(asset="BTC", balance=MONEY.divide(D(1500), D("17207.5")), price=D(17_300)),)
    assert built["bybit"].collateral == (CollateralBalance(asset="USDT", balance=D(1500), price=D(1)),)
    # before the short fills its share is BTC at the mark, never 1,500 BTC at a price of 1
    pending = risk_checks.accounts([_trade(False)], marks, {})
    assert pending["binance"].collateral == (
        CollateralBalance(asset="BTC", balance=MONEY.divide(D(1500), D(17_300)), price=D(17_300)),)
    # no price for the unfilled inverse leg at all: its share stays USDT
    unpriced = risk_checks.accounts([_trade(False)], {("bybit", LINEAR): D("17290")}, {})
    assert unpriced["binance"].collateral == (CollateralBalance(asset="USDT", balance=D(1500), price=D(1)),)
