"""Netting in net mode (operators.portfolio.margin.net_parts) over random holdings, and the
study's margin accounts (operators.portfolio.accounts) over random sleeves, with longs and
shorts that nearly cancel forced in (sizes 1e-12 to 1e-6 apart, relative, or equal): nothing
raises; the net quantity is the sum of the parts; the entry lies within the entries of the
side that survives (equals it when that side is one holding) and is > 0; the position's
unrealised P&L plus the cash the netting locks in equals the parts' P&L at any mark.
Prices reach 1e6, sleeve scales and carry signals go down to 1e-12."""

from decimal import Decimal as D
from decimal import localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model.config import DEFAULT_VENUES, MarginConfig
from arbflow.model.money import MONEY
from arbflow.model.risk import PerpPosition
from arbflow.operators.portfolio.accounts import Exposure, PairSpec, accounts, check, gate_increase
from arbflow.operators.portfolio.margin import MarginBook, Part, net_parts
from arbflow.operators.study.carry import CARRY, SPREAD, PathPoint
from tests.strategies import decimals, unit_floats

MARGIN = MarginConfig()
PERP = "BTC/USDT:USDT"
T0 = 1_672_531_200_000  # 2023-01-01T00:00Z
N = D(100_000)  # the study notional
NEAR = D("1e-28")  # relative rounding allowed: the money context keeps 34 digits

entries = decimals("0.00000001", "1000000")
sizes = decimals("0.00000001", "1000000")


gaps = st.just(D(1)) | st.builds(lambda k, n, up: 1 + (k if up else -k) * D(10) ** -n,
                                 st.integers(1, 9), st.integers(6, 12), st.booleans())
"""1 ± k × 10⁻ⁿ for n in 6..12, or 1: the relative size of a holding that nearly cancels another."""


@st.composite
def near_cancelling(draw: st.DrawFn) -> tuple[D, D]:
    """A size q and −q × a gap, either one the long."""
    q = draw(sizes)
    other = MONEY.multiply(q, draw(gaps))
    return (q, -other) if draw(st.booleans()) else (-q, other)


@st.composite
def holdings(draw: st.DrawFn) -> tuple[list[Part], D]:
    """1–8 holdings of one symbol on one venue, all marked at the returned mark."""
    mark = draw(entries)
    loose = draw(st.lists(st.tuples(sizes, st.booleans()), max_size=4))
    qtys = [q if long else -q for q, long in loose]
    for pair in draw(st.lists(near_cancelling(), min_size=0 if qtys else 1, max_size=2)):
        qtys.extend(pair)
    qtys = draw(st.permutations(qtys))
    return [Part(qty=q, entry=draw(entries), mark=mark, quality=draw(st.none() | unit_floats), pair_id=f"p{i}")
            for i, q in enumerate(qtys)], mark


def _signed(position: PerpPosition) -> D:
    return position.qty if position.side == "long" else -position.qty


def _pnl(qty: D, entry: D, mark: D) -> D:
    return MONEY.multiply(qty, mark - entry)


@settings(max_examples=400)
@given(holdings(), entries)
def test_netting_keeps_quantity_entry_and_pnl_when_holdings_are_random(held: tuple[list[Part], D],
                                                                       later: D) -> None:
    parts, mark = held
    position, cash = net_parts("okx", PERP, parts)
    with localcontext(MONEY):
        net = sum((p.qty for p in parts), D(0))
        scale = sum((abs(p.qty) * (p.entry + mark + later) for p in parts), D(0))
        for at in (mark, later):  # now, and after any move
            parts_pnl = sum((_pnl(p.qty, p.entry, at) for p in parts), D(0))
            held_pnl = D(0) if position is None else _pnl(_signed(position), position.entry_px, at)
            assert abs(held_pnl + cash - parts_pnl) <= NEAR * scale
    if net == 0:
        assert position is None
        return
    assert position is not None and _signed(position) == net
    survivors = [p.entry for p in parts if p.qty != 0 and (p.qty > 0) == (net > 0)]
    assert 0 < min(survivors) <= position.entry_px <= max(survivors)
    if len(survivors) == 1:
        assert position.entry_px == survivors[0]
    if all(p.qty * net >= 0 for p in parts):
        assert cash == 0  # one side only: nothing is locked in
    assert position.pair_id == "+".join(sorted(p.pair_id for p in parts))
    known = [p.quality for p in parts if p.quality is not None]
    assert position.quality == (min(known) if known else None)


# -- the study's sleeves ------------------------------------------------------------------

VENUES = ("binance", "bybit", "okx")
scales = decimals("0.000000000001", "3", places=12)
signals = st.sampled_from([D("1e-12"), D("-1e-12"), D(0)]) | decimals("-0.01", "0.01", places=12)
prices = decimals("1", "1000000", places=2)


def _carry(venue: str) -> PairSpec:
    return PairSpec(pair_id=f"BTC carry {venue}", strategy=CARRY, asset="BTC", venues=(venue, venue),
                    symbols=("BTC/USDT", PERP), fees_bps=(D(10), D(5)))


def _spread(a: str, b: str) -> PairSpec:
    return PairSpec(pair_id=f"BTC spread {a}/{b}", strategy=SPREAD, asset="BTC", venues=(a, b),
                    symbols=(PERP, PERP), fees_bps=(D(5), D(5)))


def _sleeve(spec: PairSpec, *, scale: D, direction: int, qty: D, entry: tuple[D, D], marks: tuple[D, D],
            signal: D, quality: float | None = None) -> Exposure:
    point = PathPoint(ts_ms=T0, direction=direction, qty=qty, entry=entry, marks=marks, signal_8h=signal,
                      pnl=D(0), fees=D(0), traded=D(0))
    return Exposure(spec=spec, scale=scale, point=point, quality=quality)


