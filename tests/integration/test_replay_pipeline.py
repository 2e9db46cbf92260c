"""The replay slice end to end against the real broker, redis-server and Bytewax:
values are worked out by hand from the raw Binance capture lines quoted in each test."""

import statistics
from decimal import Decimal
from pathlib import Path

import pytest
import redis

from arbflow.connectors import kafka
from arbflow.flows.replay import run_replay
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.rejected import Rejected
from arbflow.model.signals import BasisPoint
from arbflow.sinks.redis_state import basis_key
from tests.conftest import BUNDLED, slice_of_bundled

pytestmark = pytest.mark.integration
BPS = Decimal(10_000)


def _bps(spot_mid: str, perp_mid: str) -> Decimal:
    """Basis in bps to 20 places (the flow keeps 34 significant digits)."""
    spot, perp = Decimal(spot_mid), Decimal(perp_mid)
    return ((perp - spot) / spot * BPS).quantize(Decimal("1E-20"))


def _read(config: Config, topic: str) -> list[bytes]:
    """Every message of a topic in (partition, offset) order: the consumer interleaves
    partitions as fetches return, so arrival order is not a property of the data."""
    messages = kafka.read_topic(config.kafka.bootstrap or "", kafka.topic_name(config, topic))
    return [m.value for m in sorted(messages, key=lambda m: (m.partition, m.offset))]


def test_first_basis_is_hand_computed_when_the_first_perp_ticker_arrives(config: Config, tmp_path: Path) -> None:
    # Raw capture, spot_btcusdt_20240808 at local ns 1723161255081035367:
    #   "b":"61824.00000000","a":"61824.01000000"        → spot mid 61824.005
    # usdm_btcusdt_20240808 at local ns 1723161255088169167 (the first perp bookTicker):
    #   "b":"61800.20","a":"61800.30"                    → perp mid 61800.25
    replay = slice_of_bundled(tmp_path / "head.jsonl", 600)
    summary = run_replay(config, [replay])
    points = [codec.decode(BasisPoint, v, source="t") for v in _read(config, topics.SIGNAL_BASIS)]
    btc = sorted((p for p in points if p.asset == "BTC"), key=lambda p: p.ts)
    first = btc[0]
    assert first.ts == 1723161255088
    assert first.spot_mid == Decimal("61824.005") and first.perp_mid == Decimal("61800.25")
    assert first.basis_bps.quantize(Decimal("1E-20")) == _bps("61824.005", "61800.25")
    assert summary.published[topics.MD_TICKER] == 600
    assert not summary.rejects


def test_replay_of_the_bundled_capture_matches_the_recorded_basis(config: Config) -> None:
    summary = run_replay(config, [BUNDLED])
    assert summary.published == {topics.MD_TICKER: 172_198}
    assert not summary.rejects
    latest = {(p.asset, p.venue): p for p in summary.latest_basis}
    # Last BTC lines of the capture: spot b 61685.99 a 61686.00 (ns 1723161599999231384),
    # perp b 61659.70 a 61659.80 (ns 1723161599439160683). The spot mid last *moved* at
    # ns 1723161597940…: ask 61686.01 → 61686.00, so that is the latest point's time.
    btc = latest[("BTC", "binance")]
    assert (btc.spot_mid, btc.perp_mid, btc.ts) == (Decimal("61685.995"), Decimal("61659.75"), 1723161597940)
    assert btc.basis_bps.quantize(Decimal("1E-20")) == _bps("61685.995", "61659.75")
    # ETH: last spot b 2682.50 a 2682.51, last perp b 2681.38 a 2681.39; the perp mid
    # last moved at ns 1723161598759….
    eth = latest[("ETH", "binance")]
    assert (eth.spot_mid, eth.perp_mid, eth.ts) == (Decimal("2682.505"), Decimal("2681.385"), 1723161598759)
    assert eth.basis_bps.quantize(Decimal("1E-20")) == _bps("2682.505", "2681.385")
    # signal.basis is a change stream: a point whenever either mid moves. Worked out by a
    # separate script over the fixture (mids as Decimal, a point when a leg's mid differs
    # from its previous one and both legs exist): BTC 4,669 points, median -3.8942 bps;
    # ETH 4,672 points, median -4.4521 bps. (PROVENANCE.md's -3.69 / -4.40 weight every
    # perp update instead, quantity-only ones included.)
    values = [codec.decode(BasisPoint, v, source="t") for v in _read(config, topics.SIGNAL_BASIS)]
    for asset, count, median in (("BTC", 4_669, -3.8942), ("ETH", 4_672, -4.4521)):
        mine = [float(p.basis_bps) for p in values if p.asset == asset]
        assert len(mine) == count
        assert statistics.median(mine) == pytest.approx(median, abs=1e-4)
    assert summary.produced[topics.SIGNAL_BASIS] == 4_669 + 4_672
    client = redis.Redis.from_url(config.redis.url or "")
    stored = client.hget(basis_key(config.redis.key_prefix, "BTC", "binance"), "record")
    client.close()
    assert codec.decode(BasisPoint, stored, source="redis") == btc


