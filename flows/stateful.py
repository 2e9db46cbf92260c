"""Wrapping a pure operator `update(state, value) -> (state, output | None)` as a Bytewax
stateful step that works a whole batch per key at once.

Bytewax calls Python once per item per step; for a tick stream that call overhead is
the bottleneck, so `fold` uses `stateful_batch`: one call per key per batch, the pure
function applied item by item inside. The state object is immutable and replaced on
every item, so the snapshot is simply the latest state (recovery-safe).
"""

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import bytewax.operators as op
from bytewax.operators import KeyedStream, StatefulBatchLogic

S = TypeVar("S")
V = TypeVar("V")
W = TypeVar("W")


class _Fold(StatefulBatchLogic[V, W, S], Generic[V, W, S]):
    def __init__(self, update: Callable[[S | None, V], tuple[S, W | None]], state: S | None) -> None:
        self._update = update
        self._state = state

    def on_batch(self, values: list[V]) -> tuple[Iterable[W], bool]:
        update, state, out = self._update, self._state, []
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
