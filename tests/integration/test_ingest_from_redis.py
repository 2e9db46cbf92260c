"""`arbflow ingest --from-redis`: collector-shaped ticker values (recorded payloads,
fixtures/redis_compat) in a real redis-server → the compatibility source → the session's
Tansu broker, read back in (partition, offset) order and compared by value."""

import dataclasses
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from confluent_kafka import KafkaError, TopicPartition

from arbflow.connectors import kafka
from arbflow.connectors.feeds import compat_tickers
from arbflow.connectors.feeds.redis_compat import NOT_SELECTED, CompatSettings, RedisTickerSource, TimestampedEmitter
from arbflow.connectors.feeds.runner import kafka_producer
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.market import Ticker
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe
from tests.integration.ingest_support import REPO, arbflow_cli

pytestmark = pytest.mark.integration

FIXTURE = REPO / "fixtures" / "redis_compat" / "tickers.json"
RECORDED = {entry["key"]: entry for entry in json.loads(FIXTURE.read_text())}
CLOCK_MS = 1_723_161_300_000
D = Decimal


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    ts: int


def read_all(bootstrap: str, topic: str, timeout_s: float = 10.0) -> list[Read]:
    """Every message of `topic` with its Kafka timestamp, in (partition, offset) order."""
    client = kafka.consumer(bootstrap, eof=True)
    out: list[Read] = []
    try:
        metadata = client.list_topics(topic, timeout=timeout_s).topics[topic]
        parts = sorted(metadata.partitions)
        client.assign([TopicPartition(topic, p, 0) for p in parts])
        pending, deadline = set(parts), time.monotonic() + timeout_s
        while pending:
            assert time.monotonic() < deadline, f"{topic}: partitions {pending} never reached their end"
            for message in client.consume(1000, 0.05):
                error = message.error()
                if error is not None:
                    assert error.code() == KafkaError._PARTITION_EOF, error.str()
                    pending.discard(message.partition())
                    continue
                out.append(Read(message.partition(), message.offset(), message.key(), message.value(),
                                message.timestamp()[1]))
    finally:
        client.close()
    return sorted(out, key=lambda r: (r.partition, r.offset))


def store(client: redis.Redis, key: str, value: Any, kind: str) -> None:
    if kind == "hash":
        client.delete(key)
        client.hset(key, mapping=value)
    else:
        client.set(key, value)


def seed(client: redis.Redis, prefix: str, index: int = 0) -> None:
    for key, entry in RECORDED.items():
        if index < len(entry["values"]):
            store(client, prefix + key, entry["values"][index], entry["type"])


def perp(venue: str, symbol: str, ts_local: int, **fields: Any) -> Ticker:
    return Ticker(venue=venue, symbol=symbol, market="perp", ts_local=ts_local, **fields)


def expected(ts0: int, ts2: int) -> dict[tuple[str, str], list[Ticker]]:
    """Hand-read from fixtures/redis_compat/tickers.json: the first values at `ts0`, the
    second values (Binance `A` 2.510 → 2.504, OKX `last` 30236 → 30243.5, `ts`) at `ts2`."""
    binance = perp("binance", "BTC/USDT:USDT", ts0, bid=D("61800.20"), ask=D("61800.30"), bid_qty=D("2.507"),
                   ask_qty=D("2.510"), ts_exchange=1723161256313)
    okx = perp("okx", "BTC/USDT:USDT", ts0, bid=D("30228.6"), ask=D("30228.7"), bid_qty=D("0.0023393"),
               ask_qty=D("0.0155896972"), last=D("30236"), ts_exchange=1652459224956)
    return {
        ("binance", "BTC/USDT:USDT"): [binance, dataclasses.replace(binance, ask_qty=D("2.504"),
                                                                    ts_exchange=1723161256322, ts_local=ts2)],
        ("okx", "BTC/USDT:USDT"): [okx, dataclasses.replace(okx, last=D("30243.5"), ts_exchange=1652459226124,
                                                            ts_local=ts2)],
        ("bybit", "BTC/USDT:USDT"): [perp("bybit", "BTC/USDT:USDT", ts0, bid=D("17215.50"), ask=D("17216.00"),
                                          bid_qty=D("84.489"), ask_qty=D("83.020"), last=D("17216.00"),
                                          mark=D("17217.33"), index=D("17227.36"), ts_exchange=1673272861686)],
        ("gate", "PHB/USDT:USDT"): [perp("gate", "PHB/USDT:USDT", ts0, bid=D("0.7379"), ask=D("0.739"),
                                         bid_qty=D("814"), ask_qty=D("677"), ts_exchange=1684930165621)],
        ("hyperliquid", "BTC/USDC:USDC"): [perp("hyperliquid", "BTC/USDC:USDC", ts0, bid=D("105055.0"),
                                                ask=D("105056.0"), bid_qty=D("3.03622"), ask_qty=D("6.34472"),
                                                ts_exchange=1737918843542)],
    }


