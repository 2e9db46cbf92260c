"""`arbflow record` → `arbflow replay` round trip on the real broker."""

from dataclasses import replace
from pathlib import Path

import pytest

from arbflow.connectors import recorder
from arbflow.connectors.replay import merge_files
from arbflow.flows.replay import run_replay
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.market import Ticker
from arbflow.model.validation import Universe
from tests.conftest import slice_of_bundled

pytestmark = pytest.mark.integration


def test_topic_patterns_expand_to_known_topics() -> None:
    market_data = recorder.expand_topics(["md.*"])
    assert {"md.ticker", "md.book", "md.trade", "md.funding", "md.oi", "md.liquidation"} <= set(market_data)
    assert all(t.startswith("md.") for t in market_data)
    assert recorder.expand_topics(["md.ticker", "md.ticker", "signal.basis"]) == ["md.ticker", "signal.basis"]
    with pytest.raises(ValueError, match="no topic matches"):
        recorder.expand_topics(["md.nope"])


def test_recording_a_replay_gives_back_identical_records(config: Config, tmp_path: Path) -> None:
    bad = b'{"topic":"md.ticker","venue":"ftx","symbol":"BTC/USDT","market":"spot","bid":"1","ask":"2",' \
          b'"bid_qty":"1","ask_qty":"1","ts_local":1723161255200,"schema_version":1}'
    original = slice_of_bundled(tmp_path / "original.jsonl", 800, extra=[bad])
    run_replay(config, [original])
    recorded = tmp_path / "recorded.jsonl.gz"
    counts = recorder.record(config.kafka.bootstrap or "", ["md.ticker"], recorded,
                             prefix=config.kafka.topic_prefix, universe=Universe.from_config(config),
                             start="beginning", idle_exit_s=1.0)
    assert counts == {"md.ticker": 800, "rejected": 1}
    lines = [line for line in merge_files([recorded]) if not isinstance(line, tuple)]
    written = [codec.decode(Ticker, line.value, source="t") for line in lines if line.topic == topics.MD_TICKER]
    source = [codec.decode(Ticker, line.value, source="t") for line in merge_files([original])
              if line.topic == topics.MD_TICKER and b'"ftx"' not in line.value]
    # Partitions interleave, but each asset keeps its order and the file is in event-time order.
    for asset in ("BTC", "ETH"):
        assert [t for t in written if t.symbol.startswith(asset)] == [t for t in source if t.symbol.startswith(asset)]
    assert [t.ts_local for t in written] == sorted(t.ts_local for t in written)
    assert [line.topic for line in lines].count("dlq.md.ticker") == 1
    # Replaying the recording reproduces the same basis as the original.
    fresh = replace(config, kafka=replace(config.kafka, topic_prefix=config.kafka.topic_prefix + "again."))
    again = run_replay(fresh, [recorded])
    assert again.published == {topics.MD_TICKER: 800, "dlq.md.ticker": 1}
    assert {(p.asset, p.basis_bps) for p in again.latest_basis} == {
        (p.asset, p.basis_bps) for p in run_replay(config, [original]).latest_basis}


def test_recording_from_the_end_records_nothing_that_was_there_before(config: Config, tmp_path: Path) -> None:
    # the replay's producer leaves multi-record batches: the broker reports their ends too low
    run_replay(config, [slice_of_bundled(tmp_path / "before.jsonl", 800)], trade=False)
    counts = recorder.record(config.kafka.bootstrap or "", ["md.ticker"], tmp_path / "after.jsonl",
                             prefix=config.kafka.topic_prefix, universe=Universe.from_config(config),
                             start="end", idle_exit_s=1.0)
    assert counts.total() == 0 and (tmp_path / "after.jsonl").read_bytes() == b""