def test_malformed_lines_land_on_the_dead_letter_topics_and_the_rest_is_processed(
        config: Config, tmp_path: Path) -> None:
    good = ('{"topic":"md.ticker","venue":"binance","symbol":"ETH/USDT","market":"spot","bid":"%s",'
            '"ask":"2683.81","bid_qty":"1","ask_qty":"1","ts_local":%d,"schema_version":1}')
    bad_lines = [
        b"this is not json",
        b'{"venue":"binance"}',  # no topic
        (good % ("NaN", 1723161255100)).encode(),
        (good % ("2690", 1723161255101)).encode(),  # bid above ask: crossed
        (good % ("2683.8", 1723161255)).encode(),  # seconds
        (good % ("2683.8", 1723161255102)).replace("binance", "ftx").encode(),
    ]
    replay = slice_of_bundled(tmp_path / "bad.jsonl", 600, extra=bad_lines)
    summary = run_replay(config, [replay])
    assert summary.rejects == {
        (topics.DLQ_REPLAY, reasons.MALFORMED_JSON): 1,
        (topics.DLQ_REPLAY, reasons.MISSING_FIELD): 1,
        ("dlq.md.ticker", reasons.NON_FINITE): 1,
        ("dlq.md.ticker", reasons.CROSSED_BOOK): 1,
        ("dlq.md.ticker", reasons.TIMESTAMP_IN_SECONDS): 1,
        ("dlq.md.ticker", reasons.UNKNOWN_VENUE): 1,
    }
    dead = [codec.decode(Rejected, v, source="t") for v in _read(config, "dlq.md.ticker")]
    assert sorted(r.reason for r in dead) == sorted([reasons.NON_FINITE, reasons.CROSSED_BOOK,
                                                     reasons.TIMESTAMP_IN_SECONDS, reasons.UNKNOWN_VENUE])
    assert all(r.raw.startswith('{"venue"') and r.source.startswith(config.kafka.topic_prefix) for r in dead)
    replay_dead = [codec.decode(Rejected, v, source="t") for v in _read(config, topics.DLQ_REPLAY)]
    assert {r.raw for r in replay_dead} == {"this is not json", '{"venue":"binance"}'}
    assert {r.source for r in replay_dead} == {"bad.jsonl:601", "bad.jsonl:602"}
    assert summary.published[topics.MD_TICKER] == 604  # 600 good + 4 that fail validation in the flow
    assert {p.asset for p in summary.latest_basis} == {"BTC", "ETH"}


def test_a_second_replay_reads_only_its_own_records_when_topics_already_hold_data(
        config: Config, tmp_path: Path) -> None:
    other = slice_of_bundled(tmp_path / "other.jsonl", 300)
    before = run_replay(config, [other])
    replay = slice_of_bundled(tmp_path / "head.jsonl", 600)
    first = run_replay(config, [replay])
    assert first.published[topics.MD_TICKER] == 600
    assert len(_read(config, topics.MD_TICKER)) == 900  # another run's records were there before
    assert len(_read(config, topics.SIGNAL_BASIS)) == (before.produced[topics.SIGNAL_BASIS]
                                                        + first.produced[topics.SIGNAL_BASIS])


def test_the_same_replay_again_publishes_nothing_and_reports_the_same(config: Config, tmp_path: Path) -> None:
    replay = slice_of_bundled(tmp_path / "head.jsonl", 600)
    first = run_replay(config, [replay])
    second = run_replay(config, [replay])
    assert first.produced == second.produced and first.outputs == second.outputs
    assert first.latest_basis == second.latest_basis and first.files == second.files
    assert first.run_id == second.run_id
    assert second.run.endswith("inputs already published by an earlier run: none of 600 lines published again; "
                               "the flow already ran over them with these settings: nothing published again, "
                               "the summary is read back")
    assert len(_read(config, topics.MD_TICKER)) == 600
    assert len(_read(config, topics.SIGNAL_BASIS)) == first.produced[topics.SIGNAL_BASIS]


