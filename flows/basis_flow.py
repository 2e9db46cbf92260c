"""The first vertical slice: md.ticker from Kafka → decode and validate (rejects to
`dlq.md.ticker`) → spot–perp basis per asset → `signal.basis` on Kafka and the latest
value per asset and venue in Redis.

    read_tickers ─ decode_tickers ─┬─ key_by_asset ─ compute_basis ─┬─ write_redis
                                   │                                 └─ encode_basis ─┐
                                   └─ to_dead_letter ─────────────────────────────────┴─ write_kafka
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from connectors.kafka import Consumed, KeyedProducer, Partitioner, topic_name
from connectors.kafka_flow import KafkaInput, KafkaOutput, OutputItem, Start
from flows.stateful import fold
from model import codec, topics
from model.config import Config
from model.market import Ticker
from model.rejected import Rejected
from model.signals import BasisPoint
from model.symbols import base_asset
from model.validation import Universe, parse_record
from operators.basis import update_basis
from sinks.dead_letter import dead_letter
from sinks.redis_state import LatestBasisSink


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowEndpoints:
    """Where the flow reads and writes."""

    kafka_bootstrap: str
    redis_url: str


def _decoder(universe: Universe) -> Callable[[list[Consumed]], list[tuple[str, Ticker] | Rejected]]:
    """Batch decode: keyed tickers `(asset, ticker)` or `Rejected` (source = topic[p]@offset)."""

    def decode(messages: list[Consumed]) -> list[tuple[str, Ticker] | Rejected]:
        out: list[tuple[str, Ticker] | Rejected] = []
        for message in messages:
            record = parse_record(topics.MD_TICKER, message.value, universe)
            if type(record) is Rejected:
                out.append(replace(record, source=f"{message.topic}[{message.partition}]@{message.offset}"))
            else:
                out.append((base_asset(record.symbol), record))
        return out

    return decode


def _encode(points: list[tuple[str, BasisPoint]]) -> list[OutputItem]:
    return [(topics.SIGNAL_BASIS, asset, codec.encode(point)) for asset, point in points]


def basis_steps(messages: Stream[Consumed], universe: Universe) -> tuple[Stream[BasisPoint], Stream[OutputItem]]:
    """The transport-free core: Kafka messages in; basis points and Kafka output items
    (`signal.basis` records and `dlq.md.ticker` dead letters) out. Steps work on whole
    batches where they can (Bytewax's per-item call overhead dominates otherwise)."""
    decoded = op.flat_map_batch("decode_tickers", messages, _decoder(universe))
    split = op.branch("split_rejects", decoded, lambda r: type(r) is not Rejected)
    dead = op.map("to_dead_letter", split.falses, lambda r: dead_letter(topics.MD_TICKER, r))
    points = fold("compute_basis", split.trues, update_basis)
    encoded = op.flat_map_batch("encode_basis", points, _encode)
    basis = op.map("strip_keys", points, lambda kv: kv[1])
    return basis, op.merge("merge_outputs", encoded, dead)


def build_basis_flow(config: Config, endpoints: FlowEndpoints, *, start: Start = "beginning",
                     ranges: dict[tuple[str, int], tuple[int, int]] | None = None,
                     on_producer: Callable[[KeyedProducer], None] | None = None,
                     partitions: dict[str, int] | None = None) -> Dataflow:
    """The basis dataflow. `ranges` bounds the input to exact offsets (replay); without
    it the flow tails md.ticker from `start`. `on_producer` sees each Kafka producer the
    flow builds, so a caller can read back what was delivered."""
    flow = Dataflow("arbflow_basis")
    source = KafkaInput(endpoints.kafka_bootstrap, [topic_name(config, topics.MD_TICKER)], start=start,
                        ranges=ranges, timeout_s=config.kafka.connect_timeout_s)
    basis, outputs = basis_steps(op.input("read_tickers", flow, source), Universe.from_config(config))
    op.output("write_redis", basis, LatestBasisSink(endpoints.redis_url, key_prefix=config.redis.key_prefix,
                                                    timeout_s=config.redis.connect_timeout_s))
    partitioner = Partitioner(config.universe.assets, config.kafka.partitions)
    op.output("write_kafka", outputs,
              KafkaOutput(endpoints.kafka_bootstrap, topic_prefix=config.kafka.topic_prefix,
                          partitioner=partitioner, delivery_timeout_ms=config.kafka.delivery_timeout_ms,
                          partitions=partitions, on_build=on_producer))
    return flow
