"""The trade phases and their declared moves: every documented path walks, every other
move raises, and a refused move leaves the trade as it was."""

from dataclasses import dataclass
from itertools import product
from typing import get_args

import pytest

from arbflow.model.errors import UndeclaredPhaseMove
from arbflow.model.execution import TradeStatus
from arbflow.operators.execution import phases
from arbflow.operators.execution.phases import ALLOWED, Phase

# The moves the engine's lifecycle describes, written out by hand from its docstring.
DECLARED: frozenset[tuple[str, str]] = frozenset({
    ("first", "second"), ("first", "unwinding"), ("first", "rejected"),
    ("second", "active"), ("second", "hedging"), ("second", "unwinding"),
    ("hedging", "active"), ("hedging", "unwinding"),
    ("unwinding", "active"), ("unwinding", "rejected"), ("unwinding", "stuck"),
    ("active", "exit_passive"), ("active", "exit_market"), ("active", "unwinding"),
    ("exit_passive", "active"), ("exit_passive", "exit_market"),
    ("exit_market", "closed"), ("exit_market", "stuck"),
    ("stuck", "exit_market"),
    ("active", "resize_first"), ("resize_first", "active"), ("resize_first", "resize_second"),
    ("resize_first", "unwinding"), ("resize_second", "active"), ("resize_second", "unwinding"),
})
PHASES: tuple[Phase, ...] = get_args(Phase)


@dataclass
class _Trade:
    trade_id: str = "BTC-1"
    phase: Phase = "first"
    status: TradeStatus = "pending"


def test_table_declares_exactly_the_documented_moves_when_read_whole() -> None:
    assert set(ALLOWED) == set(PHASES)
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == DECLARED


@pytest.mark.parametrize("path", [
    ("first", "second", "active", "exit_passive", "exit_market", "closed"),   # a round trip, soft exit
    ("first", "second", "active", "exit_market", "closed"),                   # hard exit
    ("first", "rejected"),                                                    # first leg timed out empty
    ("first", "unwinding", "rejected"),                                       # partial first leg unwound
    ("first", "unwinding", "active"),                                         # unwind matched, something held
    ("first", "second", "hedging", "active"),                                 # leg-out hedged
    ("first", "second", "hedging", "unwinding", "stuck", "exit_market", "closed"),  # hedge and unwind failed
    ("first", "second", "unwinding", "rejected"),                             # second leg rejected
    ("first", "second", "active", "exit_passive", "active", "exit_passive", "exit_market", "stuck"),
    ("first", "second", "active", "unwinding", "active"),                     # a late fill traded back
])
def test_move_walks_the_path_when_every_step_is_declared(path: tuple[Phase, ...]) -> None:
    trade = _Trade()
    for phase in path[1:]:
        phases.move(trade, phase)
        assert trade.phase == phase
    assert trade.status == "pending"  # no status given: it stays


def test_move_sets_the_status_when_one_is_given() -> None:
    trade = _Trade(phase="exit_market", status="exiting")
    phases.move(trade, "closed", "closed")
    assert (trade.phase, trade.status) == ("closed", "closed")


@pytest.mark.parametrize(("source", "target"),
                         sorted((a, b) for a, b in product(PHASES, PHASES) if (a, b) not in DECLARED))
def test_move_raises_and_leaves_the_trade_when_the_move_is_undeclared(source: Phase, target: Phase) -> None:
    trade = _Trade(phase=source, status="active")
    with pytest.raises(UndeclaredPhaseMove, match=f"BTC-1: no declared move from phase '{source}' to '{target}'"):
        phases.move(trade, target, "closed")
    assert (trade.phase, trade.status) == (source, "active")
