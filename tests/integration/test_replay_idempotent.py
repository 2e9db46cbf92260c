"""Re-running `arbflow replay` leaves one copy of every record where a consumer reads it
(README "Re-running a replay"), as a user meets it, against the session's real broker and
redis-server: the replay is killed (-9) while it publishes, run again and killed while its
flow runs, run again to its end, and run once more. Then every topic, `arbflow record`'s
file and the Redis opportunity stream hold exactly what one clean run of the same files
(under another prefix) leaves — same records, same counts, nothing twice."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from confluent_kafka.admin import AdminClient

from arbflow.connectors import kafka
from arbflow.connectors.replay_runs import RUNS_TOPIC
from arbflow.model import topics
from arbflow.model.config import Config
from tests.conftest import slice_of_bundled

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
LINES = 40_000  # 76 s of the bundled capture: long enough to be killed in either phase
FUNDING = ('{"topic":"md.funding","venue":"binance","symbol":"BTC/USDT:USDT","market":"perp","rate":"0.0003",'
           '"interval_ms":28800000,"next_funding_time":1723161600000,"ts_local":1723161254000,"schema_version":1}')


def _env(kafka_bootstrap: str, redis_url: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    return env | {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url, "COLUMNS": "200",
                  "ARBFLOW_KAFKA__TOPIC_PREFIX": prefix, "ARBFLOW_REDIS__KEY_PREFIX": prefix,
                  "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-"),
                  # opportunities accepted (Redis stream entries, trades), the one funding record enough
                  "ARBFLOW_SCANNER__MIN_SCORE": "0", "ARBFLOW_SIGNALS__FUNDING_SILENT_AFTER_S": "0"}


def _arbflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([ARBFLOW, *args], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result


def _records(bootstrap: str, topic: str) -> int:
    """Records on `topic` now (0 while it does not exist)."""
    counts = kafka.partition_counts(bootstrap, [topic], 5.0)
    if topic not in counts:
        return 0
    return sum(kafka.end_offsets(bootstrap, [(topic, p) for p in range(counts[topic])], 10.0).values())


def _killed_when(env: dict[str, str], log: Path, done: Callable[[], bool], *args: str) -> None:
    """Start `arbflow replay ARGS`, wait until `done()` holds while it still runs, kill -9 it."""
    with log.open("w") as sink:
        replay = subprocess.Popen([ARBFLOW, "replay", *args], env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not done():
            assert replay.poll() is None, "the replay ended before it could be killed: " + log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
    finally:
        replay.send_signal(signal.SIGKILL)
        replay.wait(timeout=30)
    assert replay.returncode == -signal.SIGKILL


def _topics(bootstrap: str, prefix: str, other: str) -> dict[str, Counter[bytes]]:
    """Every record topic under `prefix` (not under `other`, not the manifests): logical name →
    the multiset of its values, the prefixes taken out of them (a dead letter names its topic)."""
    names = [t for t in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
             if t.startswith(prefix) and not t.startswith(other) and t != prefix + RUNS_TOPIC]
    found = {}
    for name in names:
        values = Counter(m.value.replace(other.encode(), b"").replace(prefix.encode(), b"")
                         for m in kafka.read_topic(bootstrap, name))
        if values:
            found[name.removeprefix(prefix)] = values
    return found


def _recorded(env: dict[str, str], out: Path) -> Counter[str]:
    _arbflow(env, "record", "--from-beginning", "--topics", "md.*,signal.*,arb.opportunity",
             "--idle-exit", "3", "--out", str(out))
    return Counter(out.read_text().splitlines())


def _streamed(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.xlen(f"{prefix}strategy:opportunities:stream"))
    finally:
        client.close()


def _stream(redis_url: str, prefix: str) -> Counter[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return Counter(fields[b"record"] for _, fields in
                       client.xrange(f"{prefix}strategy:opportunities:stream", "-", "+"))
    finally:
        client.close()


def test_a_killed_replay_run_again_leaves_exactly_what_one_clean_run_leaves(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    prefix = config.kafka.topic_prefix
    clean_prefix = prefix + "clean."
    replay = str(slice_of_bundled(tmp_path / "head.jsonl", LINES))
    funding = tmp_path / "funding.jsonl"
    funding.write_text(FUNDING + "\n")
    env, clean_env = _env(kafka_bootstrap, redis_url, prefix), _env(kafka_bootstrap, redis_url, clean_prefix)

    _arbflow(clean_env, "replay", replay, str(funding))
    clean = _topics(kafka_bootstrap, clean_prefix, "\0")
    basis = sum(clean[topics.SIGNAL_BASIS].values())
    assert sum(clean[topics.MD_TICKER].values()) == LINES and basis > 100 and clean.get(topics.EXEC_TRADE)
    assert _streamed(redis_url, clean_prefix) > 10

    # 1: killed while it publishes (paced, so it is still publishing)
    ticker = prefix + topics.MD_TICKER
    _killed_when(env, tmp_path / "first.log", lambda: _records(kafka_bootstrap, ticker) >= 2_000,
                 replay, str(funding), "--speed", "5")
    assert 2_000 <= _records(kafka_bootstrap, ticker) < LINES
    # 2: resumes publishing, then is killed while its flow runs, once it has added to the Redis stream
    basis_topic = prefix + topics.SIGNAL_BASIS
    _killed_when(env, tmp_path / "second.log",
                 lambda: _streamed(redis_url, prefix) > 0 and _records(kafka_bootstrap, basis_topic) > 0,
                 replay, str(funding))
    assert _records(kafka_bootstrap, ticker) == LINES  # nothing published twice, nothing missing
    assert 0 < _records(kafka_bootstrap, basis_topic) < basis  # killed mid-flow
    # 3: resumes the flow to its end
    resumed = _arbflow(env, "replay", replay, str(funding))
    assert "inputs already published by an earlier run" in resumed.stderr, resumed.stderr
    assert "the flow resumed: " in resumed.stderr, resumed.stderr
    assert _topics(kafka_bootstrap, prefix, clean_prefix) == clean
    # 4: a complete run again publishes nothing
    again = _arbflow(env, "replay", replay, str(funding), "--json")
    assert "nothing published again" in again.stdout, again.stdout
    assert _topics(kafka_bootstrap, prefix, clean_prefix) == clean

    assert _stream(redis_url, prefix) == _stream(redis_url, clean_prefix) != Counter()
    assert _recorded(env, tmp_path / "rerun.jsonl") == _recorded(clean_env, tmp_path / "clean.jsonl")


def test_publish_only_publishes_the_same_files_once_unless_again(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    env = _env(kafka_bootstrap, redis_url, config.kafka.topic_prefix)
    replay = str(slice_of_bundled(tmp_path / "head.jsonl", 500))
    ticker = config.kafka.topic_prefix + topics.MD_TICKER
    first = _arbflow(env, "replay", replay, "--publish-only")
    assert "inputs published (500 lines)" in first.stderr and _records(kafka_bootstrap, ticker) == 500
    second = _arbflow(env, "replay", replay, "--publish-only")
    assert "inputs already published by an earlier run: none of 500 lines published again" in second.stderr
    assert "published md.ticker 500" in second.stderr and _records(kafka_bootstrap, ticker) == 500
    again = _arbflow(env, "replay", replay, "--publish-only", "--again")
    assert "inputs published (500 lines)" in again.stderr and _records(kafka_bootstrap, ticker) == 1_000
