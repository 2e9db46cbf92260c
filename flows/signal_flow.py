"""The signal dataflow (`arbflow scan`, and what `arbflow replay` runs): market data from
Kafka → decode and validate (rejects to `dlq.<topic>`) → one stateful step per base asset
(`operators.asset_signals`) → basis, latency, opportunities and alerts on Kafka, the
opportunity feed and latest values in Redis.

    read_market_data ─ decode_records ─┬─ scan_markets ─┬─ write_redis (basis, latency, opportunities)
                                       │                └─ encode_outputs ─┐
                                       └─ to_dead_letter ──────────────────┴─ write_kafka
"""

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.kafka import Consumed, KeyedProducer, Partitioner, topic_name
from connectors.kafka_flow import KafkaOutput, OutputItem, Start
from connectors.kafka_merge import MergedKafkaInput
from flows.stateful import fold
from model import codec, topics
from model.config import Config
from model.portfolio import Alert
from model.rejected import Rejected
from model.signals import BasisPoint, LatencyReading, Opportunity
from model.symbols import base_asset
from model.validation import Universe, parse_record
from operators.asset_signals import SignalSettings, update
from sinks.dead_letter import dead_letter
from sinks.metrics import count_records
from sinks.redis_feed import SignalRedisSink

INPUT_TOPICS = (topics.MD_TICKER, topics.MD_BOOK, topics.MD_TRADE, topics.MD_FUNDING, topics.MD_OI,
                topics.MD_LIQUIDATION)
OUTPUT_TOPIC = {BasisPoint: topics.SIGNAL_BASIS, LatencyReading: topics.SIGNAL_LATENCY,
                Opportunity: topics.ARB_OPPORTUNITY, Alert: topics.RISK_ALERT}


def settings_from(config: Config) -> SignalSettings:
    silent = config.signals.funding_silent_after_s
    return SignalSettings(scanner=config.scanner, venues=config.venues,
                          scan_interval_ms=config.signals.scan_interval_ms,
                          funding_silent_after_ms=silent * 1000 if silent else None,
                          late_tolerance_ms=config.signals.late_tolerance_ms)


def _decoder(universe: Universe, prefix: str) -> Callable[[list[Consumed]], list[Any]]:
    """Batch decode: `(asset, record)` or `(topic, Rejected)` with source topic[p]@offset."""

    def decode(messages: list[Consumed]) -> list[Any]:
        out: list[Any] = []
        for message in messages:
            topic = message.topic.removeprefix(prefix)
            record = parse_record(topic, message.value, universe)
            if type(record) is Rejected:
                out.append((topic, replace(record, source=f"{message.topic}[{message.partition}]@{message.offset}")))
            else:
                out.append((base_asset(record.symbol), record))
        count_records(item[1].market for item in out if type(item[1]) is not Rejected)
        return out

    return decode


def _encode(items: list[tuple[str, Any]]) -> list[OutputItem]:
    out: list[OutputItem] = []
    for asset, record in items:
        if type(record) is Rejected:  # LATE_RECORD from the step: `source` is its topic
            out.append(dead_letter(record.source, record, asset.encode()))
        else:
            out.append((OUTPUT_TOPIC[type(record)], asset, codec.encode(record)))
    return out


def signal_steps(messages: Stream[Consumed], config: Config) -> tuple[Stream[Any], Stream[OutputItem]]:
    """The transport-free core: messages in; Redis items and Kafka output items out."""
    decoded = op.flat_map_batch("decode_records", messages,
                                _decoder(Universe.from_config(config), config.kafka.topic_prefix))
    split = op.branch("split_rejects", decoded, lambda item: type(item[1]) is not Rejected)
    dead = op.map("to_dead_letter", split.falses, lambda item: dead_letter(item[0], item[1]))
    step = partial(_update_many, settings=settings_from(config))
    outputs = op.flat_map("flatten_outputs", fold("scan_markets", split.trues, step), lambda kv: kv[1])
    keyed = op.map("key_outputs", outputs, lambda record: (_asset(record), record))
    encoded = op.flat_map_batch("encode_outputs", keyed, _encode)
    for_redis = op.filter("redis_outputs", outputs, lambda r: type(r) not in (Alert, Rejected))
    return for_redis, op.merge("merge_outputs", encoded, dead)


def _update_many(state: Any, record: Any, *, settings: SignalSettings) -> tuple[Any, list[Any] | None]:
    state, out = update(state, record, settings)
    return state, out or None


def _asset(record: Any) -> str:
    return getattr(record, "asset", None) or getattr(record, "venue", None) or ""


def build_signal_flow(config: Config, kafka_bootstrap: str, redis_url: str, *, start: Start = "beginning",
                      ranges: dict[tuple[str, int], tuple[int, int]] | None = None,
                      on_producer: Callable[[KeyedProducer], None] | None = None,
                      partitions: dict[str, int] | None = None) -> Dataflow:
    """The signal dataflow over Kafka and Redis. `ranges` bounds the input to exact offsets
    (replay); without it the flow tails the md.* topics from `start`."""
    flow = Dataflow("arbflow_signals")
    names = [topic_name(config, t) for t in INPUT_TOPICS]
    if ranges is not None:
        ranges = {key: span for key, span in ranges.items() if key[0] in names}
    source = MergedKafkaInput(kafka_bootstrap, names, start=start, ranges=ranges,
                              timeout_s=config.kafka.connect_timeout_s)
    for_redis, outputs = signal_steps(op.input("read_market_data", flow, source), config)
    op.output("write_redis", for_redis, SignalRedisSink(redis_url, key_prefix=config.redis.key_prefix,
                                                        timeout_s=config.redis.connect_timeout_s,
                                                        top_n=config.scanner.top_n))
    op.output("write_kafka", outputs,
              KafkaOutput(kafka_bootstrap, topic_prefix=config.kafka.topic_prefix,
                          partitioner=Partitioner(config.universe.assets, config.kafka.partitions),
                          delivery_timeout_ms=config.kafka.delivery_timeout_ms, partitions=partitions,
                          on_build=on_producer))
    return flow
