"""Wrapping a pure operator `update(state, value) -> (state, outputs | None)` as a Bytewax
stateful step that works a whole batch per key at once and emits one list of outputs per
key and batch.

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


class _Fold(StatefulBatchLogic[list[V], list[W], S], Generic[V, W, S]):
    """`update` over a key's batch: the lists made upstream (`group_by_key`), in order; the
    outputs of the whole batch leave as one list (none when nothing came out). A key whose
    state is still None after its batch (nothing to keep, e.g. a dead letter's topic) is
    discarded."""

    def __init__(self, update: Callable[[S | None, V], tuple[S, list[W] | None]], state: S | None,
                 prepare: Callable[[list[V]], list[V]] | None = None) -> None:
        self._update = update
        self._state = state
        self._prepare = prepare

    def on_batch(self, values: list[list[V]]) -> tuple[Iterable[list[W]], bool]:
        update, state, out = self._update, self._state, []
        items = values[0] if len(values) == 1 else [value for group in values for value in group]
        with localcontext(ARITHMETIC):
            if self._prepare is not None:
                items = self._prepare(items)
            for item in items:
                state, emitted = update(state, item)
                if emitted:
                    out += emitted
        self._state = state
        return ([out] if out else ()), (StatefulBatchLogic.RETAIN if state is not None else StatefulBatchLogic.DISCARD)

    def snapshot(self) -> S | None:
        return self._state


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


def fold(step_id: str, groups: KeyedStream[list[V]], update: Callable[[S | None, V], tuple[S, list[W] | None]],
         prepare: Callable[[list[V]], list[V]] | None = None) -> KeyedStream[list[W]]:
    """Apply the pure `update` per key, batch-wise, to a stream already grouped per key and
    batch (`group_by_key`, or a step that groups as it goes): one list of a key's outputs
    per batch, empty lists and None outputs dropped. The state lives in step `step_id`.
    `prepare`, when given, maps a key's whole batch (in order) before the updates run — e.g.
    decoding raw messages where they arrive: working the batch in two passes measured
    faster than decoding and updating item by item. (Each Bytewax step costs per item it
    passes, so the grouping is left to the step before, which walks the batch anyway.)"""
    return op.stateful_batch(step_id, groups, lambda resume: _Fold(update, resume, prepare))
