"""The signal and trading dataflow (`arbflow scan`, `arbflow replay`): market data from
Kafka → decode and validate (rejects to `dlq.<topic>`) → one stateful step per base asset
(`operators.asset_desk`: signals, and with trading on the paper/live execution desk) →
basis, latency, opportunities, alerts and the execution ledger (exec.*, portfolio.state)
on Kafka, the opportunity feed, trades and portfolio state in Redis.

    read_market_data ─ route_records ─ run_desks ─┬─ redis_outputs ─ write_redis (basis, latency, opportunities)
                                                  └─ encode_outputs ─ write_kafka

Every step costs per item it passes (Bytewax calls into Python, converts and routes each
one), so the stream carries one item per asset and batch from the reader on: the reader's
step decodes and groups in one pass, a message it refuses travels in its topic's group as
a `DeadLetter`, and each desk's outputs of a batch leave as one list, which the two sinks'
steps take apart.
"""

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream

from arbflow.connectors.kafka import Consumed, KeyedProducer, Partitioner, topic_name
from arbflow.connectors.kafka_flow import KafkaOutput, OutputItem
from arbflow.connectors.kafka_merge import MergedKafkaInput, StartAt
from arbflow.flows.stateful import fold
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.desk_config import DeskConfig, TradeMode, desk_capital, desk_config
from arbflow.model.execution import EntryDenied, Fill, Order, OrderIntent, PairTrade, VenueEvent
from arbflow.model.market import ClockTick, FundingRate
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.model.rejected import Rejected
from arbflow.model.replay_run import Seen
from arbflow.model.signals import BasisPoint, LatencyReading, Opportunity
from arbflow.model.symbols import base_asset
from arbflow.model.validation import Universe, parse_record
from arbflow.operators.asset_desk import run_desk
from arbflow.operators.signals import funding
from arbflow.sinks.dead_letter import dead_letter
from arbflow.sinks.metrics import (
    ENTRIES_DENIED,
    count_alerts,
    count_records,
    count_stage,
    observe_funding,
    observe_stream_time,
)
from arbflow.sinks.redis_feed import SignalRedisSink

_LOG = logging.getLogger("arbflow.alerts")
_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}
INPUT_TOPICS = (topics.MD_TICKER, topics.MD_BOOK, topics.MD_TRADE, topics.MD_FUNDING, topics.MD_OI,
                topics.MD_LIQUIDATION)
OUTPUT_TOPIC = {BasisPoint: topics.SIGNAL_BASIS, LatencyReading: topics.SIGNAL_LATENCY,
                Opportunity: topics.ARB_OPPORTUNITY, Alert: topics.RISK_ALERT, OrderIntent: topics.EXEC_INTENT,
                Order: topics.EXEC_ORDER, Fill: topics.EXEC_FILL, PairTrade: topics.EXEC_TRADE,
                PortfolioState: topics.PORTFOLIO_STATE}
TRADING_INPUT_TOPICS = (topics.CLOCK_TICK, topics.EXEC_VENUE)  # read too when the desks trade
_UNMARKETED = (Rejected, ClockTick, VenueEvent)
REDIS_TYPES = (BasisPoint, LatencyReading, Opportunity, PairTrade, PortfolioState)
# Messages per input batch of a bounded read (a replay: a backlog from its first offset). Each
# batch pays one Kafka flush (a round trip to the broker), one Redis pipeline and a Python call
# per step and key; 10,000 against the tailing default of 1,000 measured ≈ 10 % less CPU and
# ≈ 1/3 more records per second of wall time on the bundled capture (BENCHMARKS.md). A tailing
# read keeps 1,000: its batches are what arrived within a 1 ms poll, and tick latency counts there.
BOUNDED_BATCH = 10_000


