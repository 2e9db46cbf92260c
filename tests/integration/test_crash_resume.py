"""Kill -9 and resume (issue 9): the trading flow with Bytewax recovery is SIGKILLed at
five points — one of them between the two legs of an entry — and started again each time;
the final ledger equals an uninterrupted run's and every order id stands for one order only."""

import json
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from bytewax.recovery import init_db_dir

from arbflow.connectors import kafka
from arbflow.connectors.replay import ReplayWriter
from arbflow.flows.replay import ReplaySummary, publish
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.execution import Order
from arbflow.model.market import FundingRate, MarketTrade, Ticker
from arbflow.model.portfolio import PortfolioState

pytestmark = pytest.mark.integration
T = 1_723_161_600_000 + 3_600_000
H8 = 8 * 3_600_000
ASSETS = {"BTC": D(60_000), "ETH": D(3_000), "SOL": D(150)}


def _market(path: Path) -> Path:
    """Per asset, 10 s apart: Bybit's perp bids 25 bps over Binance's and pays more funding;
    buyers lift Bybit's ask three times (the resting first leg fills), then the second leg."""
    with ReplayWriter(path) as writer:
        for n, (asset, px) in enumerate(ASSETS.items()):
            start, symbol, depth = T + n * 10_000, f"{asset}/USDT:USDT", (D(600_000) / px).quantize(D(1))
            for venue, rate in (("binance", "0.0001"), ("bybit", "0.0004")):
                writer.write(topics.MD_FUNDING, FundingRate(venue=venue, symbol=symbol, market="perp", rate=D(rate),
                                                            interval_ms=H8, next_funding_time=T + 7 * 3_600_000,
                                                            ts_local=start - 1_000))
            wide = (px * D("1.0025")).quantize(D("0.01"))
            for step in range(40):
                ts = start + step * 100
                writer.write(topics.MD_TICKER, Ticker(venue="binance", symbol=symbol, market="perp", bid=px,
                                                      ask=px + D("0.01"), bid_qty=depth, ask_qty=depth,
                                                      ts_exchange=ts - 5, ts_local=ts))
                writer.write(topics.MD_TICKER, Ticker(venue="bybit", symbol=symbol, market="perp", bid=wide,
                                                      ask=wide + D("0.01"), bid_qty=depth, ask_qty=depth,
                                                      ts_exchange=ts - 5, ts_local=ts + 1))
                if step in (12, 13, 14):
                    writer.write(topics.MD_TRADE, MarketTrade(venue="bybit", symbol=symbol, market="perp",
                                                              px=wide + D("0.01"), qty=depth * D("0.3"), side="buy",
                                                              trade_id=f"{asset}{step}", ts_exchange=ts + 20,
                                                              ts_local=ts + 25))
    return path


def _prepared(config: Config, run: str, market: Path, tmp_path: Path,
              partitions: dict[str, int]) -> tuple[Config, Path]:
    cfg = replace(config, kafka=replace(config.kafka, topic_prefix=f"{config.kafka.topic_prefix}{run}."),
                  redis=replace(config.redis, key_prefix=f"{config.redis.key_prefix}{run}."))
    names = [kafka.topic_name(cfg, t) for t in topics.all_topics()]
    kafka.ensure_topics(cfg.kafka.bootstrap or "", names, cfg.kafka.partitions, 10)
    delivered = publish(cfg, cfg.kafka.bootstrap or "", [market], speed=0, partitions=partitions,
                        summary=ReplaySummary(files={}))
    spec = {"config": {"kafka": {"bootstrap": cfg.kafka.bootstrap, "topic_prefix": cfg.kafka.topic_prefix,
                                 "partitions": cfg.kafka.partitions},
                       "redis": {"url": cfg.redis.url, "key_prefix": cfg.redis.key_prefix},
                       "scanner": {"min_score": 0}, "signals": {"funding_silent_after_s": 0}},
            "ranges": [[t, p, list(span)] for (t, p), span in delivered.ranges.items()],
            "partitions": {n: partitions.get(n, cfg.kafka.partitions) for n in names}, "kill_after": 0}
    path = tmp_path / f"{run}.json"
    path.write_text(json.dumps(spec))
    return cfg, path


