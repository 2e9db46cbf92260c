"""A replay re-run leaves one copy of everything (README "Re-running a replay"): the two
phases of `arbflow replay` — publishing the inputs, running the flow — each look up their
manifest (connectors/replay_runs.py) and then do one of three things:

- none: a new run — note where every partition ends now, write the manifest, do the work,
  write the manifest again with where the partitions end after it (`complete`);
- an incomplete one: an attempt was interrupted (killed, a lost service) — read what it
  left after its starts, and do the work again without publishing any of it twice;
- a complete one: publish nothing; the run's records are where the manifest says.

Each phase returns the offset spans its records occupy (what the flow reads, what the
report reads back) and a few words for the one line the command prints.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from arbflow.connectors.replay import Published
from arbflow.connectors.replay_runs import Offsets, RunStore, decode_offsets, encode_offsets, spans
from arbflow.model import topics
from arbflow.model.replay_run import Seen
from arbflow.sinks.redis_feed import stream_position, stream_since

Spans = dict[tuple[str, int], tuple[int, int]]
Publisher = Callable[[Seen | None, bool], Published]  # (seen, dry) → what publishing counted


@dataclass(slots=True)
class FlowPlan:
    """What the flow phase has to do: `run` it (with `seen` / `stream_seen` when resuming) or
    not (complete: `spans`, `denied` and `seconds` come from the manifest)."""

    key: str
    run: bool
    starts: Offsets
    stream: str = "0-0"
    seen: Seen | None = None
    stream_seen: Seen | None = None
    spans: Spans = field(default_factory=dict)
    denied: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    note: str = ""


def publish_inputs(store: RunStore, key: str, names: Sequence[str], partitions: dict[str, int],
                   publish: Publisher) -> tuple[Spans, str]:
    """Publish the inputs once (the module docstring): returns their spans and a note."""
    manifest = _still_held(store, store.get(key), names, partitions)
    if manifest is not None and manifest.get("state") == "complete":
        published = publish(None, True)
        return spans(decode_offsets(manifest["starts"]), decode_offsets(manifest["ends"])), \
            f"inputs already published by an earlier run: none of {_lines(published)} published again"
    if manifest is None:
        starts = store.positions(names, partitions)
        store.put(key, {"state": "publishing", "starts": encode_offsets(starts)})
        seen = None
    else:
        starts = decode_offsets(manifest["starts"])
        seen, _ = store.seen_since(starts)
    published = publish(seen, False)
    ends = store.positions(names, partitions)
    store.put(key, {"state": "complete", "starts": encode_offsets(starts), "ends": encode_offsets(ends)})
    if seen is None:
        return spans(starts, ends), f"inputs published ({_lines(published)})"
    sent = _total(published) - published.skipped
    return spans(starts, ends), (f"inputs resumed: {published.skipped:,} of {_lines(published)} were already "
                                 f"published by an interrupted run, the other {sent:,} now")


def plan_flow(store: RunStore, key: str, names: Sequence[str], partitions: dict[str, int],
              client: redis.Redis, redis_prefix: str) -> FlowPlan:
    """Look up the flow's manifest and say what to do (the module docstring)."""
    manifest = _still_held(store, store.get(key), names, partitions)
    if manifest is not None and manifest.get("state") == "complete":
        return FlowPlan(key=key, run=False, starts=decode_offsets(manifest["starts"]),
                        spans=spans(decode_offsets(manifest["starts"]), decode_offsets(manifest["ends"])),
                        denied=Counter(manifest.get("denied", {})), seconds=float(manifest.get("seconds", 0.0)),
                        note="the flow already ran over them with these settings: nothing published again, "
                             "the summary is read back")
    if manifest is None:
        plan = FlowPlan(key=key, run=True, starts=store.positions(names, partitions),
                        stream=stream_position(client, redis_prefix), note="the flow ran")
        store.put(key, {"state": "running", "starts": encode_offsets(plan.starts), "stream": plan.stream})
        return plan
    starts = decode_offsets(manifest["starts"])
    seen, _ = store.seen_since(starts)
    return FlowPlan(key=key, run=True, starts=starts, stream=str(manifest["stream"]), seen=seen,
                    stream_seen=stream_since(client, redis_prefix, str(manifest["stream"])))


def finish_flow(store: RunStore, plan: FlowPlan, names: Sequence[str], partitions: dict[str, int], *,
                complete: bool, denied: Counter[str], seconds: float) -> None:
    """After the flow: its spans, and its manifest `complete` unless it stopped on a failure
    (then the next run resumes it). Sets the plan's note for a resumed flow."""
    ends = store.positions(names, partitions)
    plan.spans = spans(plan.starts, ends)
    if plan.seen is not None:
        skipped = plan.seen.matched + (plan.stream_seen.matched if plan.stream_seen is not None else 0)
        plan.note = (f"the flow resumed: {skipped:,} outputs an interrupted run had published were not "
                     "published again")
    if complete:
        manifest: dict[str, Any] = {"state": "complete", "starts": encode_offsets(plan.starts),
                                    "ends": encode_offsets(ends), "stream": plan.stream, "denied": dict(denied),
                                    "seconds": round(seconds, 3)}
        store.put(plan.key, manifest)


def _still_held(store: RunStore, manifest: dict[str, Any] | None, names: Sequence[str],
                partitions: dict[str, int]) -> dict[str, Any] | None:
    """`manifest`, or None when the topics no longer reach where it says the run's records
    end (a topic deleted and created again, a broker emptied but not its manifests): then the
    run is published afresh rather than believed."""
    if manifest is None:
        return None
    recorded = decode_offsets(manifest.get("ends") or manifest["starts"])
    now = store.positions(names, partitions)
    return manifest if all(now.get(key, 0) >= offset for key, offset in recorded.items()) else None


def _total(published: Published) -> int:
    return sum(published.counts.values()) + sum(n for (topic, _), n in published.rejects.items()
                                                if topic == topics.DLQ_REPLAY)


def _lines(published: Published) -> str:
    return f"{_total(published):,} lines"
