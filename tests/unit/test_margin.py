"""The unified-margin simulator on hand-worked accounts (docs/architecture.md §3.8, §3.9 Margin;
operators.portfolio.margin, operators.portfolio.margin_tiers). Expected numbers are worked out by hand in the
comments from the default Binance tables (model/config.py)."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import DEFAULT_VENUES, MarginConfig, Tier
from arbflow.model.errors import RiskInputError
from arbflow.model.money import MONEY
from arbflow.model.risk import CollateralBalance, MarginAccount, PerpPosition, ProposedOrder
from arbflow.operators.portfolio.margin import MarginBook, Part, net_parts, simulate
from arbflow.operators.portfolio.margin_tiers import HEALTH_FLOOR, health_of, tiered
from tests.strategies import decimals

MARGIN = MarginConfig()
BINANCE_BTC = MARGIN.venues["binance"].maintenance["BTC"]
OKX_BTC = MARGIN.venues["okx"].maintenance["BTC"]


def _usdt(balance: str) -> CollateralBalance:
    return CollateralBalance(asset="USDT", balance=D(balance), price=D(1))


def _perp(symbol: str, side: str, qty: str, entry: str, mark: str, venue: str = "binance",
          quality: float | None = None) -> PerpPosition:
    return PerpPosition(venue=venue, symbol=symbol, side=side, qty=D(qty), entry_px=D(entry),  # type: ignore[arg-type]
                        mark_px=D(mark), quality=quality)


def _order(order_id: str, symbol: str, side: str, qty: str, px: str, venue: str = "binance") -> ProposedOrder:
    return ProposedOrder(order_id=order_id, venue=venue, symbol=symbol, side=side, qty=D(qty),  # type: ignore[arg-type]
                         px=D(px))


# A unified Binance account with BTC and USDT collateral and two carry positions:
# 10,000 USDT and 0.5 BTC at 60,000 (the spot leg of the BTC carry), short 0.5 BTC perp at
# 60,000 (mark 60,000) and short 5 ETH perp entered at 3,000, marked 3,100 (its hedge elsewhere).
ACCOUNT = MarginAccount(
    venue="binance",
    collateral=(_usdt("10000"), CollateralBalance(asset="BTC", balance=D("0.5"), price=D(60_000))),
    positions=(_perp("BTC/USDT:USDT", "short", "0.5", "60000", "60000", quality=0.9),
               _perp("ETH/USDT:USDT", "short", "5", "3000", "3100", quality=0.4)))


def _simulate(account: MarginAccount = ACCOUNT, *orders: ProposedOrder, margin: MarginConfig = MARGIN):
    return simulate(account, list(orders), margin, DEFAULT_VENUES)


# -- tiered tables ------------------------------------------------------------------------


@pytest.mark.parametrize(("notional", "expected"), [
    ("0", "0"),
    ("30000", "120"),  # 30,000 × 0.4 %
    ("50000", "200"),  # on the floor: still tier 1
    ("60000", "250"),  # 50,000 × 0.4 % + 10,000 × 0.5 %
    ("1000000", "8700"),  # Binance: 1,000,000 × 1 % − maintenance amount 1,300 (= 50 + 250,000 × 0.5 %)
])
def test_tiered_maintenance_is_progressive_when_the_venue_deducts_a_maintenance_amount(notional: str,
                                                                                       expected: str) -> None:
    assert tiered(BINANCE_BTC, "progressive", D(notional)) == D(expected)


def test_tiered_maintenance_takes_the_tier_rate_on_the_whole_notional_when_method_is_whole() -> None:
    # OKX BTC: 600,000 is in the 500,000–2,000,000 tier at 0.9 %: 5,400 (progressive would be 2,900)
    assert tiered(OKX_BTC, "whole", D(600_000)) == D(5_400)
    assert tiered(OKX_BTC, "progressive", D(600_000)) == D(2_900)


# -- the worked example -------------------------------------------------------------------


def test_simulate_matches_the_hand_worked_account_when_nothing_is_proposed() -> None:
    state = _simulate().before
    # EC = 10,000 × 1 + 0.5 × 60,000 × (1 − 5 %) = 38,500; U = −5 × (3,100 − 3,000) = −500
    assert state.effective_collateral == D(38_500)
    assert state.unrealised_pnl == D(-500)
    assert state.adjusted_equity == D(38_000)
    # BTC 30,000 × 0.4 % = 120; ETH ("*" table) 5,000 × 1 % + 10,500 × 2.5 % = 312.5
    assert [p.maintenance for p in state.positions] == [D(120), D("312.5")]
    assert state.maintenance == D("432.5")
    # health = 1 − 432.5 × 1.2 / 38,000 = 1 − 519 / 38,000 = 0.98634210…
    assert state.health == D("0.98634210")
    assert state.margin_use == D("0.01138158")  # 432.5 / 38,000 = 0.011381578…, shown rounded up
    assert state.leverage == D("1.19736843")  # 45,500 / 38,000
    assert state.breaches == () and state.warnings == ()


def test_health_falls_to_hand_value_when_a_short_is_added() -> None:
    projection = _simulate(ACCOUNT, _order("o1", "BTC/USDT:USDT", "sell", "0.5", "60000"))
    after = projection.after
    # BTC short 1.0 at 60,000: 50,000 × 0.4 % + 10,000 × 0.5 % = 250; TMM 562.5; AE unchanged
    assert after.maintenance == D("562.5")
    assert after.adjusted_equity == D(38_000)
    assert after.health == D("0.98223684")  # 1 − 675 / 38,000 = 0.982236842…
    assert projection.before.health == D("0.98634210")
    assert projection.orders[0].applied and projection.orders[0].effect == "entry"


def test_liquidation_moves_match_hand_solutions_when_one_price_moves() -> None:
    btc, eth = _simulate().before.positions
    # ETH alone: g(x) = 38,000 − 15,500x − 1.2 × (120 + MM_eth); in the 25k–100k tier
    # MM_eth = 5 % × 15,500 (1 + x) − 700 → g = 37,766 − 16,430x → x = 2.29860012…
    assert eth.liquidation_move == D("2.29860012")
    # BTC alone (its spot collateral fixed): in the 50k–250k tier MM = 0.5 % × 30,000 (1 + x) − 50
    # → g = 37,505 − 30,180x → x = 1.24271040…
    assert btc.liquidation_move == D("1.24271040")
    assert btc.liquidation_px == D("134562.624")  # 60,000 × 2.24271040
    # with its 0.5 BTC spot collateral moving too, the hedged BTC short never reaches health 0
    assert btc.asset_liquidation_move is None


def test_health_is_zero_at_the_liquidation_move_when_resimulated() -> None:
    eth = _simulate().before.positions[1]
    assert eth.liquidation_move is not None
    moved = MarginAccount(venue="binance", collateral=ACCOUNT.collateral,
                          positions=(ACCOUNT.positions[0], _perp("ETH/USDT:USDT", "short", "5", "3000",
                                                                 str(D(3100) * (1 + eth.liquidation_move)))))
    assert abs(_simulate(moved).before.health) < D("0.000001")


def test_spot_buy_moves_collateral_when_usdt_is_spent_on_btc() -> None:
    after = _simulate(ACCOUNT, _order("s1", "BTC/USDT", "buy", "0.1", "60000")).after
    # −6,000 USDT (face value) + 0.1 × 60,000 × 95 % = −300: EC 38,200, AE 37,700
    assert after.effective_collateral == D(38_200)
    assert after.health == D(1) - (D(519) / D(37_700)).quantize(D("0.00000001"), rounding="ROUND_CEILING")


def test_spot_buy_is_not_applied_when_the_quote_balance_is_short() -> None:
    outcome = _simulate(ACCOUNT, _order("s1", "BTC/USDT", "buy", "1", "60000")).orders[0]
    assert not outcome.applied and outcome.reason == reasons.INSUFFICIENT_COLLATERAL


def test_reducing_a_short_realises_pnl_as_cash_when_closed_above_entry() -> None:
    projection = _simulate(ACCOUNT, _order("r1", "ETH/USDT:USDT", "buy", "5", "3100"))
    after = projection.after
    assert projection.orders[0].effect == "reduce"
    assert after.realised_pnl == D(-500) and after.unrealised_pnl == 0
    assert after.adjusted_equity == D(38_000)  # unrealised became realised: equity unchanged at mark
    assert after.maintenance == D(120)


# -- bad input and conservative results ----------------------------------------------------


def test_missing_price_counts_zero_and_warns_when_a_collateral_asset_has_none() -> None:
    account = MarginAccount(venue="binance", collateral=(_usdt("1000"), CollateralBalance(asset="ETH", balance=D(2))))
    state = _simulate(account).before
    assert state.effective_collateral == D(1000)
    assert [w.code for w in state.warnings] == [reasons.MISSING_PRICE]


def test_unknown_haircut_counts_zero_when_the_venue_has_no_table_for_the_asset() -> None:
    account = MarginAccount(venue="bybit", collateral=(
        _usdt("1000"), CollateralBalance(asset="XYZ", balance=D(100), price=D(10))))
    state = _simulate(account).before
    assert state.effective_collateral == D(1000)
    assert [w.code for w in state.warnings] == [reasons.UNKNOWN_HAIRCUT]


def test_default_binance_rate_applies_when_an_asset_is_not_in_its_table() -> None:
    account = MarginAccount(venue="binance", collateral=(CollateralBalance(asset="XYZ", balance=D(100), price=D(10)),))
    assert _simulate(account).before.effective_collateral == D(100)  # 1,000 × collateral rate 0.1


def test_whole_notional_is_maintenance_when_no_tiers_exist_for_the_asset() -> None:
    margin = MarginConfig(venues={"binance": MARGIN.venues["binance"].__class__(
        haircuts={"USDT": (Tier(floor=D(0), rate=D(0)),)}, maintenance={"BTC": BINANCE_BTC})})
    account = MarginAccount(venue="binance", collateral=(_usdt("100000"),),
                            positions=(_perp("ETH/USDT:USDT", "long", "1", "3000", "3000"),))
    state = _simulate(account, margin=margin).before
    assert state.maintenance == D(3000)
    assert [w.code for w in state.warnings] == [reasons.UNKNOWN_MAINTENANCE_TABLE]


@pytest.mark.parametrize(("account", "field"), [
    (MarginAccount(venue="binance", collateral=(_usdt("-1"),)), "account.collateral[0].balance"),
    (MarginAccount(venue="binance", collateral=(CollateralBalance(asset="BTC", balance=D(1), price=D(0)),)),
     "account.collateral[0].price"),
    (MarginAccount(venue="binance", collateral=(_usdt("1"), _usdt("2"))), "account.collateral[1].asset"),
    (MarginAccount(venue="kraken", collateral=()), "account.venue"),
    (MarginAccount(venue="binance", collateral=(), positions=(_perp("BTC/USDT:USDT", "long", "1", "1", "1", "okx"),)),
     "account.positions[0].venue"),
    (MarginAccount(venue="binance", collateral=(), positions=(_perp("BTC/USDT", "long", "1", "1", "1"),)),
     "account.positions[0].symbol"),
    (MarginAccount(venue="binance", collateral=(), positions=(_perp("BTC/USDT:ETH", "long", "1", "1", "1"),)),
     "account.positions[0].symbol"),
    (MarginAccount(venue="binance", collateral=(), positions=(_perp("BTC/USDT:USDT", "long", "1", "0", "1"),)),
     "account.positions[0].entry_px"),
])
def test_simulate_raises_naming_the_field_when_input_is_invalid(account: MarginAccount, field: str) -> None:
    with pytest.raises(RiskInputError) as raised:
        _simulate(account)
    assert raised.value.field == field


def test_simulate_raises_when_an_order_id_repeats() -> None:
    order = _order("o1", "BTC/USDT:USDT", "sell", "0.1", "60000")
    with pytest.raises(RiskInputError) as raised:
        _simulate(ACCOUNT, order, order)
    assert raised.value.field == "orders[1].order_id"


def test_dust_position_counts_zero_when_below_min_qty() -> None:
    account = MarginAccount(venue="binance", collateral=(_usdt("1000"),),
                            positions=(_perp("BTC/USDT:USDT", "long", "0.0005", "60000", "50000"),))
    state = _simulate(account).before
    assert state.positions == () and state.maintenance == 0 and state.unrealised_pnl == 0
    assert [w.code for w in state.warnings] == [reasons.DUST_POSITION]


def test_dust_order_is_not_applied_when_below_min_qty() -> None:
    outcome = _simulate(ACCOUNT, _order("d1", "BTC/USDT:USDT", "sell", "0.0001", "60000")).orders[0]
    assert not outcome.applied and outcome.reason == reasons.BELOW_MIN_SIZE


def test_health_saturates_and_breaches_when_adjusted_equity_is_not_positive() -> None:
    account = MarginAccount(venue="binance", collateral=(_usdt("100"),),
                            positions=(_perp("BTC/USDT:USDT", "long", "1", "60000", "59000"),))
    state = _simulate(account).before
    assert state.health == HEALTH_FLOOR
    assert reasons.EQUITY_NON_POSITIVE in [b.code for b in state.breaches]


# -- netting (net mode) -------------------------------------------------------------------


def _parts(mark: str, *holdings: tuple[str, str]) -> list[Part]:
    """(signed qty, entry) holdings of one symbol, all marked at `mark`."""
    return [Part(qty=D(q), entry=D(e), mark=D(mark), quality=None, pair_id=f"p{i}")
            for i, (q, e) in enumerate(holdings)]


def _pnl_at(mark: str, position: PerpPosition) -> D:
    sign = 1 if position.side == "long" else -1
    return sign * position.qty * (D(mark) - position.entry_px)


def test_net_entry_is_the_size_weighted_mean_when_every_part_is_on_one_side() -> None:
    # long 2 @ 100 + long 1 @ 130: 3 @ (200 + 130) / 3 = 110, nothing locked in
    position, cash = net_parts("binance", "BTC/USDT:USDT", _parts("105", ("2", "100"), ("1", "130")))
    assert position is not None and (position.side, position.qty, position.entry_px) == ("long", D(3), D(110))
    assert cash == 0 and position.pair_id == "p0+p1"


def test_larger_side_keeps_its_entry_and_the_locked_pnl_is_cash_when_a_short_reduces_longs() -> None:
    # longs 3 @ 110 (as above), short 2.5 @ 120: long 0.5 @ 110; 2.5 × (120 − 110) = 25 locked in.
    # At mark 105 the parts make 2 × 5 + 1 × (−25) − 2.5 × (−15) = 22.5 = 0.5 × (105 − 110) + 25;
    # at 200: 200 + 70 − 200 = 70 = 0.5 × 90 + 25.
    position, cash = net_parts("binance", "BTC/USDT:USDT",
                               _parts("105", ("2", "100"), ("1", "130"), ("-2.5", "120")))
    assert position is not None and (position.side, position.qty, position.entry_px) == ("long", D("0.5"), D(110))
    assert cash == D(25)
    assert _pnl_at("105", position) + cash == D("22.5") and _pnl_at("200", position) + cash == D(70)


def test_net_entry_stays_positive_when_a_long_and_a_short_nearly_cancel() -> None:
    # long 1 @ 100, short 1.000001 @ 90, mark 95: short 0.000001 @ 90, 1 × (90 − 100) = −10 locked in.
    # An entry carrying the −10.000005 of the parts would be 95 − 10.000005 / 0.000001 = −9,999,910.
    position, cash = net_parts("okx", "BTC/USDT:USDT", _parts("95", ("1", "100"), ("-1.000001", "90")))
    assert position is not None and (position.side, position.qty, position.entry_px) == ("short", D("0.000001"), D(90))
    assert cash == D(-10)


def test_flat_net_is_no_position_and_its_pnl_is_cash_when_the_parts_cancel_exactly() -> None:
    # long 1 @ 100, short 1 @ 90: (95 − 100) − (95 − 90) = −10 at any mark
    assert net_parts("okx", "BTC/USDT:USDT", _parts("95", ("1", "100"), ("-1", "90"))) == (None, D(-10))


def test_recipe_parts_build_an_account_when_a_carry_short_and_a_spread_long_nearly_cancel() -> None:
    # The okx BTC perp of `study portfolio` with every pair, enter above 0.5 bp, exit below 0,
    # sector cap 0.5, band 0.5, gain multiple 1, no correlation penalty: the carry's short and
    # the spread's long differ by 0.5 %; the old entry (chosen to carry the 146 locked in) was
    # −50,872.78 and building the account raised RiskInputError on entry_px.
    carry, spread = D("0.3913871302373830645348864254846047"), D("0.3934175333620522336834830029870812")
    parts = [Part(qty=MONEY.minus(carry), entry=D("21497.8"), mark=D("21497.8"), quality=0.26, pair_id="BTC carry okx"),
             Part(qty=spread, entry=D("21124.3"), mark=D("21497.8"), quality=0.22, pair_id="BTC spread binance/okx")]
    position, cash = net_parts("okx", "BTC/USDT:USDT", parts)
    assert position is not None and (position.side, position.qty) == ("long", MONEY.subtract(spread, carry))
    assert position.entry_px == D("21124.3") and position.quality == 0.22
    locked = MONEY.multiply(carry, D("373.5"))  # the carry's size × (its short entry 21,497.8 − the long's 21,124.3)
    assert abs(cash - locked) < D("1e-27")  # to the 34 digits of MONEY
    book = MarginBook(MarginAccount(venue="okx", collateral=(_usdt("5000"),), positions=(position,)),
                      MARGIN, DEFAULT_VENUES)
    # the parts at mark 21,497.8: the carry's 0 plus the spread's 373.5 per BTC
    assert abs(book.upnl + cash - MONEY.multiply(spread, D("373.5"))) < D("1e-25")


# -- properties ---------------------------------------------------------------------------

money = decimals("0.01", "100000000", places=2)


@given(money, decimals("0", "1000000", 2), decimals("0", "1000000", 2), decimals("0", "1", 2))
def test_health_never_rises_when_maintenance_is_added(equity: D, tmm: D, extra: D, buffer: D) -> None:
    assert health_of(equity, tmm + extra, buffer) <= health_of(equity, tmm, buffer)
    assert health_of(-equity, tmm + extra, buffer) <= health_of(-equity, tmm, buffer)


@given(decimals("0", "600000000", 2), decimals("0", "600000000", 2))
def test_tiered_margin_never_falls_when_the_notional_grows(a: D, b: D) -> None:
    low, high = min(a, b), max(a, b)
    for tiers in (BINANCE_BTC, OKX_BTC):
        assert tiered(tiers, "progressive", low) <= tiered(tiers, "progressive", high)
        assert tiered(tiers, "whole", low) <= tiered(tiers, "whole", high)
        assert tiered(tiers, "progressive", high) <= tiered(tiers, "whole", high)  # whole is the stricter


@settings(max_examples=60)
@given(st.sampled_from(["binance", "bybit", "okx"]), decimals("100", "1000000", 2),
       st.lists(st.tuples(st.sampled_from(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]),
                          st.sampled_from(["buy", "sell"]), decimals("0.001", "50", 3)), max_size=6))
def test_health_never_rises_when_a_position_grows_at_its_mark(venue: str, usdt: D,
                                                              trades: list[tuple[str, str, D]]) -> None:
    marks = {"BTC/USDT:USDT": D(60_000), "ETH/USDT:USDT": D(3_000), "SOL/USDT:USDT": D(150)}
    book = MarginBook(MarginAccount(venue=venue, collateral=(_usdt(str(usdt)),)), MARGIN, DEFAULT_VENUES)
    for i, (symbol, side, qty) in enumerate(trades):
        held = book.positions.get(symbol)
        grows = held is None or (held.qty > 0) == (side == "buy")
        before = book.health()
        book.apply(_order(f"o{i}", symbol, side, str(qty), str(marks[symbol]), venue))
        if grows:
            assert book.health() <= before
