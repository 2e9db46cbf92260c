"""Book-walk slippage, depth within a band, and the fallback formula (docs/architecture.md §3.6)."""

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from arbflow.operators.signals import slippage

BIDS = ((D(100), D(1)), (D(99), D(2)), (D(98), D(5)))
ASKS = ((D(101), D(1)), (D(102), D(2)), (D(103), D(5)))


def test_a_buy_walks_the_asks_and_pays_its_vwap_against_the_mid() -> None:
    # 305 USD: all of 101 × 1 = 101, then 204 at 102 = 2 units; qty 3, vwap 305/3.
    fill = slippage.walk(ASKS, D(305))
    assert (fill.qty, fill.cost, fill.exhausted) == (D(3), D(305), False)
    # mid 100.5: (305/3 − 100.5) / 100.5 × 10⁴ = (101.6666… − 100.5) / 100.5 × 10⁴ ≈ 116.08 bps
    bps = slippage.slippage_bps("buy", BIDS, ASKS, D(305))
    assert bps is not None and abs(bps - (D(305) / 3 - D("100.5")) / D("100.5") * 10_000) < D("1E-20")


def test_a_sell_walks_the_bids() -> None:
    # 150 USD: 100 × 1, then 50 at 99 (50/99 units); vwap 150 / (1 + 50/99)
    bps = slippage.slippage_bps("sell", BIDS, ASKS, D(150))
    vwap = D(150) / (1 + D(50) / D(99))
    assert bps is not None and abs(bps - (D("100.5") - vwap) / D("100.5") * 10_000) < D("1E-20")


def test_a_book_too_thin_for_the_size_gives_no_estimate() -> None:
    assert slippage.walk(ASKS, D(10_000)).exhausted
    assert slippage.slippage_bps("buy", BIDS, ASKS, D(10_000)) is None
    assert slippage.slippage_bps("buy", (), ASKS, D(10)) is None


def test_depth_within_a_band_of_the_mid() -> None:
    # within 100 bps of 100.5 (±1.005): 100 and 101.? → bids: 100 (|0.5|) yes, 99 (1.5) no.
    assert slippage.depth_within(BIDS, D("100.5"), D(100)) == D(100)
    assert slippage.depth_within(ASKS, D("100.5"), D(100)) == D(101)


def test_the_fallback_is_two_plus_three_times_size_over_depth_capped_at_five() -> None:
    assert slippage.fallback_slippage_bps(D(0), D(1000)) == D(2)
    assert slippage.fallback_slippage_bps(D(500), D(1000)) == D("3.5")
    assert slippage.fallback_slippage_bps(D(2000), D(1000)) == D(5)
    assert slippage.fallback_slippage_bps(D(10), D(0)) == D(5)


levels = st.lists(st.tuples(st.integers(1, 1000), st.integers(1, 50)), min_size=1, max_size=10)


@given(levels, st.integers(1, 5_000), st.integers(1, 5_000))
def test_book_walk_slippage_never_falls_as_the_size_grows(raw: list[tuple[int, int]], a: int, b: int) -> None:
    asks = tuple((D(100) + D(i) + D(step) / 10, D(size)) for i, (step, size) in enumerate(sorted(raw)))
    bids = ((D(99), D(1)),)
    small, large = sorted((D(a), D(b)))
    low, high = (slippage.slippage_bps("buy", bids, asks, n) for n in (small, large))
    if high is not None:
        assert low is not None and low <= high


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.decimals(min_value=0, max_value=10**7, places=2))
def test_the_fallback_stays_within_two_and_five_bps(notional: D, depth: D) -> None:
    assert D(2) <= slippage.fallback_slippage_bps(notional, depth) <= D(5)
