"""The phases of a pair trade and the moves declared between them.

A trade is born in `first` and ends in `closed` or `rejected`; `stuck` waits for an
operator. `move` is the only place a trade's phase (and status) changes, and it checks
every move against `ALLOWED`: an undeclared move is a bug in the execution step, raised as
`UndeclaredPhaseMove` rather than carried on with a trade in a state nobody planned for.

The moves, and what makes them (the engine's docstring tells the whole story):
- first → second (the resting leg filled), unwinding (it executed in part, or the second
  leg could not be sent), rejected (nothing executed);
- second → active (matched), hedging (a remainder: leg-out), unwinding (rejected, or the
  second leg overfilled);
- hedging → active (matched), unwinding (hedges exhausted, or overfilled);
- unwinding → active (the legs match and hold something), rejected (nothing held), stuck
  (unwinds exhausted);
- active → exit_passive (soft exit), exit_market (hard exit), unwinding (a late fill left
  the legs unmatched);
- active → resize_first (drifted beyond the band: the harder leg's IOC); resize_first →
  active (nothing executed, or no quote), resize_second (the other leg follows), unwinding
  (it could not be sent); resize_second → active (matched), unwinding (it fell short);
- exit_passive → active (nothing filled this round), exit_market (what is left);
- exit_market → closed (both legs flat), stuck (closes exhausted);
- stuck → exit_market (an exit requested from outside restarts the ladders).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, Protocol

from arbflow.model.errors import UndeclaredPhaseMove
from arbflow.model.execution import TradeStatus

Phase = Literal["first", "second", "hedging", "unwinding", "active", "exit_passive", "exit_market", "stuck",
                "closed", "rejected", "resize_first", "resize_second"]

ALLOWED: Final[Mapping[Phase, frozenset[Phase]]] = MappingProxyType({
    "first": frozenset({"second", "unwinding", "rejected"}),
    "second": frozenset({"hedging", "active", "unwinding"}),
    "hedging": frozenset({"active", "unwinding"}),
    "unwinding": frozenset({"active", "rejected", "stuck"}),
    "active": frozenset({"exit_passive", "exit_market", "unwinding", "resize_first"}),
    "resize_first": frozenset({"active", "resize_second", "unwinding"}),
    "resize_second": frozenset({"active", "unwinding"}),
    "exit_passive": frozenset({"active", "exit_market"}),
    "exit_market": frozenset({"closed", "stuck"}),
    "stuck": frozenset({"exit_market"}),
    "closed": frozenset(),
    "rejected": frozenset(),
})


class Phased(Protocol):
    """What `move` needs of a trade."""

    trade_id: str
    phase: Phase
    status: TradeStatus


def move(trade: Phased, to: Phase, status: TradeStatus | None = None) -> None:
    """Move `trade` to phase `to` (and to `status`, when given; else its status stays).
    Raises `UndeclaredPhaseMove` when `ALLOWED` has no such move; the trade is then left
    as it was."""
    if to not in ALLOWED[trade.phase]:
        raise UndeclaredPhaseMove(trade.trade_id, trade.phase, to)
    trade.phase = to
    if status is not None:
        trade.status = status
