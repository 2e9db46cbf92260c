"""`arbflow ingest` end to end in a subprocess: four venue stubs (recorded payloads), one
of them dropping its connection mid-stream, the embedded broker; the command prints per
venue what flows, recovers, flushes and exits 0 at --duration — or on SIGTERM."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arbflow.connectors import kafka
from arbflow.connectors.infra.process import free_port
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.market import OrderBook
from tests.integration.ingest_support import REPO, arbflow_cli
from tests.stubs.binance import Binance
from tests.stubs.bybit import Bybit
from tests.stubs.hyperliquid import Hyperliquid
from tests.stubs.okx import Okx
from tests.stubs.server import Drop, StubServer

pytestmark = pytest.mark.integration


def test_ingest_streams_four_venues_through_a_mid_stream_drop_and_exits_cleanly(config: Config,
                                                                                tmp_path: Path) -> None:
    stubs = [StubServer(Binance(frames_per_channel=30), drops=[Drop("linear:depth", 8, abort=True)]),
             StubServer(Okx(frames_per_channel=30)), StubServer(Bybit(frames_per_channel=30)),
             StubServer(Hyperliquid(frames_per_channel=30))]
    endpoints = tmp_path / "endpoints.json"
    try:
        for stub in stubs:
            stub.__enter__()
        endpoints.write_text(json.dumps({stub.venue.name: stub.endpoints for stub in stubs}))
        result = arbflow_cli(["ingest", "--venues", "binance,okx,bybit,hyperliquid", "--symbols", "BTC",
                              "--duration", "4", "--status-every", "1", "--metrics-port", str(free_port()),
                              "--endpoints", str(endpoints)],
                             env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or "",
                                  "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix})
        binance_depth_connections = stubs[0].rest_hits["/fapi/v1/depth"]
    finally:
        for stub in stubs:
            stub.__exit__()
    assert result.returncode == 0, result.stderr
    for venue in ("binance", "okx", "bybit", "hyperliquid"):
        assert re.search(rf"│ {venue}\s+│ book\s+│\s+[1-9][\d,]* │ .* │ flowing", result.stderr), venue
    assert re.search(r"│ binance\s+│ book\s+│.*flowing \([1-9]\d* reconnects\)", result.stderr)
    assert "metrics on http://127.0.0.1:" in result.stderr  # the loopback unless [metrics] host says otherwise
    assert binance_depth_connections >= 2  # the book was rebuilt from a second snapshot
    books = [codec.decode(OrderBook, m.value, source="t") for m in kafka.read_topic(
        config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_BOOK))]
    assert {(b.venue, b.symbol) for b in books} == {
        ("binance", "BTC/USDT"), ("binance", "BTC/USDT:USDT"), ("okx", "BTC/USDT"), ("okx", "BTC/USDT:USDT"),
        ("bybit", "BTC/USDT"), ("bybit", "BTC/USDT:USDT"), ("hyperliquid", "BTC/USDC:USDC")}
    published = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in result.stdout.splitlines()
                 if line.startswith(("md.", "clock.", "dlq.", "risk."))}
    assert published[topics.MD_BOOK] == len(books) and published[topics.CLOCK_TICK] >= 30


def test_sigterm_stops_ingest_cleanly_after_flushing_kafka(config: Config, tmp_path: Path) -> None:
    with StubServer(Hyperliquid(frames_per_channel=30)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"hyperliquid": stub.endpoints}))
        process = subprocess.Popen(
            [sys.executable, "-m", "arbflow", "ingest", "--venues", "hyperliquid", "--symbols", "BTC",
             "--metrics-port", "0", "--endpoints", str(endpoints)], cwd=REPO, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "200", "KAFKA_BOOTSTRAP": config.kafka.bootstrap or "",
                 "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix})
        deadline = time.monotonic() + 30
        while len(stub.frames("l2Book:BTC")) < 30 and process.poll() is None:
            assert time.monotonic() < deadline, "no book frames served"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    published = {line.split()[0]: int(line.split()[1].replace(",", "")) for line in stdout.splitlines()
                 if line.startswith(("md.", "clock."))}
    in_kafka = len(list(kafka.read_topic(config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_BOOK))))
    assert published[topics.MD_BOOK] == in_kafka > 0  # every record acknowledged before the exit