def _drive(spec_path: Path, kill_after: int | str, recovery_dir: Path | None) -> int:
    spec = json.loads(spec_path.read_text())
    spec["kill_after"], spec["recovery_dir"] = kill_after, str(recovery_dir) if recovery_dir else None
    spec["marker"] = str(spec_path.with_suffix(".mid_entry"))
    spec_path.write_text(json.dumps(spec))
    result = subprocess.run([sys.executable, "-m", "tests.integration.crash_driver", str(spec_path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode in (0, -9), result.stderr[-3000:]
    return result.returncode


def _read(cfg: Config, topic: str, cls: type) -> list[Any]:
    messages = kafka.read_topic(cfg.kafka.bootstrap or "", kafka.topic_name(cfg, topic))
    return [codec.decode(cls, m.value, source=topic) for m in sorted(messages, key=lambda m: (m.partition, m.offset))]


def _final_ledgers(cfg: Config) -> dict[str | None, PortfolioState]:
    return {s.asset: s for s in _read(cfg, topics.PORTFOLIO_STATE, PortfolioState)}


def _orders_by_id(orders: list[Order]) -> dict[str, set[tuple[Any, ...]]]:
    """Each logical id → the distinct orders ("new" records) sent under it."""
    sent: dict[str, set[tuple[Any, ...]]] = {}
    for o in orders:
        if o.status == "new":
            sent.setdefault(o.client_order_id, set()).add((o.venue_client_id, o.venue, o.side, o.qty, o.limit_px,
                                                           o.order_type))
    return sent


def test_sigkill_at_five_points_then_resume_gives_the_uninterrupted_ledger(config: Config, tmp_path: Path) -> None:
    market = _market(tmp_path / "market.jsonl")
    partitions: dict[str, int] = {}
    reference, reference_spec = _prepared(config, "ref", market, tmp_path, partitions)
    assert _drive(reference_spec, 0, None) == 0
    expected = _final_ledgers(reference)
    expected_orders = _orders_by_id(_read(reference, topics.EXEC_ORDER, Order))
    assert {a for a, s in expected.items() if s.open_positions} == set(ASSETS)  # every desk entered a trade

    crashed, crashed_spec = _prepared(config, "crash", market, tmp_path, partitions)
    recovery = tmp_path / "recovery"
    recovery.mkdir()
    init_db_dir(recovery, 1)
    marker = crashed_spec.with_suffix(".mid_entry")
    between_legs: list[str] = []
    # input messages each attempt sees before its SIGKILL; "mid_entry": just after a desk sent
    # the first leg of an entry, before the second (the driver records which trade)
    for kill_after in ("mid_entry", 45, 30, "mid_entry", 50):
        marker.unlink(missing_ok=True)
        assert _drive(crashed_spec, kill_after, recovery) == -9
        if marker.exists():
            between_legs += json.loads(marker.read_text())
    assert _drive(crashed_spec, 0, recovery) == 0
    assert between_legs, "no kill landed between the two legs of an entry"

    assert _final_ledgers(crashed) == expected
    orders = _orders_by_id(_read(crashed, topics.EXEC_ORDER, Order))
    assert orders == expected_orders  # the same logical orders as the uninterrupted run …
    assert all(len(versions) == 1 for versions in orders.values())  # … each one order, however often re-emitted


def _canonical(cfg: Config) -> dict[str, Any]:
    """Every output topic as per-partition sequences (Kafka's ordering guarantee is per
    partition; each asset lives on one), plus the final ledgers."""
    out: dict[str, Any] = {}
    for topic in (topics.ARB_OPPORTUNITY, topics.EXEC_ORDER, topics.EXEC_FILL, topics.EXEC_TRADE,
                  topics.PORTFOLIO_STATE, topics.SIGNAL_LATENCY):
        by_partition: dict[int, list[bytes]] = {}
        for m in kafka.read_topic(cfg.kafka.bootstrap or "", kafka.topic_name(cfg, topic)):
            by_partition.setdefault(m.partition, []).append(m.value)
        out[topic] = by_partition
    return out


def test_one_worker_two_workers_and_two_processes_give_the_same_outputs(config: Config, tmp_path: Path) -> None:
    from arbflow.connectors.infra.process import free_port

    market = _market(tmp_path / "market.jsonl")
    partitions: dict[str, int] = {}
    results = []
    for run, workers, processes in (("w1", 1, 1), ("w2", 2, 1), ("p2", 1, 2)):
        cfg, spec_path = _prepared(config, run, market, tmp_path, partitions)
        spec = json.loads(spec_path.read_text())
        spec |= {"workers": workers, "pace_s": 0}
        if processes == 1:
            spec_path.write_text(json.dumps(spec))
            assert _drive(spec_path, 0, None) == 0
        else:
            addresses = [f"127.0.0.1:{free_port()}" for _ in range(processes)]
            procs = []
            for pid in range(processes):
                path = tmp_path / f"{run}-{pid}.json"
                path.write_text(json.dumps(spec | {"process_id": pid, "addresses": addresses}))
                procs.append(subprocess.Popen([sys.executable, "-m", "tests.integration.crash_driver", str(path)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
            for proc in procs:
                _, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, err[-3000:]
        results.append(_canonical(cfg))
    assert results[0][topics.EXEC_ORDER] and results[0][topics.PORTFOLIO_STATE]
    assert results[0] == results[1] == results[2]
