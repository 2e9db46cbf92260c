"""Where a tailing reader starts and in which order it reads, against the real embedded
broker: the end of a partition is where the next record goes (the broker's reported end is
not trusted), and partitions of several topics merge in event time whatever order the
fetches return them in."""

import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from arbflow.connectors import kafka
from arbflow.connectors.kafka_merge import MergedKafkaInput
from arbflow.model.config import Config

pytestmark = [pytest.mark.integration, pytest.mark.under_load]


def _produce_batches(bootstrap: str, topic: str, sizes: list[int], ts: int = 1_000) -> int:
    """Write `sizes` records per acknowledged batch (each flush ends a batch); returns the total."""
    producer = kafka.KeyedProducer(bootstrap, None, delivery_timeout_ms=10_000, partitions={topic: 1})
    total = 0
    for size in sizes:
        for _ in range(size):
            producer.produce(topic, b"BTC", b'{"n":%d}' % total, timestamp=ts + total)
            total += 1
        producer.flush()
    return total


def _reported_end(bootstrap: str, topic: str) -> int:
    client = Consumer({"bootstrap.servers": bootstrap, "group.id": "arbflow-test"})
    try:
        return int(client.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1])
    finally:
        client.close()


def test_the_end_of_a_partition_is_after_its_last_record_whatever_the_broker_reports(
        config: Config, kafka_bootstrap: str) -> None:
    topic, empty = kafka.topic_name(config, "md.funding"), kafka.topic_name(config, "md.oi")
    kafka.ensure_topics(kafka_bootstrap, [topic, empty], 1, 10)
    total = _produce_batches(kafka_bootstrap, topic, [1, 3, 2, 10])
    assert kafka.end_offsets(kafka_bootstrap, [(topic, 0), (empty, 0)]) == {(topic, 0): total, (empty, 0): 0}
    # why: the embedded broker reports the last batch's base offset + 1 (10 records short here)
    assert _reported_end(kafka_bootstrap, topic) <= total


def _read(source: MergedKafkaInput, count: int, *, batch: int | None = None) -> list[kafka.Consumed]:
    """Poll partition 0 of `source` until `count` messages came out (or 30 s passed)."""
    part = source.build_part("read", "0", None)
    out: list[kafka.Consumed] = []
    deadline = time.monotonic() + 30
    try:
        while len(out) < count and time.monotonic() < deadline:
            out += part.next_batch()
    finally:
        part.close()
    return out


def test_a_reader_started_at_the_end_reads_only_what_comes_after(config: Config, kafka_bootstrap: str) -> None:
    funding, ticker = kafka.topic_name(config, "md.funding"), kafka.topic_name(config, "md.ticker")
    kafka.ensure_topics(kafka_bootstrap, [funding, ticker], 1, 10)
    _produce_batches(kafka_bootstrap, funding, [5, 2], ts=9_000_000)  # an earlier run's records
    source = MergedKafkaInput(kafka_bootstrap, [ticker, funding], start="end")
    part = source.build_part("read", "0", None)
    try:
        assert part.snapshot() == {ticker: 0, funding: 7}
        _produce_batches(kafka_bootstrap, ticker, [3], ts=1_000)
        deadline, out = time.monotonic() + 30, []
        while len(out) < 3 and time.monotonic() < deadline:
            out += part.next_batch()
    finally:
        part.close()
    assert [(m.topic, m.ts) for m in out] == [(ticker, 1_000), (ticker, 1_001), (ticker, 1_002)]


def test_a_tailing_reader_merges_topics_in_event_time_not_in_fetch_order(config: Config,
                                                                          kafka_bootstrap: str) -> None:
    ticker, trade, funding = (kafka.topic_name(config, t) for t in ("md.ticker", "md.trade", "md.funding"))
    kafka.ensure_topics(kafka_bootstrap, [ticker, trade, funding], 1, 10)
    producer = kafka.KeyedProducer(kafka_bootstrap, None, delivery_timeout_ms=10_000,
                                   partitions={ticker: 1, trade: 1, funding: 1})
    with producer:
        for i in range(400):  # tickers every 10 ms of event time
            producer.produce(ticker, b"BTC", b"{}", timestamp=1_000 + 10 * i)
        for ts in (1_995, 2_995):  # trades between them
            producer.produce(trade, b"BTC", b"{}", timestamp=ts)
    # one message per poll: the fetches hand the topics over in whatever order they come
    merged = _read(MergedKafkaInput(kafka_bootstrap, [ticker, trade, funding], batch_size=1), 402)
    assert len(merged) == 402
    assert [m.ts for m in merged] == sorted(m.ts for m in merged)
    assert [m.ts for m in merged if m.topic == trade] == [1_995, 2_995]
