"""The portfolio ledger (docs/architecture.md §3.8): capital, open positions,
closed trades and PnL, exact in `Decimal` quote currency (USD).

Cash basis. Capital is reserved for a trade when its entry is decided (`reserve`), resized
to the executed notional once both legs are on (`resize`), and released at the end
(`close` / `release`). Fees are charged as each fill happens and funding as each settlement
happens (`book`); the trading (price) PnL of a trade is booked when it ends. So:

- `available + Σ open notional == starting_capital + realised_pnl` after every operation;
- `cumulative_pnl == Σ closed trade PnL`, a closed trade's PnL being its trading PnL +
  funding − fees (leg-out costs inside, and also summed in `leg_out_loss`);
- `realised_pnl == cumulative_pnl + Σ fees and funding already booked for open trades`.

A trade that traded nothing (refused, first leg never filled) is released, not closed; a
failed entry that was unwound is closed (it cost money). Arithmetic runs in the 34-digit
`MONEY` context; amounts fed in are exact decimals (fills, fees, funding) or cut to a fixed
step by the caller, so the identities hold exactly, not approximately. State is one mutable `Ledger`
owned by the execution step; every change is followed by a `PortfolioState` snapshot.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from arbflow.model.money import MONEY
from arbflow.model.portfolio import PortfolioState

_ZERO: Final = Decimal(0)
YEAR_MS: Final = 365 * 24 * 3_600_000
DEFAULT_STARTING_CAPITAL: Final = Decimal(20_000)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A trade's final PnL (USD) and its leg-out cost; `ts` stream time it ended."""

    trade_id: str
    pnl: Decimal
    leg_out_cost: Decimal
    ts: int


@dataclass(slots=True)
class Ledger:
    """Capital and PnL. `open` maps trade id → reserved notional (USD)."""

    starting_capital: Decimal
    available: Decimal
    realised_pnl: Decimal = _ZERO
    cumulative_pnl: Decimal = _ZERO
    open: dict[str, Decimal] = field(default_factory=dict)
    booked_open: dict[str, Decimal] = field(default_factory=dict)  # fees/funding booked per open trade
    closed: list[ClosedTrade] = field(default_factory=list)
    win_count: int = 0
    loss_count: int = 0
    leg_out_count: int = 0
    leg_out_loss: Decimal = _ZERO
    ts_first: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerMetrics:
    """docs/architecture.md §3.8 metrics at stream time `ts`; None where undefined (no trades, no time).

    `win_rate = wins / (wins + losses)`; `average_profit = cumulative_pnl / closed trades`;
    `utilisation = Σ open notional / starting capital`; `leg_out_loss_rate = leg_out_loss /
    cumulative_pnl` (by definition; None unless cumulative PnL > 0); `apr =
    (cumulative_pnl / starting_capital) × (365 days / elapsed stream time)`.
    """

    win_rate: Decimal | None
    average_profit: Decimal | None
    utilisation: Decimal
    leg_out_count: int
    leg_out_loss: Decimal
    leg_out_loss_rate: Decimal | None
    apr: Decimal | None
    elapsed_ms: int
    ts: int


def new_ledger(starting_capital: Decimal = DEFAULT_STARTING_CAPITAL) -> Ledger:
    """A ledger holding only its starting capital (USD)."""
    if starting_capital <= _ZERO:
        raise ValueError("starting capital must be > 0")
    return Ledger(starting_capital=starting_capital, available=starting_capital)


def observe_time(ledger: Ledger, ts: int) -> None:
    """Remember the first stream time seen (the start of the APR window)."""
    if ledger.ts_first is None:
        ledger.ts_first = ts


def reserve(ledger: Ledger, trade_id: str, notional: Decimal) -> None:
    """Set capital aside for a new trade; raises ValueError when it is not available."""
    if notional <= _ZERO or notional > ledger.available or trade_id in ledger.open:
        raise ValueError(f"cannot reserve {notional} for {trade_id}: available {ledger.available}")
    ledger.available = MONEY.subtract(ledger.available, notional)
    ledger.open[trade_id] = notional
    ledger.booked_open[trade_id] = _ZERO


def resize(ledger: Ledger, trade_id: str, notional: Decimal) -> None:
    """Change an open trade's reserved notional (to what actually executed)."""
    ledger.available = MONEY.subtract(ledger.available, MONEY.subtract(notional, ledger.open[trade_id]))
    ledger.open[trade_id] = notional


def book(ledger: Ledger, trade_id: str, amount: Decimal) -> None:
    """Book cash of an open trade: −fee paid, +funding received, −funding paid."""
    ledger.available = MONEY.add(ledger.available, amount)
    ledger.realised_pnl = MONEY.add(ledger.realised_pnl, amount)
    ledger.booked_open[trade_id] = MONEY.add(ledger.booked_open[trade_id], amount)


def leg_out(ledger: Ledger, cost_delta: Decimal, new_event: bool) -> None:
    """Count a leg-out event and/or add to the leg-out cost (already inside trade PnL)."""
    ledger.leg_out_count += 1 if new_event else 0
    ledger.leg_out_loss = MONEY.add(ledger.leg_out_loss, cost_delta)


