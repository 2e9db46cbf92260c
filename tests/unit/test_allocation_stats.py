"""The allocator's correlation estimate (operators.portfolio.allocation_stats.ew_correlation)
reusing each series' moments: bit-identical to the formula taken from scratch on plain dicts,
for series sharing all, some or too few timestamps."""

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arbflow.model.risk import CarryPoint
from arbflow.operators.portfolio.allocation_stats import Series, ew_correlation, returns


def _from_scratch(a: dict[int, float], b: dict[int, float], decay: float, min_overlap: int) -> float | None:
    """The module docstring's formula, term by term, on the shared timestamps."""
    shared = sorted(a.keys() & b.keys())
    n = len(shared)
    if n < min_overlap:
        return None
    weights = [decay ** (n - 1 - i) for i in range(n)]
    total = math.fsum(weights)
    xs, ys = [a[t] for t in shared], [b[t] for t in shared]
    mean_x = math.fsum(map(float.__mul__, weights, xs)) / total
    mean_y = math.fsum(map(float.__mul__, weights, ys)) / total
    dx, dy = [x - mean_x for x in xs], [y - mean_y for y in ys]
    var_x = math.fsum(w * d * d for w, d in zip(weights, dx, strict=True)) / total
    var_y = math.fsum(w * d * d for w, d in zip(weights, dy, strict=True)) / total
    if var_x <= 0 or var_y <= 0:
        return 0.0
    cov = math.fsum(w * u * v for w, u, v in zip(weights, dx, dy, strict=True)) / total
    return max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))


_carry = st.decimals(min_value=Decimal("-0.003"), max_value=Decimal("0.003"), places=8)


def _series(draw: st.DrawFn, stamps: list[int]) -> Series:
    return returns([CarryPoint(ts=ts, carry_8h=draw(_carry)) for ts in stamps])


@st.composite
def _pairs(draw: st.DrawFn) -> list[Series]:
    base = sorted(draw(st.sets(st.integers(1, 400), min_size=0, max_size=60)))
    out = []
    for _ in range(draw(st.integers(2, 5))):  # most pairs on the same stamps, some on a subset
        stamps = base if draw(st.booleans()) else [t for t in base if draw(st.booleans())]
        out.append(_series(draw, stamps))
    return out


@given(pairs=_pairs(), decay=st.sampled_from([0.94, 0.97, 0.5, 1.0]), min_overlap=st.integers(1, 12))
def test_reusing_moments_gives_the_same_bits_as_the_formula_from_scratch(pairs: list[Series], decay: float,
                                                                          min_overlap: int) -> None:
    for i, a in enumerate(pairs):  # every pair of pairs, in the allocator's order, twice (the second from cache)
        for b in pairs[i + 1:] + pairs[i + 1:]:
            expected = _from_scratch(dict(a), dict(b), decay, min_overlap)
            got = ew_correlation(a, b, decay, min_overlap)
            assert got == expected or (got is not None and expected is not None and math.isnan(got) and
                                       math.isnan(expected))
            assert ew_correlation(dict(a), dict(b), decay, min_overlap) == expected  # plain dicts: no cache
