"""The trading flow of `arbflow replay`/`trade` with Bytewax recovery, run as its own process
so a test can SIGKILL it at a chosen point and start it again (tests/integration/test_crash_resume.py).

    python -m tests.integration.crash_driver SPEC.json

(Also used to run the same flow as a Bytewax cluster of several processes: SPEC's
`process_id`, `addresses` and `workers`.)

SPEC holds the config overrides (topic/key prefixes, bootstrap, Redis URL), the exact input
offset ranges, the recovery directory and `kill_after`: the process kills itself with
SIGKILL when that many input messages have reached the flow (0 = run to the end), or with
`"mid_entry"` right after a desk sent the first leg of an entry and before it sent the
second (the desk step itself dies). Only the kill steps are test-specific; the steps, sinks and recovery are
production code.
"""

import json
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig
from bytewax.run import cli_main

from arbflow.connectors.kafka import Partitioner, topic_name
from arbflow.connectors.kafka_flow import KafkaOutput
from arbflow.connectors.kafka_merge import MergedKafkaInput
from arbflow.flows import signal_flow
from arbflow.flows.signal_flow import INPUT_TOPICS, TRADING_INPUT_TOPICS, signal_steps
from arbflow.model.config import parse_config
from arbflow.model.execution import Order
from arbflow.sinks.redis_feed import SignalRedisSink


def _kill_between_legs(marker: Path) -> None:
    """Wrap the desks' step: once a desk has sent the first leg of an entry (an entry `Order`
    "new" for a trade with no other leg yet), die at its next record unless that record's
    outputs hold the second leg — inside the step, state changed and not yet snapshotted."""
    original = signal_flow._update_many
    legs: dict[str, set[str]] = {}
    armed: list[str] = []

    def update(state: Any, record: Any, **settings: Any) -> Any:
        if armed:
            marker.write_text(json.dumps(armed))
            os.kill(os.getpid(), signal.SIGKILL)
        state, out = original(state, record, **settings)
        for item in out or ():
            if type(item) is Order and item.status == "new" and item.client_order_id.startswith("entry_"):
                legs.setdefault(item.trade_id, set()).add(item.client_order_id)
        armed.extend(trade for trade, ids in legs.items() if len(ids) == 1 and trade not in armed)
        return state, out

    signal_flow._update_many = update  # signal_steps binds it when the flow is built


def build(spec: dict[str, Any]) -> Dataflow:
    config = parse_config(spec["config"], {})
    ranges = {(topic, int(p)): (span[0], span[1]) for topic, p, span in spec["ranges"]}
    names = [topic_name(config, t) for t in INPUT_TOPICS + TRADING_INPUT_TOPICS]
    seen = 0

    def maybe_die(_step: str, _message: object) -> None:
        nonlocal seen
        seen += 1
        time.sleep(spec.get("pace_s", 0.005))  # paced like a live feed, so epochs and writes interleave
        if seen == spec["kill_after"]:
            os.kill(os.getpid(), signal.SIGKILL)

    if spec["kill_after"] == "mid_entry":
        _kill_between_legs(Path(spec["marker"]))

    flow = Dataflow("arbflow_signals")
    source = MergedKafkaInput(config.kafka.bootstrap or "", names, ranges={k: v for k, v in ranges.items()
                                                                             if k[0] in names}, batch_size=1)
    messages = op.inspect("crash_point", op.input("read_market_data", flow, source), maybe_die)
    for_redis, outputs = signal_steps(messages, config, trade=True)
    op.output("write_redis", for_redis, SignalRedisSink(config.redis.url or "", key_prefix=config.redis.key_prefix,
                                                        timeout_s=3))
    op.output("write_kafka", outputs, KafkaOutput(config.kafka.bootstrap or "", topic_prefix=config.kafka.topic_prefix,
                                                   partitioner=Partitioner(config.universe.assets,
                                                                           config.kafka.partitions),
                                                   delivery_timeout_ms=10_000, partitions=spec["partitions"]))
    return flow


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    recovery = RecoveryConfig(spec["recovery_dir"]) if spec.get("recovery_dir") else None
    cluster = {"process_id": spec["process_id"], "addresses": spec["addresses"]} if spec.get("addresses") else {}
    cli_main(build(spec), workers_per_process=spec.get("workers", 1),
             epoch_interval=timedelta(milliseconds=spec.get("epoch_ms", 5)), recovery_config=recovery, **cluster)


if __name__ == "__main__":
    main()