def close(ledger: Ledger, trade_id: str, trading_pnl: Decimal, trade_pnl: Decimal, leg_out_cost: Decimal,
          ts: int) -> None:
    """End a trade that traded: release its capital, book its trading PnL; `trade_pnl` (trading
    + funding − fees) must equal `trading_pnl` + what was booked for it while open."""
    booked = ledger.booked_open.pop(trade_id)
    if trade_pnl != MONEY.add(trading_pnl, booked):
        raise ValueError(f"{trade_id}: trade PnL {trade_pnl} != trading {trading_pnl} + booked {booked}")
    ledger.available = MONEY.add(ledger.available, MONEY.add(ledger.open.pop(trade_id), trading_pnl))
    ledger.realised_pnl = MONEY.add(ledger.realised_pnl, trading_pnl)
    ledger.cumulative_pnl = MONEY.add(ledger.cumulative_pnl, trade_pnl)
    ledger.closed.append(ClosedTrade(trade_id=trade_id, pnl=trade_pnl, leg_out_cost=leg_out_cost, ts=ts))
    if trade_pnl > _ZERO:
        ledger.win_count += 1
    else:
        ledger.loss_count += 1


def release(ledger: Ledger, trade_id: str) -> None:
    """End a trade that never traded: its reservation goes back, nothing is closed."""
    booked = ledger.booked_open.pop(trade_id)
    if booked != _ZERO:
        raise ValueError(f"{trade_id} booked {booked} but is released as untraded")
    ledger.available = MONEY.add(ledger.available, ledger.open.pop(trade_id))


def _total(values: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for value in values:
        total = MONEY.add(total, value)
    return total


def open_notional(ledger: Ledger) -> Decimal:
    """Σ reserved notional of the open trades (USD)."""
    return _total(ledger.open.values())


def violations(ledger: Ledger) -> list[str]:
    """The ledger invariants that do not hold (empty when the books balance)."""
    found = []
    if MONEY.add(ledger.available, open_notional(ledger)) != MONEY.add(ledger.starting_capital, ledger.realised_pnl):
        found.append(f"available {ledger.available} + open {open_notional(ledger)} != starting "
                     f"{ledger.starting_capital} + realised {ledger.realised_pnl}")
    if ledger.cumulative_pnl != _total(c.pnl for c in ledger.closed):
        found.append(f"cumulative {ledger.cumulative_pnl} != Σ closed trade PnL")
    if ledger.realised_pnl != MONEY.add(ledger.cumulative_pnl, _total(ledger.booked_open.values())):
        found.append(f"realised {ledger.realised_pnl} != cumulative + booked on open trades")
    return found


def snapshot(ledger: Ledger, ts: int, unrealised_pnl: Decimal = _ZERO, margin_health: Decimal | None = None,
             liquidation_distance: Decimal | None = None) -> PortfolioState:
    """The `portfolio.state` record at stream time `ts` (`margin_health`: the lowest of the
    desk's venue accounts at the last risk check, None before one or without positions;
    `liquidation_distance`: the smallest price move, as a fraction, that takes one to 0)."""
    return PortfolioState(
        starting_capital=ledger.starting_capital, available=ledger.available, open_notional=open_notional(ledger),
        realised_pnl=ledger.realised_pnl, unrealised_pnl=unrealised_pnl, cumulative_pnl=ledger.cumulative_pnl,
        open_positions=len(ledger.open), closed_trades=len(ledger.closed), win_count=ledger.win_count,
        loss_count=ledger.loss_count, leg_out_count=ledger.leg_out_count, leg_out_loss=ledger.leg_out_loss,
        margin_health=margin_health, liquidation_distance=liquidation_distance, ts=ts)


def metrics(ledger: Ledger, ts: int) -> LedgerMetrics:
    """Win rate, average profit, utilisation, leg-out figures and APR at stream time `ts`."""
    decided = ledger.win_count + ledger.loss_count
    elapsed = 0 if ledger.ts_first is None else max(0, ts - ledger.ts_first)
    cumulative = ledger.cumulative_pnl
    return LedgerMetrics(
        win_rate=MONEY.divide(Decimal(ledger.win_count), Decimal(decided)) if decided else None,
        average_profit=MONEY.divide(cumulative, Decimal(len(ledger.closed))) if ledger.closed else None,
        utilisation=MONEY.divide(open_notional(ledger), ledger.starting_capital),
        leg_out_count=ledger.leg_out_count, leg_out_loss=ledger.leg_out_loss,
        leg_out_loss_rate=MONEY.divide(ledger.leg_out_loss, cumulative) if cumulative > _ZERO else None,
        apr=MONEY.divide(MONEY.multiply(cumulative, Decimal(YEAR_MS)),
                         MONEY.multiply(ledger.starting_capital, Decimal(elapsed))) if elapsed else None,
        elapsed_ms=elapsed, ts=ts)
