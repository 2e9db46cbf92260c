"""Wrapping a pure operator `update(state, value) -> (state, output | None)` as a Bytewax
stateful step that works a whole batch per key at once.

Bytewax calls Python once per item per step; for a tick stream that call overhead is
the bottleneck, so `fold` uses `stateful_batch`: one call per key per batch, the pure
function applied item by item inside. The state object is immutable and replaced on
every item, so the snapshot is simply the latest state (recovery-safe).

Every batch runs in one fixed decimal context (`ARITHMETIC`: Python's default, 28 digits,
half-even): the ambient context belongs to the thread, and a library may change it (ccxt's
`decimal_to_precision` sets ROUND_HALF_UP and an Underflow trap on the calling thread), so
without this a result could depend on which thread — which worker — ran the step.
"""

from collections.abc import Callable, Iterable
from decimal import Context, localcontext
from typing import Generic, TypeVar

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic

ARITHMETIC = Context()  # prec 28, ROUND_HALF_EVEN: what a fresh thread starts with
S = TypeVar("S")
V = TypeVar("V")
W = TypeVar("W")


class _Fold(StatefulBatchLogic[V, W, S], Generic[V, W, S]):
    def __init__(self, update: Callable[[S | None, V], tuple[S, W | None]], state: S | None) -> None:
        self._update = update
        self._state = state

    def on_batch(self, values: list[V]) -> tuple[Iterable[W], bool]:
        update, state, out = self._update, self._state, []
        with localcontext(ARITHMETIC):
            for value in values:
                state, emitted = update(state, value)
                if emitted is not None:
                    out.append(emitted)
        self._state = state
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> S | None:
        return self._state


def fold(step_id: str, up: KeyedStream[V], update: Callable[[S | None, V], tuple[S, W | None]]) -> KeyedStream[W]:
    """Apply the pure `update` per key, batch-wise; None outputs are dropped."""
    return op.stateful_batch(step_id, up, lambda resume: _Fold(update, resume))
