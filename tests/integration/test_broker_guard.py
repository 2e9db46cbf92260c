"""The bound on the embedded broker (issue 18 item 6): Tansu keeps every record in memory
and cannot drop old ones, so a live `arbflow ingest` on it stops at `infra.broker_max_mib`
with one line. Each test starts its own broker, so other tests' topics do not count."""

import json
import os
import re
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from arbflow.connectors.infra import process, tansu
from arbflow.connectors.infra.broker_guard import BrokerGuard, BrokerOverCap, resident_mib
from tests.integration.ingest_support import arbflow_cli
from tests.stubs.hyperliquid import Hyperliquid
from tests.stubs.server import StubServer

pytestmark = pytest.mark.integration

RECORDS = 200_000  # × 200 bytes: Tansu grew ≈ 14 → 47 MiB for 150,000 such records
HEADROOM_MIB = 16


def _publish(bootstrap: str, topic: str, records: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    payload = b"x" * 200
    for i in range(records):
        while True:
            try:
                producer.produce(topic, payload, key=str(i % 8).encode(), partition=0)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0


def test_the_guard_stops_a_broker_that_keeps_every_record_past_its_cap(tmp_path: Path) -> None:
    port = process.free_port()
    owned = tansu.start(tmp_path, port, timeout_s=30)
    bootstrap = f"127.0.0.1:{port}"
    try:
        idle = resident_mib(owned.pid)
        assert idle is not None
        guard = BrokerGuard(owned.pid, int(idle) + HEADROOM_MIB, every_s=0.0)
        guard.check()  # idle: under the cap
        _publish(bootstrap, "md.ticker", RECORDS)
        reader = Consumer({"bootstrap.servers": bootstrap, "group.id": "guard-test"})
        low, high = reader.get_watermark_offsets(TopicPartition("md.ticker", 0), timeout=10)
        reader.close()
        assert low == 0 and high > RECORDS * 0.9  # nothing dropped (the end is a batch short on Tansu)
        with pytest.raises(BrokerOverCap, match=r"above infra\.broker_max_mib = \d+ MiB"):
            guard.check()
        assert guard.last_mib is not None and guard.last_mib > idle + HEADROOM_MIB
    finally:
        process.stop(tmp_path, tansu.NAME, grace_s=2.0)


def _ingest_on_own_embedded_broker(tmp_path: Path, cap_mib: int, duration_s: int) -> CompletedProcess[str]:
    """`arbflow ingest` of a Hyperliquid stub into a Tansu started in the test's own state
    directory, so arbflow sees it as its embedded broker (no KAFKA_BOOTSTRAP)."""
    state = tmp_path / "state"
    state.mkdir()
    tansu.start(state, process.free_port(), timeout_s=30)
    try:
        with StubServer(Hyperliquid(frames_per_channel=30)) as stub:
            endpoints = tmp_path / "endpoints.json"
            endpoints.write_text(json.dumps({"hyperliquid": stub.endpoints}))
            env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_") and k != "KAFKA_BOOTSTRAP"}
            return arbflow_cli(["ingest", "--venues", "hyperliquid", "--symbols", "BTC", "--duration",
                                str(duration_s), "--status-every", "1", "--metrics-port", "0", "--endpoints",
                                str(endpoints)],
                               env={**env, "ARBFLOW_INFRA__STATE_DIR": str(state),
                                    "ARBFLOW_INFRA__BROKER_MAX_MIB": str(cap_mib)})
    finally:
        process.stop(state, tansu.NAME, grace_s=2.0)


def test_ingest_under_the_cap_shows_the_broker_memory_and_exits_cleanly(tmp_path: Path) -> None:
    result = _ingest_on_own_embedded_broker(tmp_path, cap_mib=100_000, duration_s=3)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())  # the terminal wraps long lines
    assert "stops once it holds more than 100,000 MiB (infra.broker_max_mib)" in text
    assert re.search(r"embedded broker \d+ of 100,000 MiB \(infra\.broker_max_mib\)", text), text


def test_ingest_on_the_embedded_broker_stops_with_one_line_at_the_cap(tmp_path: Path) -> None:
    result = _ingest_on_own_embedded_broker(tmp_path, cap_mib=1, duration_s=30)
    assert result.returncode == 1, result.stderr
    assert "stops once it holds more than 1 MiB (infra.broker_max_mib)" in " ".join(result.stderr.split())
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("arbflow: the embedded broker holds ") and "above infra.broker_max_mib = 1 MiB" in last
    assert "Traceback" not in result.stderr
