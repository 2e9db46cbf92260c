"""One asset's desk: its market state, its signal stage and (when it trades) its execution
stage, and `run_desk`, the per-asset step of the trading dataflow, which folds every record
through them in that order.

Why per asset: every input of a trade on BTC (its quotes, trades, funding, the scanner's
verdicts) is keyed by BTC, so keeping execution in the same keyed step makes a replay a
pure function of the data (no cross-partition ordering to reconcile) and lets the flow
scale out by asset (issue 9). The price: capital is split across assets — each desk
trades its share of the starting capital (`DeskConfig.capital`) — and the portfolio view
is the sum of the desks' ledgers.

A market record goes through the stages in order:
1. the market state takes it (quotes, marks, funding) — once, for both stages; a record
   too far behind its asset (LATE_RECORD) or with an implausible price (PRICE_IMPLAUSIBLE)
   is refused there and the signal stage skips it;
2. the signal stage: latency, basis, basis-risk verdicts, funding alerts, the scan;
3. the execution stage: the record itself, then the basis-at-risk stop the signal stage
   reports turned on or off, then every opportunity the scan produced (accepted ones may
   start entries; with a controller, every one feeds it).
Before the market state takes the record, the execution stage moves its stream time to
the record's (`engine.advance`): timeouts and funding settlements that fell due happen on
the market as it stood until then. With `signals.scan_on = "timestamp_complete"` (bar
backtests) a scan found due at T runs before all that, when the first record past T
arrives: the scan and its opportunities' execution at T, on the market of T complete.

`ClockTick`s (stream time without data: timeouts fire on a quiet book) and `VenueEvent`s
(a live venue's answers) go to execution only; without trading they are ignored.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig
from arbflow.model.execution import VenueEvent
from arbflow.model.market import ClockTick, FundingRate, MarketTrade, OrderBook, Ticker
from arbflow.model.portfolio import PortfolioState
from arbflow.model.signals import Opportunity
from arbflow.model.symbols import base_asset
from arbflow.operators import market_state
from arbflow.operators.execution import engine as execution
from arbflow.operators.execution.state import ExecutionState
from arbflow.operators.market_state import MarketState
from arbflow.operators.signals import desk_signals
from arbflow.operators.signals.desk_signals import AssetSignals, BasisStopChanged

_TRADED = (Ticker, OrderBook, MarketTrade, FundingRate)  # the market records execution folds in


@dataclass(slots=True)
class AssetDesk:
    """Mutable state of one asset's desk, owned by its step (snapshots pickle it whole, so
    the stages keep sharing one market state after a resume)."""

    market: MarketState = field(default_factory=MarketState)
    signals: AssetSignals = field(default_factory=AssetSignals)
    execution: ExecutionState | None = None  # from the first record it trades on


def run_desk(desk: AssetDesk | None, record: Any, config: DeskConfig) -> tuple[AssetDesk, list[Any]]:
    """Fold one record through the desk's stages (see the module docstring); return the desk
    and the records to publish, in stream order. With `config.mode` None it only signals."""
    desk = desk or AssetDesk()
    completed = _completed(desk, record, config) if desk_signals.pending(desk.signals) else []
    if type(record) in (ClockTick, VenueEvent):
        return desk, completed + _execution_only(desk, record, config)
    run = _advance(desk, record, config) if config.mode is not None else None
    refused = market_state.observe(desk.market, record, config.signals.late_tolerance_ms, config.plausibility)
    stop = None
    if refused is None:
        desk.signals, out, stop = desk_signals.update(desk.signals, desk.market, record, config)
    else:
        out = [refused]
    if run is None:
        return desk, completed + out if completed else out
    if refused is not None and refused.reason == reasons.PRICE_IMPLAUSIBLE:  # never a price to fill or exit at
        return desk, completed + _with_asset(out + execution.on_refused(run), base_asset(record.symbol))
    return desk, completed + _execute(run, record, out, stop)


def _completed(desk: AssetDesk, record: Any, config: DeskConfig) -> list[Any]:
    """`signals.scan_on = "timestamp_complete"`: what a timestamp this record is past left
    pending runs first, at that timestamp (`desk_signals.timestamp_completed`): its basis
    stops and its scan's opportunities reach the execution stage at that time too — before
    the record moves stream time on and touches the market."""
    ts = record.ts if type(record) in (ClockTick, VenueEvent) else record.ts_local
    scanned, stops = desk_signals.timestamp_completed(desk.signals, desk.market, ts, config)
    state = desk.execution
    if config.mode is None or state is None or not scanned:
        return scanned
    out = list(scanned)
    asset = desk.market.asset
    for stop in stops:
        out += execution.on_basis_stop(state, stop.venue, asset, stop.stop, state.now, config)
    if scan := [o for o in scanned if type(o) is Opportunity]:
        out += execution.on_scan(state, scan, config)
    for item in scanned:
        if type(item) is Opportunity and (item.accepted or config.allocation.desk_controller):
            out += execution.on_opportunity(state, item, config)
    return _with_asset(out, desk.market.asset or None)


def _advance(desk: AssetDesk, record: Any, config: DeskConfig) -> execution.Run | None:
    """The execution stage's stream time moves to the record's; None when it does not trade it."""
    if config.mode is None or type(record) not in _TRADED:
        return None
    if desk.execution is None:
        desk.execution = execution.new_state(config, desk.market)
    return execution.advance(desk.execution, record.ts_local, config)


def _execute(run: execution.Run, record: Any, signalled: list[Any], stop: BasisStopChanged | None) -> list[Any]:
    """The execution stage after the signal stage: the record, the stop, the opportunities."""
    state, config, asset = run.state, run.settings, base_asset(record.symbol)
    out = signalled + (execution.on_funding(run, record) if type(record) is FundingRate else
                       execution.on_market(run, record))
    if stop is not None:
        out += execution.on_basis_stop(state, stop.venue, asset, stop.stop, record.ts_local, config)
    if scan := [o for o in signalled if type(o) is Opportunity]:
        out += execution.on_scan(state, scan, config)
    for item in signalled:  # accepted ones may start entries; every one feeds the controller
        if type(item) is Opportunity and (item.accepted or config.allocation.desk_controller):
            out += execution.on_opportunity(state, item, config)
    return _with_asset(out, asset)


def _execution_only(desk: AssetDesk, record: ClockTick | VenueEvent, config: DeskConfig) -> list[Any]:
    if config.mode is None:
        return []
    if type(record) is ClockTick and desk.execution is None:
        return []  # nothing to time out on a desk that never traded
    if desk.execution is None:
        desk.execution = execution.new_state(config, desk.market)
    if isinstance(record, ClockTick):
        return _with_asset(execution.on_clock(desk.execution, record.ts, config), desk.market.asset or None)
    return _with_asset(execution.on_venue_event(desk.execution, record, config), base_asset(record.symbol))


def _with_asset(out: list[Any], asset: str | None) -> list[Any]:
    """Portfolio states name their desk's asset (the ledger is the desk's)."""
    return [replace(item, asset=asset) if type(item) is PortfolioState else item for item in out]