def by_instrument(reads: list[Read]) -> dict[tuple[str, str], list[Ticker]]:
    out: dict[tuple[str, str], list[Ticker]] = {}
    for r in reads:
        ticker = codec.decode(Ticker, r.value, source="test")
        assert isinstance(ticker, Ticker), ticker
        assert r.key == ticker.symbol.split("/")[0].encode()  # keyed by base asset
        assert r.ts == ticker.ts_local  # Kafka message time = event time
        out.setdefault((ticker.venue, ticker.symbol), []).append(ticker)
    return out


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def test_poller_publishes_changed_values_exactly_dead_letters_bad_ones_and_ignores_unknown_keys(
        config: Config, client: redis.Redis, prefix: str) -> None:
    cfg = dataclasses.replace(config, universe=dataclasses.replace(
        config.universe, assets=(*config.universe.assets, "PHB", "DASH")))
    seed(client, prefix)
    client.set(prefix + "bybit:linear:tickers:ETHUSDT", b'{"bid1Price":"3200.5","bid1Size":')  # cut short
    client.set(prefix + "mexc:futures:tickers:BTCUSDT", RECORDED["binance:linear:tickers:BTCUSDT"]["values"][0])
    client.set(prefix + "okx:swap:tickers:DOGE-USDT-SWAP", b'{"bidPx":"0.1"}')
    client.set(prefix + "binance:linear:tickers:XRPUSDT", b'{"b":"0.5"}')  # XRP: not a universe asset
    client.rpush(prefix + "kucoin:futures:tickers:XBTUSDTM", b"a list")
    producer = kafka_producer(cfg, cfg.kafka.bootstrap or "")
    emitter = TimestampedEmitter(producer, cfg.kafka.topic_prefix)
    ticks = itertools.count(CLOCK_MS, 1000)
    source = RedisTickerSource(client, venues=compat_tickers.COMPAT_VENUES, assets=(),
                               universe=Universe.from_config(cfg), emit=emitter, clock=lambda: next(ticks),
                               settings=CompatSettings(key_prefix=prefix),
                               contract_sizes={**compat_tickers.CONTRACT_SIZES, "gate": {"PHB_USDT": D("1")}})
    source.discover()
    assert source.poll() == 7  # 5 tickers + 2 dead letters
    assert source.poll() == 0  # nothing changed: nothing republished
    seed(client, prefix, index=1)
    assert source.poll() == 2  # the second Binance and OKX values
    producer.flush()

    reads = read_all(cfg.kafka.bootstrap or "", kafka.topic_name(cfg, topics.MD_TICKER))
    assert by_instrument(reads) == expected(CLOCK_MS, CLOCK_MS + 2000)
    dead = {codec.decode(Rejected, r.value, source="t").source: (codec.decode(Rejected, r.value, source="t"), r)
            for r in read_all(cfg.kafka.bootstrap or "", kafka.topic_name(cfg, topics.dlq_topic(topics.MD_TICKER)))}
    cut, cut_read = dead[f"redis:{prefix}bybit:linear:tickers:ETHUSDT"]
    assert (cut.reason, cut.raw, cut.ts, cut_read.key, cut_read.ts) == (
        reasons.MALFORMED_JSON, '{"bid1Price":"3200.5","bid1Size":', CLOCK_MS, b"ETH", CLOCK_MS)
    bitget, _ = dead[f"redis:{prefix}bitget:usdt:tickers:DASHUSDT"]
    assert (bitget.reason, bitget.detail) == (reasons.MISSING_FIELD, "bid_qty: none of bidSz, bestBidSize")
    assert bitget.raw == RECORDED["bitget:usdt:tickers:DASHUSDT"]["values"][0]
    assert len(dead) == 2
    assert {reason: sorted(keys) for reason, keys in source.ignored.items()} == {
        compat_tickers.UNKNOWN_LAYOUT: [prefix + "mexc:futures:tickers:BTCUSDT"],
        compat_tickers.NO_CONTRACT_SIZE: [prefix + "okx:swap:tickers:DOGE-USDT-SWAP"],
        NOT_SELECTED: [prefix + "binance:linear:tickers:XRPUSDT"],
        "UNSUPPORTED_TYPE": [prefix + "kucoin:futures:tickers:XBTUSDTM"]}
    counts = {venue: (c.keys, c.records, c.unchanged, c.rejected) for venue, c in source.counts.items()}
    assert counts == {"binance": (1, 2, 1, 0), "bybit": (2, 1, 4, 1), "kucoin": (0, 0, 0, 0), "okx": (1, 2, 1, 0),
                      "bitget": (1, 0, 2, 1), "gate": (1, 1, 2, 0), "hyperliquid": (1, 1, 2, 0),
                      "paradex": (0, 0, 0, 0)}


