"""`arbflow replay`: publish replay files to Kafka in event-time order, run the dataflow
over exactly what was published, and summarise what came out.

Steps: (1) make sure Kafka and Redis are up and the topics exist; (2) publish every line
(malformed ones to `dlq.replay`), as fast as possible or paced at ×`speed`; (3) run the
signal flow bounded to the published offsets of the md.* topics; (4) read back the dead
letters, opportunities and basis points the run produced — its own records only, read from
exactly the offsets its producers wrote, never what an earlier run left in Redis. Steps (2)
and (3) each happen once per run: a re-run resumes or skips them (flows/replay_runs.py). A
flow stopped by one of our errors (Redis or Kafka lost mid-run) still gets its summary of
what it published before (`ReplaySummary.failure` holds the error).
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bytewax.run import cli_main

from arbflow.connectors import kafka
from arbflow.connectors.compressed import Damage
from arbflow.connectors.infra import services
from arbflow.connectors.replay import FileStats, Progress, Published, locate, publish_files
from arbflow.connectors.replay_runs import RunStore, inputs_identity
from arbflow.flows.replay_runs import FlowPlan, finish_flow, plan_flow, publish_inputs
from arbflow.flows.signal_flow import INPUT_TOPICS, build_signal_flow
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.desk_config import desk_capital
from arbflow.model.errors import ArbflowError, arbflow_cause
from arbflow.model.execution import Order, PairTrade
from arbflow.model.portfolio import PortfolioState, every_desk
from arbflow.model.rejected import Rejected
from arbflow.model.replay_run import Seen, flow_identity
from arbflow.model.secrets import mask_url
from arbflow.model.signals import BasisPoint, Opportunity
from arbflow.model.validation import Universe
from arbflow.operators.portfolio.performance import performance
from arbflow.sinks.metrics import ENTRIES_DENIED
from arbflow.sinks.redis_client import connect


@dataclass(slots=True, kw_only=True)
class ReplaySummary:
    """What a replay did, for the terminal and for `summary.json`."""

    files: dict[str, FileStats]
    published: Counter[str] = field(default_factory=Counter)
    produced: Counter[str] = field(default_factory=Counter)
    rejects: Counter[tuple[str, str]] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    outputs: dict[str, list[Any]] = field(default_factory=dict)  # logical topic → records read back
    traded: bool = False  # the paper execution desks ran
    starting_capital: Decimal = Decimal(20_000)  # the whole portfolio's (config execution.starting_capital)
    desks: dict[str, Decimal] = field(default_factory=dict)  # every configured desk's capital by asset (USD)
    latest_basis: list[BasisPoint] = field(default_factory=list)
    first_ts: int | None = None
    last_ts: int | None = None
    publish_s: float = 0.0
    flow_s: float = 0.0
    kafka: str = ""
    redis: str = ""  # the Redis URL, its password masked (model/secrets.py)
    located: dict[tuple[str, int], str] = field(default_factory=dict)  # (dlq topic, index) → file:line
    denied: Counter[str] = field(default_factory=Counter)  # accepted entries the desks refused, by reason
    run_id: str = ""  # the flow run's id (the inputs' with --publish-only): model/replay_run.py
    run: str = ""  # one line: what this run published, resumed or found already done
    # What stopped the flow before its end (Redis or Kafka lost mid-run): the summary then holds
    # what the run published before it, and the command raises it after the report.
    failure: ArbflowError | None = None

    def dead_letters(self) -> list[Rejected]:
        """The dead letters the flow published (read back), in topic order, each with the
        `file:line` it came from as its source where the replay found it (`located`)."""
        return [replace(r, source=self.located.get((topic, index)) or r.source)
                for topic in sorted(self.outputs) if topic.startswith(topics.DLQ_PREFIX)
                for index, r in enumerate(self.outputs[topic]) if isinstance(r, Rejected)]

    def damage(self) -> list[Damage]:
        """Where damaged files broke (their lines before the break were replayed)."""
        return [s.damage for s in self.files.values() if s.damage is not None]

    def final_trades(self) -> list[PairTrade]:
        """The last state of every trade the run published, by trade id."""
        latest: dict[str, PairTrade] = {}
        for trade in self.outputs.get(topics.EXEC_TRADE, []):
            if isinstance(trade, PairTrade):
                latest[trade.trade_id] = trade
        return list(latest.values())

    def final_portfolios(self) -> list[PortfolioState]:
        """The last ledger state of every desk."""
        latest: dict[str, PortfolioState] = {}
        for state in self.outputs.get(topics.PORTFOLIO_STATE, []):
            if isinstance(state, PortfolioState):
                latest[state.asset or ""] = state
        return [latest[k] for k in sorted(latest)]

    def trading_json(self) -> dict[str, object]:
        """Trades, orders and the summed ledger of every configured desk — one that never
        published a state counts with its capital available (`model.portfolio.every_desk`) —
        exact Decimals as strings."""
        trades, reported = self.final_trades(), self.final_portfolios()
        desks = every_desk(reported, self.desks) if self.desks else reported
        closed = [t for t in trades if t.status == "closed"]
        return {
            "orders": sum(1 for o in self.outputs.get(topics.EXEC_ORDER, []) if isinstance(o, Order)),
            "trades": len(trades), "closed": len(closed),
            "leg_outs": sum(len(t.leg_outs) for t in trades),
            "realised_pnl": str(sum((d.realised_pnl for d in desks), Decimal(0))),
            "cumulative_pnl": str(sum((d.cumulative_pnl for d in desks), Decimal(0))),
            "available": str(sum((d.available for d in desks), Decimal(0))),
            "open_notional": str(sum((d.open_notional for d in desks), Decimal(0))),
            "desks": len(desks), "desks_reported": len(reported), "enabled": self.traded,
            "performance": performance(
                [s for s in self.outputs.get(topics.PORTFOLIO_STATE, []) if isinstance(s, PortfolioState)],
                trades, self.first_ts, self.last_ts, self.starting_capital).as_json(),
        }

    def as_json(self) -> dict[str, object]:
        return {
            "files": {name: {"lines": s.lines, "rejected": s.rejected, "out_of_order": s.out_of_order,
                             "damaged": s.damage.message() if s.damage else None}
                      for name, s in self.files.items()},
            "published": dict(self.published), "produced": dict(self.produced),
            "rejects": [{"topic": t, "reason": r, "count": n} for (t, r), n in sorted(self.rejects.items())],
            "dead_letters": [{"source": r.source, "reason": r.reason, "detail": r.detail, "raw": r.raw}
                             for r in self.dead_letters()[:DEAD_LETTERS_KEPT]],
            "opportunities": dict(self.outcomes),
            "latest_basis": [{"asset": p.asset, "venue": p.venue, "basis_bps": p.basis_bps, "ts": p.ts}
                             for p in self.latest_basis],
            "first_ts": self.first_ts, "last_ts": self.last_ts,
            "failure": None if self.failure is None else str(self.failure),
            "trading": self.trading_json(),
            "publish_seconds": round(self.publish_s, 3), "flow_seconds": round(self.flow_s, 3),
            "kafka": self.kafka, "redis": self.redis, "run_id": self.run_id, "run": self.run,
        }


def publish(config: Config, bootstrap: str, files: Sequence[Path], *, speed: float,
            partitions: dict[str, int], summary: ReplaySummary, progress: Progress | None = None,
            ordered: bool = False, strict: bool = False, seen: Seen | None = None, dry: bool = False) -> Published:
    """Publish the merged lines into `summary`'s counts (`connectors.replay.publish_files`;
    `ordered` for a running flow reading them, `strict` to stop at the first refused line,
    `seen` / `dry` for a re-run: flows/replay_runs.py); returns what publishing counted, with
    the offset ranges Kafka acknowledged."""
    published = Published(files=summary.files, counts=summary.published, rejects=summary.rejects)
    delivered = publish_files(config, bootstrap, files, speed=speed, partitions=partitions, published=published,
                              progress=progress, ordered=ordered, strict=strict, seen=seen, dry=dry)
    published.ranges = delivered.ranges
    summary.first_ts, summary.last_ts, summary.publish_s = published.first_ts, published.last_ts, published.seconds
    return published


def run_replay(config: Config, files: Sequence[Path], *, speed: float | None = None, workers: int | None = None,
               progress: Progress | None = None, trade: bool = True, publish_only: bool = False,
               announce: Callable[[str], None] | None = None, strict: bool = False,
               again: bool = False) -> ReplaySummary:
    """Publish `files`, run the signal flow over them (with the paper execution desks
    unless `trade` is False), and return the summary. With `publish_only` the files are a
    live source: published (paced by `speed`) for a running `arbflow scan` / `trade`, no flow.
    `progress(count, data_ts)` runs every 2,000 published lines; `announce` gets phase lines.
    `strict`: the first line the reader or the validation refuses raises `BadRow` before it is
    published (refusals only the flow can make — LATE_RECORD, PRICE_IMPLAUSIBLE — are in the
    summary's dead letters, as always).

    Re-runs leave one copy of every record (flows/replay_runs.py): inputs the same files
    already published are not published again, a flow already run over them with the same
    settings is not run again (its summary is read back), and an interrupted attempt of either
    is resumed without publishing twice what it had published; `summary.run` says which.
    `again`: a new run of the inputs whatever was published before (a second copy, on purpose)."""
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"replay file {path} does not exist")
    endpoints = services.up(config)
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(endpoints.kafka_bootstrap, names, config.kafka.partitions,
                                     config.kafka.connect_timeout_s, config.kafka.client)
    summary = ReplaySummary(files={}, kafka=endpoints.kafka_bootstrap, redis=mask_url(endpoints.redis_url),
                            traded=trade, starting_capital=config.execution.starting_capital,
                            desks=desk_capital(config))
    store = RunStore(config, endpoints.kafka_bootstrap)
    inputs_id = inputs_identity(config, files, again=again)
    summary.run_id = inputs_id if publish_only else flow_identity(inputs_id, config, trade=trade)

    def publishing(seen: Seen | None, dry: bool) -> Published:
        return publish(config, endpoints.kafka_bootstrap, files, speed=config.replay.speed if speed is None else speed,
                       partitions=partitions, summary=summary, progress=progress, ordered=publish_only,
                       strict=strict, seen=seen, dry=dry)

    input_spans, inputs_note = publish_inputs(store, f"inputs:{inputs_id}", names, partitions, publishing)
    summary.run = f"replay run {summary.run_id[:12]}: {inputs_note}"
    if publish_only:
        return summary
    readers = {kafka.topic_name(config, t) for t in INPUT_TOPICS}
    ranges = {key: span for key, span in input_spans.items() if key[0] in readers}
    outputs = [name for name in names if name not in readers and name != kafka.topic_name(config, topics.DLQ_REPLAY)]
    client = connect(endpoints.redis_url, config.redis.connect_timeout_s)
    try:
        plan = plan_flow(store, f"flow:{summary.run_id}", outputs, partitions, client, config.redis.key_prefix)
    finally:
        client.close()
    if plan.run:
        _run_flow(config, endpoints, ranges, partitions, plan, summary, workers, trade, announce)
        try:
            finish_flow(store, plan, outputs, partitions, complete=summary.failure is None, denied=summary.denied,
                        seconds=summary.flow_s)
        except Exception:
            if summary.failure is None:
                raise
            raise summary.failure from None  # Kafka is gone too: nothing to report from
    else:
        summary.denied, summary.flow_s = plan.denied, plan.seconds
    summary.run += f"; {plan.note}"
    try:
        _collect_outputs(config, endpoints.kafka_bootstrap, plan.spans, ranges, summary)
    except Exception:
        if summary.failure is None:
            raise
        raise summary.failure from None  # Kafka is gone too: nothing to report from
    _locate_dead_letters(config, files, summary)
    summary.latest_basis = latest_basis(summary.outputs.get(topics.SIGNAL_BASIS, []))
    return summary


def latest_basis(points: Sequence[object]) -> list[BasisPoint]:
    """The newest point per (asset, venue) among this run's own signal.basis records (read back
    from exactly the offsets its producers wrote) — never Redis, whose `strategy:basis:*` keys
    keep the newest point in stream time of any run under the key prefix. A tie in `ts` goes to
    the later record, as the Redis write does. Sorted by asset and venue."""
    newest: dict[tuple[str, str], BasisPoint] = {}
    for point in points:
        if isinstance(point, BasisPoint):
            held = newest.get((point.asset, point.venue))
            if held is None or held.ts <= point.ts:
                newest[(point.asset, point.venue)] = point
    return [newest[key] for key in sorted(newest)]


def _run_flow(config: Config, endpoints: services.Endpoints, ranges: dict[tuple[str, int], tuple[int, int]],
              partitions: dict[str, int], plan: FlowPlan, summary: ReplaySummary, workers: int | None,
              trade: bool, announce: Callable[[str], None] | None) -> None:
    """Run the signal flow over exactly `ranges`; what stopped it (one of our errors) goes to
    `summary.failure`."""
    started = time.monotonic()
    if ranges:
        if announce is not None:
            announce(f"running the dataflow over {sum(summary.published.values()):,} records …")
        flow = build_signal_flow(config, endpoints.kafka_bootstrap, endpoints.redis_url, ranges=ranges,
                                 partitions=partitions, trade=trade, seen=plan.seen, stream_seen=plan.stream_seen)
        denied_before = _entries_denied()
        try:
            cli_main(flow, workers_per_process=workers or config.replay.workers)
        except Exception as error:  # Bytewax wraps what stopped the flow
            summary.failure = arbflow_cause(error)
            if summary.failure is None:
                raise
        summary.denied = _entries_denied() - denied_before
    summary.flow_s = time.monotonic() - started


def _locate_dead_letters(config: Config, files: Sequence[Path], summary: ReplaySummary) -> None:
    """Name the `file:line` of each dead letter the flow published (the files are read again,
    only when there is one)."""
    dead = [((topic, index), topic.removeprefix(topics.DLQ_PREFIX), r)
            for topic in sorted(summary.outputs) if topic.startswith(topics.DLQ_PREFIX)
            for index, r in enumerate(summary.outputs[topic]) if isinstance(r, Rejected)]
    if not dead:
        return
    sources = locate(files, [(topic, r) for _, topic, r in dead], Universe.from_config(config))
    summary.located = {key: source for (key, _, _), source in zip(dead, sources, strict=True) if source}


DEAD_LETTERS_KEPT = 100  # the first dead letters in summary.json (all are on the dlq.* topics)
READ_BACK = (topics.SIGNAL_BASIS, topics.SIGNAL_LATENCY, topics.ARB_OPPORTUNITY, topics.RISK_ALERT,
             topics.EXEC_ORDER, topics.EXEC_TRADE, topics.PORTFOLIO_STATE)


def _collect_outputs(config: Config, bootstrap: str, outputs: dict[tuple[str, int], tuple[int, int]],
                     inputs: dict[tuple[str, int], tuple[int, int]], summary: ReplaySummary) -> None:
    """Count the run's flow output per topic and read it back from Kafka (exactly the
    `outputs` offsets the run's manifest spans): dead letters by reason, opportunities by
    outcome, and every record for the report; and the run's funding input (`inputs`)."""
    prefix = config.kafka.topic_prefix
    replay_dead = sum(n for (topic, _), n in summary.rejects.items() if topic == topics.DLQ_REPLAY)
    if replay_dead:
        summary.produced[topics.DLQ_REPLAY] += replay_dead
    read_back: dict[str, dict[int, tuple[int, int]]] = {}
    for (topic, partition), (first, last) in outputs.items():
        logical = topic.removeprefix(prefix)
        summary.produced[logical] += last - first + 1
        if logical.startswith(topics.DLQ_PREFIX) or logical in READ_BACK:
            read_back.setdefault(topic, {})[partition] = (first, last)
    for (topic, partition), span in inputs.items():  # the run's funding input, for the report
        if topic == prefix + topics.MD_FUNDING:
            read_back.setdefault(topic, {})[partition] = span
    for topic, ranges in read_back.items():
        logical = topic.removeprefix(prefix)
        cls = topics.record_type(logical)
        messages = sorted(kafka.read_topic(bootstrap, topic, ranges=ranges, timeout_s=config.kafka.connect_timeout_s,
                                           client=config.kafka.client),
                          key=lambda m: (m.partition, m.offset))
        records = [codec.decode(cls, m.value, source=topic) for m in messages]
        summary.outputs[logical] = records
        if logical == topics.ARB_OPPORTUNITY:
            for opportunity in records:
                if isinstance(opportunity, Opportunity):
                    summary.outcomes[opportunity.reason or "ACCEPTED"] += 1
        elif logical.startswith(topics.DLQ_PREFIX):
            for rejected in records:
                reason = rejected.reason if isinstance(rejected, Rejected) else "UNREADABLE_DEAD_LETTER"
                summary.rejects[(logical, reason)] += 1


def _entries_denied() -> Counter[str]:
    """`arbflow_entries_denied_total` by reason as it stands (the flow runs in this process, so
    a run's denials are the difference before and after it)."""
    return Counter({sample.labels["reason"]: int(sample.value) for metric in ENTRIES_DENIED.collect()
                    for sample in metric.samples if sample.name.endswith("_total")})
