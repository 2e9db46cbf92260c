"""Wrapping a pure operator `update(state, value) -> (state, output | None)` as a Bytewax
stateful step that works a whole batch per key at once.

Bytewax calls Python once per item per step; for a tick stream that call overhead is
the bottleneck, so `fold` uses `stateful_batch`: one call per key per batch, the pure
function applied item by item inside. The state is a mutable object owned by this step
alone (operators update it in place, which is cheaper than copying a desk per record); the
function returns it after every item, so the snapshot is simply the latest state, pickled by
Bytewax (recovery-safe).

The items of one key in one upstream batch travel to the stateful step as *one* item, a
list in arrival order (`group_by_key`). Bytewax routes a key to the worker
`hash(key) % workers`, which is usually not the worker that read it, and an item that
crosses processes is pickled and unpickled on its own, each time through a Python thread
state made and dropped for that one call (pyo3 on a worker thread that holds no GIL).
Measured with 2 processes, one item per record cost ≈ 50 µs of CPU per record in
pickling alone (BENCHMARKS.md, scaling); one list per key per batch shares that cost over
the batch. Order within a key is unchanged, so the results are the same.

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
    def __init__(self, update: Callable[[S | None, V], tuple[S, W | None]], state: S | None,
                 prepare: Callable[[list[V]], list[V]] | None = None) -> None:
        self._update = update
        self._state = state
        self._prepare = prepare

    def on_batch(self, values: list[V]) -> tuple[Iterable[W], bool]:
        update, state, out = self._update, self._state, []
        with localcontext(ARITHMETIC):
            if self._prepare is not None:
                values = self._prepare(values)
            for value in values:
                state, emitted = update(state, value)
                if emitted is not None:
                    out.append(emitted)
        self._state = state
        return out, StatefulBatchLogic.RETAIN

    def snapshot(self) -> S | None:
        return self._state


class _FoldGroups(StatefulBatchLogic[list[V], W, S], Generic[V, W, S]):
    """`_Fold` over the lists made by `group_by_key`, in order."""

    def __init__(self, update: Callable[[S | None, V], tuple[S, W | None]], state: S | None,
                 prepare: Callable[[list[V]], list[V]] | None = None) -> None:
        self._fold = _Fold(update, state, prepare)

    def on_batch(self, values: list[list[V]]) -> tuple[Iterable[W], bool]:
        return self._fold.on_batch([value for group in values for value in group])

    def snapshot(self) -> S | None:
        return self._fold.snapshot()


def group_by_key(items: list[tuple[str, V]]) -> list[tuple[str, list[V]]]:
    """One `(key, [values…])` per key of a batch; values keep their order."""
    groups: dict[str, list[V]] = {}
    for key, value in items:
        group = groups.get(key)
        if group is None:
            groups[key] = [value]
        else:
            group.append(value)
    return list(groups.items())


def fold(step_id: str, up: KeyedStream[V], update: Callable[[S | None, V], tuple[S, W | None]],
         prepare: Callable[[list[V]], list[V]] | None = None) -> KeyedStream[W]:
    """Apply the pure `update` per key, batch-wise; None outputs are dropped. The state
    lives in step `step_id`; `<step_id>_by_key` groups each batch per key before it.
    `prepare`, when given, maps a key's whole batch (in order) before the updates run — e.g.
    decoding raw messages where they arrive: working the batch in two passes measured
    faster than decoding and updating item by item."""
    groups = op.flat_map_batch(f"{step_id}_by_key", up, group_by_key)
    return op.stateful_batch(step_id, groups, lambda resume: _FoldGroups(update, resume, prepare))