# A message keyed by a universe asset crosses to its desk undecoded, as this tuple (a tuple of
# str, int and bytes pickles in C; a decoded record pickles through Python, ≈ 7 µs each way).
# The source text ("topic[partition]@offset") is made only for a message refused at the desk.
RawMessage = tuple[str, str, int, int, bytes, str]  # (topic without prefix, topic, partition, offset, value, key asset)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the desk could not decode, on its way to `dlq.<topic>` (Kafka key None,
    as when the reader refuses it)."""

    topic: str
    rejected: Rejected
    asset: str
    at_reader: bool = False  # refused by the reader (counted as it was then: not a desk output)


def _decoder(universe: Universe, prefix: str, assets: tuple[str, ...]) -> Callable[[list[Consumed]], list[Any]]:
    """The reader's batch step: decodes what the desks do not and groups the batch per key,
    `(key, [items…])` in arrival order (`flows.stateful.group_by_key`, done in the same pass).
    A message keyed by a universe asset (arbflow keys md.* and exec.venue by base asset) goes
    to that asset's desk as a `RawMessage`, decoded there (`_desk_decoder`), so what crosses
    Bytewax processes is bytes. Any other message is decoded here: to its asset's desk, or,
    refused, a `DeadLetter` (source topic[p]@offset) in the group of its topic; a `ClockTick`
    (one partition, no key) goes to every asset's desk, in place."""
    by_key = {asset.encode(): asset for asset in assets}

    def decode(messages: list[Consumed]) -> list[Any]:
        groups: dict[str, list[Any]] = {}
        decoded: list[Any] = []
        logical: dict[str, str] = {}  # physical topic → topic without the prefix
        clock = topics.CLOCK_TICK
        for physical, partition, offset, key, value, _ in messages:  # a Consumed is a named tuple
            topic = logical.get(physical)
            if topic is None:
                topic = logical[physical] = physical.removeprefix(prefix)
            asset = by_key.get(key) if key is not None else None
            if asset is not None and topic != clock:
                item: Any = (topic, physical, partition, offset, value, asset)
            else:
                record = parse_record(topic, value, universe)
                kind = type(record)
                if kind is ClockTick:
                    for each in assets:
                        _append(groups, each, record)
                    continue
                if kind is Rejected:
                    asset = topic
                    item = DeadLetter(topic, replace(record, source=f"{physical}[{partition}]@{offset}"), "",
                                      at_reader=True)
                else:
                    asset, item = base_asset(record.symbol), record
                    decoded.append(record)
            group = groups.get(asset)
            if group is None:
                groups[asset] = [item]
            else:
                group.append(item)
        _observe_decoded(decoded)
        count_stage("decode", len(messages))
        return list(groups.items())

    return decode


def _append(groups: dict[str, list[Any]], key: str, item: Any) -> None:
    group = groups.get(key)
    if group is None:
        groups[key] = [item]
    else:
        group.append(item)


def _observe_decoded(records: list[Any]) -> None:
    """Per-market record counts, the funding gauges and the stream time, wherever records are decoded."""
    count_records(r.market for r in records if type(r) not in _UNMARKETED)
    if records:  # the batch's last record stands for it (the gauge keeps the newest seen): O(1) per batch
        observe_stream_time(getattr(records[-1], "ts_local", 0))
    for record in records:
        if type(record) is FundingRate and record.interval_ms > 0:
            observe_funding(record.venue, record.symbol, funding.rate_8h(record.rate, record.interval_ms),
                            funding.apr(record.rate, record.interval_ms))


