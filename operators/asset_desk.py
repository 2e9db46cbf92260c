"""One asset's desk: the signal state and the execution state side by side, updated by one
function per market-data record — the per-asset step of the trading dataflow.

Why per asset: every input of a trade on BTC (its quotes, trades, funding, the scanner's
verdicts) is keyed by BTC, so keeping execution in the same keyed step makes a replay a
pure function of the data (no cross-partition ordering to reconcile) and lets the flow
scale out by asset (issue 9). The price: capital is split across assets — each desk
trades its share of the starting capital (`DeskConfig.capital`) — and the portfolio view
is the sum of the desks' ledgers.

Order of work for a record: the signal step first (quotes, basis, funding, the scan),
then the execution step sees the record itself and, after it, every accepted
opportunity the scan just produced; a basis-at-risk stop turning on or off on a venue is
passed to execution as it happens.

`ClockTick`s (stream time without data: timeouts fire on a quiet book) and `VenueEvent`s
(a live venue's answers) go to execution only; without trading they are ignored.
"""

from dataclasses import dataclass, replace
from typing import Any

from arbflow.model.desk_config import DeskConfig
from arbflow.model.execution import VenueEvent
from arbflow.model.market import ClockTick, FundingRate, MarketTrade, OrderBook, Ticker
from arbflow.model.portfolio import PortfolioState
from arbflow.model.signals import Opportunity
from arbflow.operators.execution import engine as execution
from arbflow.operators.execution.state import ExecutionState
from arbflow.operators.signals import desk_signals as asset_signals
from arbflow.operators.signals.desk_signals import AssetSignals

_MARKET = (Ticker, OrderBook, MarketTrade, FundingRate)


@dataclass(slots=True)
class AssetDesk:
    """Mutable state of one asset's desk, owned by its step."""

    signals: AssetSignals | None = None
    execution: ExecutionState | None = None


def update(state: AssetDesk | None, record: Any, config: DeskConfig) -> tuple[AssetDesk, list[Any]]:
    """Fold one record through signals and (when the desk trades: `config.mode`) execution."""
    state = state or AssetDesk()
    if type(record) in (ClockTick, VenueEvent):
        return state, _execute_only(state, record, config)
    stops_before = _stops(state.signals)
    state.signals, out = asset_signals.update(state.signals, record, config)
    if config.mode is None or type(record) not in _MARKET:
        return state, out
    desk = state.execution = state.execution or execution.new_state(config)
    state.execution, produced = execution.update(desk, record, config)
    out += produced
    for venue, stop in _stops(state.signals).items():
        if stop != stops_before.get(venue, False):
            out += execution.on_basis_stop(desk, venue, record.symbol.split("/", 1)[0], stop, record.ts_local, config)
    for item in list(out):  # accepted ones may start entries; every one feeds the controller
        if type(item) is Opportunity and (item.accepted or config.allocation.desk_controller):
            out += execution.update(desk, item, config)[1]
    asset = record.symbol.split("/", 1)[0]
    return state, [replace(item, asset=asset) if type(item) is PortfolioState else item for item in out]


def _execute_only(state: AssetDesk, record: ClockTick | VenueEvent, config: DeskConfig) -> list[Any]:
    if config.mode is None:
        return []
    if type(record) is ClockTick and state.execution is None:
        return []  # nothing to time out on a desk that never traded
    desk = state.execution = state.execution or execution.new_state(config)
    state.execution, out = execution.update(desk, record, config)
    if type(record) is VenueEvent:
        asset: str | None = record.symbol.split("/", 1)[0]
    else:
        asset = state.signals.asset if state.signals is not None else None
    return [replace(item, asset=asset) if type(item) is PortfolioState else item for item in out]


def _stops(signals: AssetSignals | None) -> dict[str, bool]:
    return {} if signals is None else {venue: verdict.stop for venue, verdict in signals.verdicts.items()}
