"""The embedded broker restarts under a running flow (issue 9 faults). Its memory storage
loses every topic, so nothing can be resumed: `arbflow trade` must say so and exit 1 within
seconds — not wait forever for offsets that no longer exist."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arbflow.connectors.infra import process, tansu

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")


def test_a_broker_that_lost_its_topics_stops_the_flow_with_a_clear_message(redis_url: str, tmp_path: Path) -> None:
    port = process.free_port()
    tansu.start(tmp_path, port, timeout_s=30)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "REDIS_URL": redis_url, "ARBFLOW_RECOVERY__ENABLED": "false",
            "ARBFLOW_REDIS__KEY_PREFIX": "broker-restart."}
    log = tmp_path / "trade.log"
    try:
        with log.open("w") as sink:
            trader = subprocess.Popen([ARBFLOW, "trade", "--metrics-port", "0"], env=env, stdout=sink,
                                      stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "paper trading md.*" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # the flow tails its partitions
        process.stop(tmp_path, tansu.NAME, grace_s=1.0)
        tansu.start(tmp_path, port, timeout_s=30)  # same address, empty
        stopped = time.monotonic()
        trader.wait(timeout=60)
        text = log.read_text()
        assert trader.returncode == 1, text
        assert "is gone from the broker" in text and "arbflow infra up" in text, text
        assert time.monotonic() - stopped < 30
    finally:
        if trader.poll() is None:
            trader.kill()
            trader.wait()
        process.stop(tmp_path, tansu.NAME, grace_s=1.0)
