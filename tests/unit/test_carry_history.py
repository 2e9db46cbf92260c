"""A pair's settled carry history (operators.signals.funding.carry_history), taken from each
leg's bucket means cached per settled history: the same values as the formula from scratch
(per bucket both perp legs have, oldest first, the last `intervals`), also after more
settlements replaced a cached history."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from arbflow.operators.signals import funding
from arbflow.operators.signals.funding import MONEY, FundingMonitor, carry_history

A, B, SPOT = ("okx", "BTC/USDT:USDT"), ("binance", "BTC/USDT:USDT"), ("binance", "BTC/USDT")


def _from_scratch(state: FundingMonitor, long: tuple[str, str], short: tuple[str, str],
                  intervals: int) -> tuple[Decimal, ...]:
    def means(key: tuple[str, str]) -> dict[int, Decimal]:
        return {b: total if count == 1 else MONEY.divide(total, Decimal(count))
                for b, total, count in state.settled.get(key, ())}

    legs = [(means(key), sign) for key, sign in ((long, -1), (short, 1)) if ":" in key[1]]
    if not legs:
        return ()
    common = sorted(set.intersection(*(set(m) for m, _ in legs)))[-intervals:]
    return tuple(sum((m[b] if sign > 0 else -m[b] for m, sign in legs), Decimal(0)) for b in common)


_settlement = st.tuples(st.sampled_from([A, B]), st.integers(0, 60),
                        st.decimals(min_value=Decimal("-0.003"), max_value=Decimal("0.003"), places=8))


@given(rounds=st.lists(st.lists(_settlement, max_size=20), min_size=1, max_size=4),
       intervals=st.integers(1, 40))
def test_cached_leg_means_give_the_formula_from_scratch(rounds: list[list[tuple[tuple[str, str], int, Decimal]]],
                                                       intervals: int) -> None:
    state = FundingMonitor()
    for settlements in rounds:  # ask between rounds: the cache must follow every new settlement
        for key, hour8, rate in settlements:
            funding._settle(state, key, hour8 * funding.EIGHT_HOURS_MS + 5, rate)
        for long, short in ((A, B), (B, A), (SPOT, A), (SPOT, B), (SPOT, SPOT)):
            assert carry_history(state, long, short, intervals) == _from_scratch(state, long, short, intervals)
