"""Deterministic order ids (docs/architecture.md §3.7, §3.9): the logical ids our records carry and
the venue client ids derived from them.

Logical ids are built only from the input that caused them, never from a clock or a random
source, so replaying the same input yields the same ids:
- trade `{asset}_{ts}_{n}` — `ts` the opportunity's stream time, `n` the number of trades
  already started for that asset at that `ts` (almost always 0);
- entry legs `entry_{trade_id}_{leg}` (= `entry_{symbol}_{ts}_{attempt}_{leg}`);
- unwinds `unwind_{orig}_{k}`, hedges `hedge_{orig}_{k}` — `orig` the order whose exposure they
  remove, `k` the attempt of its retry ladder;
- exits `exit_{trade_id}_{leg}_{k}` — `k` counts the exit orders of that leg;
- resizes `resize_{trade_id}_{leg}_{k}` — `k` counts the trade's resizes (constant notional).

Venue client ids come from `venue_client_id` (the venues' rules live in
`arbflow.model.client_ids`, shared with the live gateway). The mapping logical → venue id is
recorded on every `exec.order` record.
"""

from typing import Literal

from arbflow.model.client_ids import is_valid, venue_client_id

__all__ = ["Leg", "entry_id", "exit_id", "hedge_id", "is_valid", "resize_id", "trade_id", "unwind_id",
           "venue_client_id"]

Leg = Literal["long", "short"]


def trade_id(asset: str, ts: int, n: int) -> str:
    """Id of the `n`-th trade started for `asset` at stream time `ts`."""
    return f"{asset}_{ts}_{n}"


def entry_id(trade: str, leg: Leg) -> str:
    """The entry order of one leg of a trade."""
    return f"entry_{trade}_{leg}"


def unwind_id(orig: str, attempt: int) -> str:
    """Attempt `attempt` (0 = first) to take back what order `orig` executed."""
    return f"unwind_{orig}_{attempt}"


def hedge_id(orig: str, attempt: int) -> str:
    """Attempt `attempt` to complete what the lagging order `orig` did not fill (a leg-out)."""
    return f"hedge_{orig}_{attempt}"


def exit_id(trade: str, leg: Leg, seq: int) -> str:
    """The `seq`-th exit order on one leg of a trade."""
    return f"exit_{trade}_{leg}_{seq}"


def resize_id(trade: str, leg: Leg, seq: int) -> str:
    """The order of one leg in the `seq`-th resize of a trade back to its target notional."""
    return f"resize_{trade}_{leg}_{seq}"