def test_changed_settings_run_the_flow_again_over_the_inputs_already_published(
        config: Config, tmp_path: Path) -> None:
    from dataclasses import replace as with_

    replay = slice_of_bundled(tmp_path / "head.jsonl", 600)
    first = run_replay(config, [replay])
    other = with_(config, scanner=with_(config.scanner, min_score=0), replay=with_(config.replay, workers=2))
    second = run_replay(other, [replay])
    assert "inputs already published by an earlier run" in second.run and second.run.endswith("the flow ran")
    assert second.run_id != first.run_id
    assert len(_read(config, topics.MD_TICKER)) == 600
    assert len(_read(config, topics.SIGNAL_BASIS)) == 2 * first.produced[topics.SIGNAL_BASIS]
    assert run_replay(with_(config, replay=with_(config.replay, workers=2)), [replay]).run_id == first.run_id


def test_a_replay_summary_shows_only_its_own_basis_when_an_earlier_run_left_other_assets_in_redis(
        config: Config, tmp_path: Path) -> None:
    both = slice_of_bundled(tmp_path / "head.jsonl", 600)
    first = run_replay(config, [both])  # BTC and ETH: strategy:basis:BTC:binance is now in Redis
    eth_only = tmp_path / "eth.jsonl"
    eth_only.write_bytes(b"".join(line + b"\n" for line in both.read_bytes().splitlines() if b'"ETH/USDT' in line))
    second = run_replay(config, [eth_only])
    assert {p.asset for p in first.latest_basis} == {"BTC", "ETH"}
    assert [(p.asset, p.venue) for p in second.latest_basis] == [("ETH", "binance")]
    # the same ETH lines give the same newest ETH point, this time from the second run's own records
    assert second.latest_basis == [p for p in first.latest_basis if p.asset == "ETH"]
    assert second.first_ts is not None and second.last_ts is not None
    assert all(second.first_ts <= p.ts <= second.last_ts for p in second.latest_basis)


def test_speed_paces_publishing_at_the_recorded_rate(config: Config, tmp_path: Path) -> None:
    # Two records 1.5 s apart in data time, replayed at ×1: publishing cannot finish sooner.
    line = ('{"topic":"md.ticker","venue":"binance","symbol":"BTC/USDT","market":"spot","bid":"1","ask":"2",'
            '"bid_qty":"1","ask_qty":"1","ts_local":%d,"schema_version":1}\n')
    replay = tmp_path / "paced.jsonl"
    replay.write_text(line % 1_723_161_255_000 + line % 1_723_161_256_500)
    summary = run_replay(config, [replay], speed=1.0)
    assert summary.publish_s >= 1.5
    assert summary.published[topics.MD_TICKER] == 2


@pytest.mark.under_load
def test_the_same_replay_gives_byte_identical_opportunities(config: Config, tmp_path: Path) -> None:
    """The merged, event-time-ordered input makes the scan a function of the data: two
    runs into fresh topics publish the same arb.opportunity bytes in the same order."""
    from dataclasses import replace as with_

    funding = tmp_path / "funding.jsonl"
    funding.write_text(
        '{"topic":"md.funding","venue":"binance","symbol":"BTC/USDT:USDT","market":"perp","rate":"0.0003",'
        '"interval_ms":28800000,"next_funding_time":1723161600000,"ts_local":1723132800000,"schema_version":1}\n')
    replay = slice_of_bundled(tmp_path / "head.jsonl", 3_000)
    outputs = []
    for run in ("a.", "b."):
        cfg = with_(config, kafka=with_(config.kafka, topic_prefix=config.kafka.topic_prefix + run),
                    signals=with_(config.signals, funding_silent_after_s=0))
        summary = run_replay(cfg, [replay, funding])
        outputs.append(_read(cfg, topics.ARB_OPPORTUNITY))
        assert summary.outcomes
    assert outputs[0] == outputs[1] and len(outputs[0]) > 5


