"""A two-process `arbflow scan` cluster (`--process-id/--addresses`, as deploy/k8s/ runs it)
whose process 1 is killed: process 0 stops too, with one line naming what happened and
exit 1 — no traceback — so a supervisor (Kubernetes) restarts it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arbflow.connectors.infra.process import free_port
from arbflow.model.config import Config
from tests.markets import two_venue_market

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")


def _decoded(log: Path) -> bool:
    """Whether the status lines show a record read: the cluster formed (Bytewax starts the
    dataflow only once every process is connected)."""
    return any("records/s (" in line and "(0 in all)" not in line for line in log.read_text().splitlines())


def test_killing_one_process_of_a_cluster_stops_the_other_with_one_line(config: Config, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": config.kafka.bootstrap or "", "REDIS_URL": config.redis.url or "",
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix, "ARBFLOW_KAFKA__PARTITIONS": "4",
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix,
            "ARBFLOW_INFRA__STATE_DIR": str(tmp_path / "state")}
    addresses = ";".join(f"127.0.0.1:{free_port()}" for _ in range(2))
    logs = [tmp_path / f"process-{i}.log" for i in range(2)]
    processes = []
    for i, log in enumerate(logs):
        with log.open("w") as sink:
            processes.append(subprocess.Popen(
                [ARBFLOW, "scan", "--no-recovery", "--metrics-port", "0", "--status-every", "0.5",
                 "--process-id", str(i), "--addresses", addresses],
                env=env, stdout=subprocess.DEVNULL, stderr=sink, text=True))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all("scanning md.*" in log.read_text() for log in logs):
            assert all(p.poll() is None for p in processes), [log.read_text() for log in logs]
            time.sleep(0.2)
        published = subprocess.run([ARBFLOW, "replay", str(two_venue_market(tmp_path / "market.jsonl")),
                                    "--publish-only"], env=env, capture_output=True, text=True, timeout=120)
        assert published.returncode == 0, published.stderr
        while time.monotonic() < deadline and not any(_decoded(log) for log in logs):
            time.sleep(0.2)
        assert any(_decoded(log) for log in logs), [log.read_text() for log in logs]

        processes[1].send_signal(signal.SIGKILL)
        processes[1].wait(timeout=30)
        returncode = processes[0].wait(timeout=60)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = logs[0].read_text()
    assert returncode == 1, text
    assert "Traceback" not in text, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("arbflow: process 0 of the Bytewax cluster lost its peers"), text