def test_a_deleted_key_stops_being_read_and_a_venue_filter_applies(config: Config, client: redis.Redis,
                                                                  prefix: str) -> None:
    seed(client, prefix)
    producer = kafka_producer(config, config.kafka.bootstrap or "")
    emitter = TimestampedEmitter(producer, config.kafka.topic_prefix)
    source = RedisTickerSource(client, venues=["binance", "okx"], assets=["BTC"],
                               universe=Universe.from_config(config), emit=emitter, clock=lambda: CLOCK_MS,
                               settings=CompatSettings(key_prefix=prefix))
    source.discover()
    assert source.poll() == 2
    client.delete(prefix + "okx:swap:tickers:BTC-USDT-SWAP")
    assert source.poll() == 0
    assert (source.counts["okx"].keys, source.counts["binance"].keys) == (0, 1)
    producer.flush()
    got = by_instrument(read_all(config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_TICKER)))
    assert sorted(got) == [("binance", "BTC/USDT:USDT"), ("okx", "BTC/USDT:USDT")]


def _published(stdout: str) -> dict[str, int]:
    return {line.split()[0]: int(line.split()[1].replace(",", "")) for line in stdout.splitlines()
            if line.startswith(("md.", "dlq."))}


def test_cli_from_redis_publishes_once_per_value_reports_stale_keys_and_exits_cleanly(
        config: Config, client: redis.Redis, prefix: str, redis_url: str) -> None:
    seed(client, prefix)
    client.set(prefix + "bybit:linear:tickers:ETHUSDT", b"not json")
    client.set(prefix + "mexc:futures:tickers:BTCUSDT", b"{}")
    started = time.time_ns() // 1_000_000
    result = arbflow_cli(["ingest", "--from-redis", redis_url, "--key-prefix", prefix, "--poll", "0.1",
                          "--stale-after", "1", "--duration", "3", "--status-every", "1"],
                         env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or "",
                              "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix})
    ended = time.time_ns() // 1_000_000
    assert result.returncode == 0, result.stderr
    reads = read_all(config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_TICKER))
    got = by_instrument(reads)
    # ~30 polls, one record per value: PHB (gate) and DASH (bitget) are outside the default universe
    want = {k: v[:1] for k, v in expected(0, 0).items() if k[0] not in ("gate",)}
    assert {k: [dataclasses.replace(t, ts_local=0) for t in v] for k, v in got.items()} == want
    assert all(started <= t.ts_local <= ended for v in got.values() for t in v)
    dead = [codec.decode(Rejected, r.value, source="t") for r in read_all(
        config.kafka.bootstrap or "", kafka.topic_name(config, topics.dlq_topic(topics.MD_TICKER)))]
    assert [(d.reason, d.source, d.raw) for d in dead] == [
        (reasons.MALFORMED_JSON, f"redis:{prefix}bybit:linear:tickers:ETHUSDT", "not json")]
    assert _published(result.stdout) == {topics.MD_TICKER: 4, topics.dlq_topic(topics.MD_TICKER): 1}
    assert "keys ignored: NOT_SELECTED 1, NO_CONTRACT_SIZE 1, UNKNOWN_LAYOUT 1" in result.stderr
    assert re.search(r"│ binance\s+│\s+1 │\s+1 │\s+[1-9]\d* │\s+0 │ 1: " + re.escape(prefix), result.stderr)
    assert re.search(r"│ paradex\s+│\s+0 │\s+0 │\s+0 │\s+0 │ no keys", result.stderr)


def test_sigterm_stops_the_redis_source_after_flushing_kafka(config: Config, client: redis.Redis, prefix: str,
                                                             redis_url: str) -> None:
    seed(client, prefix)
    process = subprocess.Popen(
        [sys.executable, "-m", "arbflow", "ingest", "--from-redis", redis_url, "--key-prefix", prefix,
         "--venues", "binance,okx", "--poll", "0.05"], cwd=REPO, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env={**os.environ, "COLUMNS": "200", "KAFKA_BOOTSTRAP": config.kafka.bootstrap or "",
                                     "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix})
    try:
        deadline = time.monotonic() + 30
        second = False
        while process.poll() is None and time.monotonic() < deadline:
            try:
                n = len(read_all(config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_TICKER), 2))
            except (KeyError, AssertionError):
                n = 0
            if n >= 2 and not second:
                seed(client, prefix, index=1)  # changes while running: published before the stop
                second = True
            if n >= 4:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    in_kafka = len(read_all(config.kafka.bootstrap or "", kafka.topic_name(config, topics.MD_TICKER)))
    assert _published(stdout)[topics.MD_TICKER] == in_kafka == 4


def test_from_redis_refuses_ccxt_only_options_and_unknown_venues(config: Config, redis_url: str) -> None:
    env = {"KAFKA_BOOTSTRAP": config.kafka.bootstrap or "", "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix}
    refused = arbflow_cli(["ingest", "--from-redis", redis_url, "--streams", "book"], env=env)
    assert refused.returncode == 2 and "--streams cannot be used with --from-redis" in refused.stderr
    unknown = arbflow_cli(["ingest", "--from-redis", redis_url, "--venues", "kukoin"], env=env)
    assert unknown.returncode == 2 and "unknown venue 'kukoin'; closest: kucoin" in unknown.stderr

