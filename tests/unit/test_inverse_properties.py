"""Inverse and linear perps together in the margin simulator over random input (operators.portfolio.margin,
operators.portfolio.accounts, operators.execution.risk_checks): extreme but valid values — prices from
0.01 to 1e6, sleeve scales and sizes down to 1e-12, carry signals of ±1e-12 — never raise; an
inverse position's maintenance does not move with its mark; the USD value of its coin PnL is the
linear formula's on base units at entry; an inverse leg's cash arrives as its coin."""

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model.config import DEFAULT_VENUES, MarginConfig
from arbflow.model.money import MONEY
from arbflow.model.risk import CollateralBalance, MarginAccount, PerpPosition, ProposedOrder
from arbflow.operators.portfolio import inverse
from arbflow.operators.portfolio.accounts import Exposure, PairSpec, accounts, check, gate_increase
from arbflow.operators.portfolio.margin import MarginBook
from arbflow.operators.study.carry import CARRY, SPREAD, PathPoint
from tests.strategies import decimals, unit_floats

MARGIN = MarginConfig()
LINEAR, INVERSE = "BTC/USDT:USDT", "BTC/USD:BTC"
VENUES = ("binance", "bybit", "okx")
T0 = 1_672_531_200_000
N = D(100_000)

prices = decimals("0.01", "1000000", places=2)
sizes = decimals("0.000000000001", "1000", places=12)
scales = decimals("0.000000000001", "3", places=12)
signals = st.sampled_from([D("1e-12"), D("-1e-12"), D(0)]) | decimals("-0.01", "0.01", places=12)


def _sleeve(spec: PairSpec, scale: D, direction: int, qty: D, entry: tuple[D, D], marks: tuple[D, D],
            signal: D, quality: float | None) -> Exposure:
    point = PathPoint(ts_ms=T0, direction=direction, qty=qty, entry=entry, marks=marks, signal_8h=signal,
                      pnl=D(0), fees=D(0), traded=D(0))
    return Exposure(spec=spec, scale=scale, point=point, quality=quality)


@st.composite
def sleeves(draw: st.DrawFn) -> list[Exposure]:
    """Spreads on every venue pair with each leg linear or inverse at random, and linear carries;
    one perp mark per venue and symbol."""
    marks = {(v, s): draw(prices) for v in VENUES for s in (LINEAR, INVERSE)}
    out = []
    for v in VENUES:
        if draw(st.booleans()):
            spec = PairSpec(pair_id=f"carry {v}", strategy=CARRY, asset="BTC", venues=(v, v),
                            symbols=("BTC/USDT", LINEAR), fees_bps=(D(10), D(5)))
            out.append(_sleeve(spec, draw(scales), 1, draw(sizes), (draw(prices), draw(prices)),
                               (draw(prices), marks[(v, LINEAR)]), draw(signals), draw(st.none() | unit_floats)))
    for a, b in ((VENUES[0], VENUES[1]), (VENUES[0], VENUES[2]), (VENUES[1], VENUES[2])):
        if not draw(st.booleans()):
            continue
        symbols = (draw(st.sampled_from([LINEAR, INVERSE])), draw(st.sampled_from([LINEAR, INVERSE])))
        spec = PairSpec(pair_id=f"spread {a}/{b}", strategy=SPREAD, asset="BTC", venues=(a, b), symbols=symbols,
                        fees_bps=(D(5), D(5)))
        out.append(_sleeve(spec, draw(scales), draw(st.sampled_from([1, -1])), draw(sizes),
                           (draw(prices), draw(prices)), (marks[(a, symbols[0])], marks[(b, symbols[1])]),
                           draw(signals), draw(st.none() | unit_floats)))
    return out


@settings(max_examples=150, deadline=None)
@given(sleeves(), scales)
def test_accounts_check_and_gate_never_raise_when_inverse_and_linear_sleeves_are_random(
        held: list[Exposure], add: D) -> None:
    built, _ = accounts(held, N)
    for venue, account in built.items():
        state = MarginBook(account, MARGIN, DEFAULT_VENUES).state()
        assert -1 <= state.health <= 1
        inverse_legs = {e.spec.venues[i] for e in held if e.open and e.spec.strategy == SPREAD
                        for i in (0, 1) if e.spec.symbols[i] == INVERSE}
        if venue in inverse_legs:  # the leg's cash came as BTC (or was netted into it)
            assert any(c.asset == "BTC" for c in account.collateral) or any(
                p.symbol == INVERSE for p in account.positions)
    seen = check(held, N, MARGIN, DEFAULT_VENUES)
    assert seen.min_health <= 1
    for grow in held:
        reason, health = gate_increase(held, grow, add, N, MARGIN, DEFAULT_VENUES)
        assert reason is None or isinstance(reason, str)
        assert -1 <= health <= 1


@st.composite
def inverse_accounts(draw: st.DrawFn) -> tuple[MarginAccount, D]:
    """A Binance account with BTC and USDT collateral and an inverse and a linear position, and a
    second mark for the inverse one."""
    btc_px = draw(prices)
    collateral = (CollateralBalance(asset="BTC", balance=draw(sizes), price=btc_px),
                  CollateralBalance(asset="USDT", balance=draw(decimals("0", "1000000", places=6)), price=D(1)))
    positions = tuple(PerpPosition(venue="binance", symbol=symbol, side=draw(st.sampled_from(["long", "short"])),
                                   qty=draw(decimals("0.001", "1000", places=6)), entry_px=draw(prices),
                                   mark_px=draw(prices), quality=draw(st.none() | unit_floats))
                      for symbol in draw(st.sampled_from([(INVERSE,), (INVERSE, LINEAR)])))
    return MarginAccount(venue="binance", collateral=collateral, positions=positions), draw(prices)


@settings(max_examples=200, deadline=None)
@given(inverse_accounts(), st.lists(st.tuples(st.sampled_from(["buy", "sell"]), decimals("0.001", "2000", places=6),
                                              prices), max_size=4))
def test_an_inverse_positions_maintenance_ignores_its_mark_and_orders_never_raise(
        drawn: tuple[MarginAccount, D], orders: list[tuple[str, D, D]]) -> None:
    account, other_mark = drawn
    book = MarginBook(account, MARGIN, DEFAULT_VENUES)
    held = book.positions[INVERSE]
    remarked = MarginAccount(venue="binance", collateral=account.collateral, positions=tuple(
        PerpPosition(venue=p.venue, symbol=p.symbol, side=p.side, qty=p.qty, entry_px=p.entry_px,
                     mark_px=other_mark if p.symbol == INVERSE else p.mark_px) for p in account.positions))
    again = MarginBook(remarked, MARGIN, DEFAULT_VENUES).positions[INVERSE]
    assert again.maintenance == held.maintenance and again.notional == held.notional
    # the coin PnL of n = q × e / size contracts, valued at the mark, is q × (m − e)
    contracts = MONEY.divide(MONEY.multiply(held.qty, held.entry), D(100))
    coin = inverse.pnl_coin(contracts, D(100), held.entry, held.mark)
    assert abs(MONEY.multiply(coin, held.mark) - held.upnl) <= abs(held.upnl) * D("1e-30") + D("1e-24")
    for i, (side, qty, px) in enumerate(orders):
        book.apply(ProposedOrder(order_id=f"o{i}", venue="binance", symbol=INVERSE, side=side,  # type: ignore[arg-type]
                                 qty=qty, px=px))
    state = book.state()
    assert -1 <= state.health <= 1
    assert all(p.notional == MONEY.multiply(p.qty, p.entry_px) for p in state.positions if p.symbol == INVERSE)