def _desk_decoder(universe: Universe) -> Callable[[list[Any]], list[Any]]:
    """The desk's first pass over its batch: each `RawMessage` becomes its record, or a
    `DeadLetter` (invalid, or a record of another asset than its key: KEY_MISMATCH);
    anything else (a tick, a record the reader decoded) passes as it is."""

    def decode(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        decoded: list[Any] = []
        for item in items:
            if type(item) is not tuple:
                out.append(item)
                continue
            topic, physical, partition, offset, value, asset = item
            record = parse_record(topic, value, universe)
            if type(record) is not Rejected and base_asset(record.symbol) == asset:
                decoded.append(record)
                out.append(record)
                continue
            source = f"{physical}[{partition}]@{offset}"
            if type(record) is Rejected:  # decoded again with its source: the same refusal, saying where
                record = parse_record(topic, value, universe, source=source)
            else:
                record = codec.reject(reasons.KEY_MISMATCH, f"keyed {asset!r}, but the record is of "
                                      f"{base_asset(record.symbol)!r}", source=source, raw=value)
            out.append(DeadLetter(topic, record, ""))
        _observe_decoded(decoded)
        return out

    return decode


def _encode(items: list[tuple[str, list[Any]]], quiet_alerts: bool = False,
            on_alert: Callable[[Alert], None] | None = None) -> list[OutputItem]:
    """The desks' output lists → Kafka output items, keyed by each record's asset (`_asset`).
    Entries the desks refused are counted by reason, not published. Alerts are logged at their
    severity, or at DEBUG with `quiet_alerts` (a bounded replay or backtest: they are in
    risk.alert and the report, and 18 months of bars raise thousands), and handed to
    `on_alert` (the alert notifier of `scan` and `trade`, sinks/alert_notify.py; it never blocks)."""
    out: list[OutputItem] = []
    desk = dead = 0
    for _, records in items:
        for record in records:
            kind = type(record)
            if kind is EntryDenied:
                ENTRIES_DENIED.labels(reason=record.reason).inc()
                continue
            if kind is DeadLetter:  # undecodable at the desk or at the reader: as if the reader refused it
                out.append(dead_letter(record.topic, record.rejected))
                if record.at_reader:
                    dead += 1
                    continue
            elif kind is Rejected:  # LATE_RECORD from the step: `source` is its topic
                out.append(dead_letter(record.source, record, _asset(record).encode()))
            else:
                if kind is Alert:
                    count_alerts((record.code,))
                    level = logging.DEBUG if quiet_alerts else _LEVELS.get(record.severity, logging.INFO)
                    _LOG.log(level, "alert %s [%s] %s %s: %s (value %s, threshold %s)",
                             record.code, record.severity, record.asset or "-", record.venue or "-", record.message,
                             record.value, record.threshold)
                    if on_alert is not None:
                        on_alert(record)
                out.append((OUTPUT_TOPIC[kind], _asset(record), codec.encode(record)))
            desk += 1
    count_stage("desk", desk)
    count_stage("kafka", len(out))
    return out


def _for_redis(items: list[tuple[str, list[Any]]]) -> list[Any]:
    """The records the Redis sink writes, from the desks' output lists, in order."""
    return [record for _, records in items for record in records if type(record) in REDIS_TYPES]


def signal_steps(messages: Stream[Consumed], config: Config, *, trade: bool = False, mode: TradeMode = "paper",
                 quiet_alerts: bool = False, on_alert: Callable[[Alert], None] | None = None
                 ) -> tuple[Stream[Any], Stream[OutputItem]]:
    """The transport-free core: messages in; Redis items and Kafka output items out.
    With `trade`, each asset's desk also runs the execution stage (`mode` paper or live);
    every alert also goes to `on_alert` when given."""
    universe = Universe.from_config(config)
    routed = op.flat_map_batch("route_records", messages,
                               _decoder(universe, config.kafka.topic_prefix, config.universe.assets))
    step = partial(_update_many, config=desk_config(config, mode if trade else None))
    outputs = fold("run_desks", routed, step, prepare=_desk_decoder(universe))
    encoded = op.flat_map_batch("encode_outputs", outputs, functools.partial(_encode, quiet_alerts=quiet_alerts,
                                                                             on_alert=on_alert))
    return op.flat_map_batch("redis_outputs", outputs, _for_redis), encoded


def _update_many(state: Any, record: Any, *, config: DeskConfig) -> tuple[Any, list[Any] | None]:
    if type(record) is DeadLetter:
        return state, [record]
    state, out = run_desk(state, record, config)
    return state, out or None


def _asset(record: Any) -> str:
    """The Kafka key: the record's base asset (latency readings and alerts carry it too)."""
    asset = getattr(record, "asset", None)
    if asset:
        return str(asset)
    symbol = getattr(record, "symbol", None)
    return base_asset(symbol) if symbol else getattr(record, "venue", None) or ""


def input_topics(config: Config, *, trade: bool) -> list[str]:
    """The physical topics the flow reads: md.*, and clock.tick and exec.venue when it trades."""
    return [topic_name(config, t) for t in INPUT_TOPICS + (TRADING_INPUT_TOPICS if trade else ())]


def build_signal_flow(config: Config, kafka_bootstrap: str, redis_url: str, *, start: StartAt = "beginning",
                      ranges: dict[tuple[str, int], tuple[int, int]] | None = None,
                      on_producer: Callable[[KeyedProducer], None] | None = None,
                      partitions: dict[str, int] | None = None, trade: bool = False,
                      mode: TradeMode = "paper", stop: threading.Event | None = None,
                      on_alert: Callable[[Alert], None] | None = None,
                      seen: Seen | None = None, stream_seen: Seen | None = None) -> Dataflow:
    """The signal dataflow over Kafka and Redis. `ranges` bounds the input to exact offsets
    (replay); without it the flow tails the md.* topics from `start` ("beginning", "end" or
    offsets per (topic, partition): `MergedKafkaInput`). With `trade` the desks
    execute (`mode`), and clock.tick and exec.venue are read as well. Setting `stop` ends a
    tailing flow cleanly (queued input processed, sinks flushed). `on_alert` receives every
    risk.alert record as it is published (the alert notifier; never blocking). `seen` and
    `stream_seen`: what an interrupted attempt of the same replay published on Kafka and added
    to the opportunity stream (model/replay_run.py): not published again."""
    flow = Dataflow("arbflow_signals")
    names = input_topics(config, trade=trade)
    if ranges is not None:
        ranges = {key: span for key, span in ranges.items() if key[0] in names}
    source = MergedKafkaInput(kafka_bootstrap, names, start=start, ranges=ranges,
                              timeout_s=config.kafka.connect_timeout_s, stop=stop, client=config.kafka.client,
                              **({"batch_size": BOUNDED_BATCH} if ranges is not None else {}))
    for_redis, outputs = signal_steps(op.input("read_market_data", flow, source), config, trade=trade, mode=mode,
                                      quiet_alerts=ranges is not None, on_alert=on_alert)
    op.output("write_redis", for_redis, SignalRedisSink(redis_url, key_prefix=config.redis.key_prefix,
                                                        timeout_s=config.redis.connect_timeout_s,
                                                        top_n=config.scanner.top_n,
                                                        desks=desk_capital(config) if trade else None,
                                                        stream_seen=stream_seen))
    op.output("write_kafka", outputs,
              KafkaOutput(kafka_bootstrap, topic_prefix=config.kafka.topic_prefix,
                          partitioner=Partitioner(config.universe.assets, config.kafka.partitions),
                          delivery_timeout_ms=config.kafka.delivery_timeout_ms, partitions=partitions,
                          on_build=on_producer, client=config.kafka.client, seen=seen))
    return flow
