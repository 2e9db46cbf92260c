"""The signal and trading dataflow (`arbflow scan`, `arbflow replay`): market data from
Kafka → decode and validate (rejects to `dlq.<topic>`) → one stateful step per base asset
(`operators.asset_desk`: signals, and with trading on the paper/live execution desk) →
basis, latency, opportunities, alerts and the execution ledger (exec.*, portfolio.state)
on Kafka, the opportunity feed, trades and portfolio state in Redis.

    read_market_data ─ decode_records ─┬─ run_desks ─┬─ write_redis (basis, latency, opportunities)
                                       │             └─ encode_outputs ─┐
                                       └─ to_dead_letter ───────────────┴─ write_kafka
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


# A message keyed by a universe asset crosses to its desk undecoded, as this tuple (a tuple of
# str, int and bytes pickles in C; a decoded record pickles through Python, ≈ 7 µs each way).
RawMessage = tuple[str, str, bytes, str]  # (topic without prefix, "topic[partition]@offset", value, key asset)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message the desk could not decode, on its way to `dlq.<topic>` (Kafka key None,
    as when the reader refuses it)."""

    topic: str
    rejected: Rejected
    asset: str


def _decoder(universe: Universe, prefix: str, assets: tuple[str, ...]) -> Callable[[list[Consumed]], list[Any]]:
    """The reader's batch step. A message keyed by a universe asset (arbflow keys md.* and
    exec.venue by base asset) goes to that asset's desk as a `RawMessage`, decoded there
    (`_desk_decoder`), so what crosses Bytewax processes is bytes. Any other message is
    decoded here: `(asset, record)`, or `(topic, Rejected)` with source topic[p]@offset; a
    `ClockTick` (one partition, no key) goes to every asset's desk, in place."""
    by_key = {asset.encode(): asset for asset in assets}

    def decode(messages: list[Consumed]) -> list[Any]:
        out: list[Any] = []
        decoded: list[Any] = []
        for message in messages:
            topic = message.topic.removeprefix(prefix)
            asset = by_key.get(message.key) if message.key is not None else None
            if asset is not None and topic != topics.CLOCK_TICK:
                source = f"{message.topic}[{message.partition}]@{message.offset}"
                out.append((asset, (topic, source, message.value, asset)))
                continue
            record = parse_record(topic, message.value, universe)
            kind = type(record)
            if kind is Rejected:
                out.append((topic, replace(record, source=f"{message.topic}[{message.partition}]@{message.offset}")))
            elif kind is ClockTick:
                out += [(asset, record) for asset in assets]
            else:
                out.append((base_asset(record.symbol), record))
                decoded.append(record)
        _observe_decoded(decoded)
        count_stage("decode", len(messages))
        return out

    return decode


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
            topic, source, value, asset = item
            record = parse_record(topic, value, universe, source=source)
            if type(record) is not Rejected and base_asset(record.symbol) != asset:
                record = codec.reject(reasons.KEY_MISMATCH, f"keyed {asset!r}, but the record is of "
                                      f"{base_asset(record.symbol)!r}", source=source, raw=value)
            if type(record) is Rejected:
                out.append(DeadLetter(topic, record, ""))
                continue
            decoded.append(record)
            out.append(record)
        _observe_decoded(decoded)
        return out

    return decode


def _dead_letter_item(item: DeadLetter) -> OutputItem:
    return dead_letter(item.topic, item.rejected)


def _encode(items: list[tuple[str, Any]], quiet_alerts: bool = False,
            on_alert: Callable[[Alert], None] | None = None) -> list[OutputItem]:
    """Records → output items. Alerts are logged at their severity, or at DEBUG with
    `quiet_alerts` (a bounded replay or backtest: they are in risk.alert and the report, and
    18 months of bars raise thousands), and handed to `on_alert` (the alert notifier of
    `scan` and `trade`, sinks/alert_notify.py; it never blocks)."""
    count_stage("desk", len(items))
    out: list[OutputItem] = []
    for asset, record in items:
        if type(record) is Rejected:  # LATE_RECORD from the step: `source` is its topic
            out.append(dead_letter(record.source, record, asset.encode()))
        elif type(record) is DeadLetter:  # undecodable at the desk: as if the reader refused it
            out.append(_dead_letter_item(record))
        else:
            if type(record) is Alert:
                count_alerts((record.code,))
                level = logging.DEBUG if quiet_alerts else _LEVELS.get(record.severity, logging.INFO)
                _LOG.log(level, "alert %s [%s] %s %s: %s (value %s, threshold %s)",
                         record.code, record.severity, record.asset or "-", record.venue or "-", record.message,
                         record.value, record.threshold)
                if on_alert is not None:
                    on_alert(record)
            out.append((OUTPUT_TOPIC[type(record)], asset, codec.encode(record)))
    count_stage("kafka", len(out))
    return out


def signal_steps(messages: Stream[Consumed], config: Config, *, trade: bool = False, mode: TradeMode = "paper",
                 quiet_alerts: bool = False, on_alert: Callable[[Alert], None] | None = None
                 ) -> tuple[Stream[Any], Stream[OutputItem]]:
    """The transport-free core: messages in; Redis items and Kafka output items out.
    With `trade`, each asset's desk also runs the execution stage (`mode` paper or live);
    every alert also goes to `on_alert` when given."""
    universe = Universe.from_config(config)
    decoded = op.flat_map_batch("decode_records", messages,
                                _decoder(universe, config.kafka.topic_prefix, config.universe.assets))
    split = op.branch("split_rejects", decoded, lambda item: type(item[1]) is not Rejected)
    dead = op.map("to_dead_letter", split.falses, _to_dead_letter)
    step = partial(_update_many, config=desk_config(config, mode if trade else None))
    folded = fold("run_desks", split.trues, step, prepare=_desk_decoder(universe))
    outputs = op.flat_map("flatten_outputs", folded, lambda kv: kv[1])
    outputs = op.filter("count_denied_entries", outputs, _not_denied)
    keyed = op.map("key_outputs", outputs, lambda record: (_asset(record), record))
    encoded = op.flat_map_batch("encode_outputs", keyed, functools.partial(_encode, quiet_alerts=quiet_alerts,
                                                                             on_alert=on_alert))
    for_redis = op.filter("redis_outputs", outputs, lambda r: type(r) in REDIS_TYPES)
    return for_redis, op.merge("merge_outputs", encoded, dead)


def _to_dead_letter(item: tuple[str, Rejected]) -> OutputItem:
    count_stage("kafka", 1)
    return dead_letter(item[0], item[1])


def _update_many(state: Any, record: Any, *, config: DeskConfig) -> tuple[Any, list[Any] | None]:
    if type(record) is DeadLetter:
        return state, [record]
    state, out = run_desk(state, record, config)
    return state, out or None


def _not_denied(record: Any) -> bool:
    """Entries the desk refused are counted by reason, not published."""
    if type(record) is EntryDenied:
        ENTRIES_DENIED.labels(reason=record.reason).inc()
        return False
    return True


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
                              timeout_s=config.kafka.connect_timeout_s, stop=stop, client=config.kafka.client)
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
