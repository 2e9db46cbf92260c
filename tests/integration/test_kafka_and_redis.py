"""The Kafka layer and the Redis state sink against the real broker and redis-server."""

from decimal import Decimal

import pytest
import redis

from arbflow.connectors import kafka
from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.errors import DeliveryFailed
from arbflow.model.signals import BasisPoint
from arbflow.sinks.redis_client import connect
from arbflow.sinks.redis_state import _SET_IF_NEWER, basis_key, read_latest, write_latest

pytestmark = pytest.mark.integration


def test_configured_assets_get_their_own_partitions() -> None:
    partitioner = kafka.Partitioner(("BTC", "ETH", "SOL"), 4)
    assert [partitioner(k) for k in (b"BTC", b"ETH", b"SOL")] == [0, 1, 2]
    assert partitioner(None) == 0
    assert partitioner(b"DOGE") == partitioner(b"DOGE")  # stable for unconfigured keys
    assert kafka.Partitioner(("BTC", "ETH", "SOL"), 2)(b"SOL") == 0


def test_keyed_producer_writes_each_asset_to_its_partition_and_reads_back_exact_ranges(
        config: Config, kafka_bootstrap: str) -> None:
    topic = kafka.topic_name(config, "md.ticker")
    partitions = kafka.ensure_topics(kafka_bootstrap, [topic], 4, 10)
    assert partitions == {topic: 4}
    assert kafka.ensure_topics(kafka_bootstrap, [topic], 8, 10) == {topic: 4}  # idempotent, keeps its count
    producer = kafka.KeyedProducer(kafka_bootstrap, kafka.Partitioner(config.universe.assets, 4),
                                   delivery_timeout_ms=10_000, partitions=partitions)
    with producer:
        for i in range(30):
            producer.produce(topic, ("BTC", "ETH", "SOL")[i % 3], b'{"i":%d}' % i)
    delivered = producer.delivered
    assert delivered.counts == {topic: 30}
    assert delivered.ranges == {(topic, 0): (0, 9), (topic, 1): (0, 9), (topic, 2): (0, 9)}
    everything = list(kafka.read_topic(kafka_bootstrap, topic))
    assert sorted((m.partition, m.key) for m in everything) == sorted(
        [(0, b"BTC")] * 10 + [(1, b"ETH")] * 10 + [(2, b"SOL")] * 10)
    part = list(kafka.read_topic(kafka_bootstrap, topic, ranges={1: (3, 5)}))
    assert [(m.offset, m.value) for m in part] == [(3, b'{"i":10}'), (4, b'{"i":13}'), (5, b'{"i":16}')]


def test_a_produce_that_is_never_acknowledged_raises_instead_of_vanishing(config: Config, kafka_bootstrap: str) -> None:
    topic = kafka.topic_name(config, "md.trade")
    kafka.ensure_topics(kafka_bootstrap, [topic], 2, 10)
    # SOL maps to partition 2, which this 2-partition topic does not have.
    producer = kafka.KeyedProducer(kafka_bootstrap, kafka.Partitioner(("BTC", "ETH", "SOL"), 3),
                                   delivery_timeout_ms=1_500, partitions={topic: 3})
    with pytest.raises(DeliveryFailed, match="failed"):  # at once when the metadata is known, else at the flush
        producer.produce(topic, "SOL", b"{}")
        producer.flush()


def _point(ts: int, basis_bps: str) -> BasisPoint:
    bps = Decimal(basis_bps)
    return BasisPoint(asset="BTC", venue="binance", spot_symbol="BTC/USDT", perp_symbol="BTC/USDT:USDT",
                      spot_mid=Decimal("60000"), perp_mid=Decimal("60000") * (1 + bps / 10_000),
                      basis=bps / 10_000, basis_bps=bps, ts=ts)


def test_redis_keeps_the_newest_basis_even_when_an_older_one_arrives_later(config: Config, redis_url: str) -> None:
    client = connect(redis_url, 2)
    script = client.register_script(_SET_IF_NEWER)
    prefix = config.redis.key_prefix
    assert write_latest(client, script, prefix, [_point(1_723_161_255_000, "-3"), _point(1_723_161_255_002, "-4"),
                                                 _point(1_723_161_255_001, "-5")]) == 1
    assert write_latest(client, script, prefix, [_point(1_723_161_254_000, "-9")]) == 0  # older: ignored
    assert write_latest(client, script, prefix, [_point(1_723_161_255_002, "-4")]) == 1  # re-emitted: same value
    stored = client.hgetall(basis_key(prefix, "BTC", "binance"))
    assert stored[b"ts"] == b"1723161255002"
    assert codec.decode(BasisPoint, stored[b"record"], source="t") == _point(1_723_161_255_002, "-4")
    assert read_latest(client, prefix) == [_point(1_723_161_255_002, "-4")]
    client.close()


def test_an_unreachable_redis_fails_fast_with_our_error() -> None:
    from arbflow.connectors.infra.process import free_port
    from arbflow.model.errors import ServiceUnavailable

    with pytest.raises(ServiceUnavailable, match="did not answer within 1 s"):
        connect(f"redis://127.0.0.1:{free_port()}/0", 1.0)
    assert redis  # the client library is the one in use
