"""Redis restarts (issue 9 faults): the flow's writer waits for Redis to come back instead of
dying, and `arbflow rebuild-redis` puts the latest values back from Kafka after a restart
without persistence emptied it."""

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from arbflow.connectors.infra import process, redis_server
from arbflow.flows.replay import run_replay
from arbflow.model.config import Config
from arbflow.model.signals import LatencyReading
from arbflow.sinks.redis_client import connect
from arbflow.sinks.redis_feed import SignalWriter
from tests.markets import two_venue_market

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
LATEST = ("strategy:portfolio:state", "strategy:portfolio:state:BTC", "strategy:opportunities:latest")


def _snapshot(url: str, prefix: str) -> dict[str, object]:
    client = connect(url, 2)
    try:
        keys = sorted(k.decode() for k in client.scan_iter(match=f"{prefix}strategy:*"))
        values: dict[str, object] = {}
        for key in keys:
            kind = client.type(key).decode()
            if kind == "hash":
                values[key] = client.hgetall(key)
            elif kind == "zset":
                values[key] = client.zrange(key, 0, -1, withscores=True)
            elif kind == "string" and client.ttl(key) < 0:  # the 60 s snapshots are not rebuilt
                values[key] = client.get(key)
        return values
    finally:
        client.close()


def test_a_restarted_empty_redis_is_waited_for_and_rebuilt_from_kafka(config: Config, tmp_path: Path) -> None:
    state = tmp_path / "redis"
    state.mkdir()
    port = process.free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis_server.start(state, port, timeout_s=30)
    try:
        cfg = replace(config, redis=replace(config.redis, url=url),
                      scanner=replace(config.scanner, min_score=0))
        run_replay(cfg, [two_venue_market(tmp_path / "market.jsonl")])
        before = _snapshot(url, cfg.redis.key_prefix)
        assert all(f"{cfg.redis.key_prefix}{key}" in before for key in LATEST)

        # Redis goes away mid-run and comes back empty 1 s later: the write waits, then lands
        writer = SignalWriter(connect(url, 2), cfg.redis.key_prefix, retry_s=20)  # the flow's, connected
        process.stop(state, redis_server.NAME)
        restarter = threading.Timer(1.0, lambda: redis_server.start(state, port, timeout_s=30))
        restarter.start()
        reading = LatencyReading(venue="okx", raw_mean_ms=3.0, corrected_mean_ms=3.0, offset_ms=0.0,
                                 offset_source="min", samples=5, stale=False, ts=1_723_165_300_000)
        started = time.monotonic()
        writer.write([reading])
        restarter.join()
        assert time.monotonic() - started >= 0.9
        assert set(_snapshot(url, cfg.redis.key_prefix)) == {f"{cfg.redis.key_prefix}strategy:latency:okx"}

        env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
        env |= {"KAFKA_BOOTSTRAP": cfg.kafka.bootstrap or "", "REDIS_URL": url,
                "ARBFLOW_KAFKA__TOPIC_PREFIX": cfg.kafka.topic_prefix,
                "ARBFLOW_REDIS__KEY_PREFIX": cfg.redis.key_prefix}
        result = subprocess.run([ARBFLOW, "rebuild-redis"], env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert result.returncode == 0 and "rewrote Redis from Kafka" in result.stderr, result.stderr
        after = _snapshot(url, cfg.redis.key_prefix)
        after.pop(f"{cfg.redis.key_prefix}strategy:latency:okx")
        assert after == before
    finally:
        process.stop(state, redis_server.NAME)