def test_the_flow_exports_its_metrics(config: Config, tmp_path: Path) -> None:
    from dataclasses import replace as with_

    from prometheus_client import REGISTRY, generate_latest

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    stages = ("decode", "desk", "redis", "kafka")
    before = {"perp": sample("arbflow_records_decoded_total", market="perp")}
    before |= {stage: sample("arbflow_stage_events_total", stage=stage) for stage in stages}
    funding = tmp_path / "funding.jsonl"  # 0.03 % per 8 h: 3 bps, APR 0.0003 × 3 × 365 = 0.3285
    funding.write_text(
        '{"topic":"md.funding","venue":"binance","symbol":"BTC/USDT:USDT","market":"perp","rate":"0.0003",'
        '"interval_ms":28800000,"next_funding_time":1723161600000,"ts_local":1723132800000,"schema_version":1}\n')
    cfg = with_(config, signals=with_(config.signals, funding_silent_after_s=0))
    summary = run_replay(cfg, [slice_of_bundled(tmp_path / "head.jsonl", 1_000), funding])
    assert sample("arbflow_records_decoded_total", market="perp") - before["perp"] > 0
    # the capture's recorder clock is ~1.2–1.3 s behind Binance (the first perp line:
    # local 1723161255088 vs E 1723161256313, -1,225 ms)
    assert -1_300 < sample("arbflow_venue_clock_offset_ms", venue="binance") < -1_200
    assert sample("arbflow_venue_stale", venue="binance") == 0
    assert sample("arbflow_funding_rate_8h", venue="binance", symbol="BTC/USDT:USDT") == 0.0003
    assert sample("arbflow_funding_apr", venue="binance", symbol="BTC/USDT:USDT") == 0.3285
    # long spot / short perp receives the whole perp rate: the widest BTC carry is 3 bps per 8 h
    assert sample("arbflow_funding_carry_bps", asset="BTC") == 3.0
    assert sample("arbflow_funding_carry_apr", asset="BTC") == 0.3285
    moved = {stage: sample("arbflow_stage_events_total", stage=stage) - before[stage] for stage in stages}
    assert moved["decode"] == 1_001  # every md.* message in, the funding record included
    produced = sum(summary.produced.values())
    assert moved["kafka"] == produced > 0 and moved["desk"] == produced  # no dead letters in this slice
    assert 0 < moved["redis"] <= moved["desk"]
    exposition = generate_latest(REGISTRY).decode()
    for name in ("arbflow_records_decoded_total", "arbflow_opportunities_total", "arbflow_venue_latency_ms",
                 "arbflow_end_to_end_seconds_bucket", "arbflow_dead_letters_total", "arbflow_stage_events_total",
                 "arbflow_funding_rate_8h", "arbflow_funding_carry_bps", "arbflow_portfolio_available_usd"):
        assert name in exposition


@pytest.mark.under_load
def test_two_workers_give_the_same_outputs_as_one(config: Config, tmp_path: Path) -> None:
    """Keyed by asset end to end: with 2 Bytewax workers each asset still lives on one
    worker, so every partition of every output topic holds the same sequence."""
    from dataclasses import replace as with_

    replay = slice_of_bundled(tmp_path / "head.jsonl", 4_000)
    outputs = []
    for workers in (1, 2):
        cfg = with_(config, kafka=with_(config.kafka, topic_prefix=f"{config.kafka.topic_prefix}w{workers}."))
        run_replay(cfg, [replay], workers=workers)
        outputs.append({topic: _read(cfg, topic) for topic in (topics.SIGNAL_BASIS, topics.ARB_OPPORTUNITY,
                                                               topics.SIGNAL_LATENCY)})
    assert outputs[0] == outputs[1]
    assert all(outputs[0].values())


def test_the_report_is_self_contained_and_agrees_with_the_summary(config: Config, tmp_path: Path) -> None:
    import json
    import re

    from arbflow.reports.replay_output import write_replay_report

    replay = slice_of_bundled(tmp_path / "head.jsonl", 2_000)
    summary = run_replay(config, [replay])
    document = json.loads(codec.dumps(summary.as_json()))
    page = write_replay_report(tmp_path / "out", config, (replay,), summary, document).read_text()
    for section in ("<h2>Records</h2>", "<h2>Opportunities by outcome</h2>", "<h2>Basis</h2>", "<h2>Latency</h2>",
                    "<h2>Alerts</h2>", "<h2>Trading</h2>", "<h2>Configuration</h2>"):
        assert section in page
    assert "<script src=" not in page and "plotly" in page  # plotly.js inlined, nothing fetched
    row = re.search(r"<td>md.ticker</td><td>(\d+)</td>", page)
    assert row is not None and int(row.group(1)) == document["published"]["md.ticker"] == 2_000
    for outcome, count in document["opportunities"].items():
        assert f"<td>{outcome}</td><td>{count}</td>" in page
    assert "entered no trade" in page  # the paper desks ran; nothing passed the scanner here
