"""The trading engine over a recorded history in one process, for the study's report and its
sweeps: each asset's desk step (`operators.asset_desk.run_desk`, the very function the signal
flow's `run_desks` step folds per asset, with the paper venue) over the history's records in
the order the flow reads them from Kafka — event time, ties by input topic
(`signal_flow.INPUT_TOPICS`), then publishing order — with no broker and no Bytewax between.
The decisions, orders, fills and ledger are the flow's: `tests/flow/test_engine_equivalence.py`
runs months of bars through `arbflow backtest` (Kafka, Bytewax) and through `run_engine` and
finds the same trades and the same ledger.

What a replay adds around the desks — publishing, decoding, dead letters, Redis, Prometheus —
is not here: the records come in already validated (a bar conversion's tickers and funding).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from arbflow.flows.signal_flow import INPUT_TOPICS
from arbflow.model.config import Config
from arbflow.model.desk_config import desk_config
from arbflow.model.execution import Order, PairTrade
from arbflow.model.portfolio import PortfolioState
from arbflow.model.symbols import base_asset
from arbflow.operators.asset_desk import AssetDesk, run_desk

_TOPIC_ORDER = {topic: index for index, topic in enumerate(INPUT_TOPICS)}


@dataclass(slots=True)
class EngineRun:
    """The ledger records of a run, in the order the desks produced them: every
    `PortfolioState`, every `PairTrade` record and every `Order` state."""

    states: list[PortfolioState] = field(default_factory=list)
    trades: list[PairTrade] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)

    def final_orders(self) -> list[Order]:
        """The last state of each order (by client order id)."""
        return list({order.client_order_id: order for order in self.orders}.values())


def order_items(items: Iterable[tuple[int, str, Any]]) -> list[Any]:
    """The records of (event time ms, logical topic, record) items in the order the flow reads
    them from Kafka: event time, ties by input topic, then the items' order (publishing order)."""
    indexed = [(ts, _TOPIC_ORDER.get(topic, len(_TOPIC_ORDER)), n, record)
               for n, (ts, topic, record) in enumerate(items)]
    indexed.sort(key=lambda item: item[:3])
    return [record for _, _, _, record in indexed]


def run_engine(config: Config, items: Iterable[tuple[int, str, Any]]) -> EngineRun:
    """Run the paper desks of `config` over `items` — (event time ms, logical md.* topic,
    record), as a conversion yields them — and keep the ledger records. Items of an asset
    outside `universe.assets` are skipped, as the flow's decoder refuses them."""
    settings = desk_config(config, "paper")
    assets = set(config.universe.assets)
    desks: dict[str, AssetDesk] = {}
    run = EngineRun()
    for record in order_items(items):
        asset = base_asset(record.symbol)
        if asset not in assets:
            continue
        desks[asset], out = run_desk(desks.get(asset), record, settings)
        for produced in out:
            kind = type(produced)
            if kind is PortfolioState:
                run.states.append(produced)
            elif kind is PairTrade:
                run.trades.append(produced)
            elif kind is Order:
                run.orders.append(produced)
    return run