@st.composite
def sleeves(draw: st.DrawFn) -> list[Exposure]:
    """A carry on every venue and a spread on every venue pair, each held or not, at random
    sizes and entries; a spread's leg on a carry's venue is sometimes forced to nearly cancel
    the carry's short. One mark per venue for the perp and for the spot."""
    perp = {v: draw(prices) for v in VENUES}
    spot = {v: draw(prices) for v in VENUES}
    carries: dict[str, tuple[D, D]] = {}
    out = []
    for v in VENUES:
        if draw(st.booleans()):
            scale, qty = draw(scales), draw(sizes)
            carries[v] = (scale, qty)
            out.append(_sleeve(_carry(v), scale=scale, direction=1, qty=qty, entry=(draw(prices), draw(prices)),
                               marks=(spot[v], perp[v]), signal=draw(signals), quality=draw(st.none() | unit_floats)))
    for a, b in ((VENUES[0], VENUES[1]), (VENUES[0], VENUES[2]), (VENUES[1], VENUES[2])):
        if not draw(st.booleans()):
            continue
        direction = draw(st.sampled_from([1, -1]))
        long_venue = a if direction > 0 else b
        scale, qty = draw(scales), draw(sizes)
        if long_venue in carries and draw(st.booleans()):  # its long leg meets the carry's short
            scale, carried = carries[long_venue]
            qty = MONEY.multiply(carried, draw(gaps))
        out.append(_sleeve(_spread(a, b), scale=scale, direction=direction, qty=qty,
                           entry=(draw(prices), draw(prices)), marks=(perp[a], perp[b]), signal=draw(signals),
                           quality=draw(st.none() | unit_floats)))
    return out


def _legs(e: Exposure) -> list[tuple[str, D]]:
    """(venue, signed perp qty) of a sleeve, worked out from its spec and point."""
    qty = MONEY.multiply(e.scale, e.point.qty)
    if e.spec.strategy == CARRY:
        return [(e.spec.venues[0], MONEY.minus(qty))]
    sign = e.point.direction
    return [(e.spec.venues[0], qty if sign > 0 else MONEY.minus(qty)),
            (e.spec.venues[1], MONEY.minus(qty) if sign > 0 else qty)]


@settings(max_examples=150, deadline=None)
@given(sleeves(), scales)
def test_accounts_build_check_and_gate_when_sleeves_are_random(held: list[Exposure], add: D) -> None:
    built, _ = accounts(held, N)
    expected: dict[str, D] = {}
    for e in held:
        for venue, qty in _legs(e):
            expected[venue] = MONEY.add(expected.get(venue, D(0)), qty)
    for venue, account in built.items():
        nets = [_signed(p) for p in account.positions]
        # the accounts add in the ambient 28-digit context, `expected` in the 34-digit MONEY
        # context: equal to 28 significant digits (a 1e-31 BTC difference is not money)
        want = expected.get(venue, D(0))
        assert abs(sum(nets, D(0)) - want) <= abs(want) * D("1e-27") + D("1e-40")
        assert all(p.entry_px > 0 for p in account.positions)
        MarginBook(account, MARGIN, DEFAULT_VENUES).state()
    seen = check(held, N, MARGIN, DEFAULT_VENUES)
    assert seen.min_health <= 1
    for grow in held:
        gate_increase(held, grow, add, N, MARGIN, DEFAULT_VENUES)


def test_accounts_build_and_gate_when_the_recipe_sleeves_nearly_cancel_on_okx() -> None:
    # The smallest sleeves that reproduced the crash of `study portfolio` (all 12 pairs, enter
    # above 0.5 bp, exit below 0, sector cap 0.5, band 0.5, gain multiple 1, no correlation
    # penalty): on okx the BTC carry's short 0.39138713… entered at 21,497.8 and the
    # binance/okx spread's long 0.39341753… entered at 21,124.3 (both marked 21,497.8) net to
    # a long of 0.00203040…, whose entry chosen to carry the 146.18 locked in was −50,872.78.
    carry_qty, spread_qty = D("0.3913871302373830645348864254846047"), D("0.3934175333620522336834830029870812")
    held = [_sleeve(_carry("okx"), scale=D(1), direction=1, qty=carry_qty, entry=(D("21480.1"), D("21497.8")),
                    marks=(D("21480.1"), D("21497.8")), signal=D("0.00006"), quality=0.26),
            _sleeve(_spread("binance", "okx"), scale=D(1), direction=-1, qty=spread_qty,
                    entry=(D("21130.2"), D("21124.3")), marks=(D("21502.0"), D("21497.8")), signal=D("0.00007"),
                    quality=0.22)]
    built, floored = accounts(held, N)
    (position,) = built["okx"].positions
    assert (position.side, position.qty, position.entry_px) == ("long", MONEY.subtract(spread_qty, carry_qty),
                                                                D("21124.3"))
    usdt = {c.asset: c.balance for c in built["okx"].collateral}["USDT"]
    # half the spread's notional, plus the carry's size × (21,497.8 − 21,124.3) locked in
    assert abs(usdt - (N / 2 + MONEY.multiply(carry_qty, D("373.5")))) < D("1e-24") and floored == 0  # 34 digits
    assert gate_increase(held, held[1], D("0.1"), N, MARGIN, DEFAULT_VENUES)[0] is None
    assert check(held, N, MARGIN, DEFAULT_VENUES).liquidated == ()
