"""A replay run's identity and the multiset a resumed attempt leaves out (model/replay_run.py)."""

import threading

import pytest

from arbflow.model.config import Config, parse_config
from arbflow.model.replay_run import Seen, flow_identity


def _config(document: dict[str, object], env: dict[str, str] | None = None) -> Config:
    return parse_config(document, env or {})


def test_seen_takes_each_copy_once_when_records_repeat() -> None:
    seen = Seen()
    for value in (b"a", b"a", b"b"):
        seen.add("t.md.ticker", value)
    taken = [seen.take("t.md.ticker", v) for v in (b"a", b"b", b"a", b"a", b"b", b"c")]
    assert taken == [True, True, True, False, False, False]
    assert (seen.found, seen.matched) == (3, 3)


def test_seen_keeps_topics_apart_when_the_same_bytes_go_to_two_topics() -> None:
    seen = Seen()
    seen.add("dlq.md.ticker", b"x")
    assert not seen.take("md.ticker", b"x")
    assert seen.take("dlq.md.ticker", b"x") and not seen.take("dlq.md.ticker", b"x")


def test_seen_gives_each_copy_to_one_worker_when_workers_race() -> None:
    seen = Seen()
    for _ in range(1_000):
        seen.add("signal.basis", b"same")
    wins: list[int] = []

    def worker() -> None:
        wins.append(sum(seen.take("signal.basis", b"same") for _ in range(600)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(wins) == 1_000 == seen.matched


@pytest.mark.parametrize("changed", [
    {"scanner": {"min_score": 0}},
    {"execution": {"starting_capital": "30000"}},
    {"signals": {"late_tolerance_ms": 1}},
    {"universe": {"assets": ["BTC", "ETH"]}},
    {"kafka": {"partitions": 8}},
])
def test_the_flow_is_a_new_run_when_a_setting_that_changes_results_changes(changed: dict[str, object]) -> None:
    assert flow_identity("in", _config(changed), trade=True) != flow_identity("in", _config({}), trade=True)


@pytest.mark.parametrize(("changed", "env"), [
    ({"replay": {"workers": 4, "speed": 10}}, {}),
    ({"kafka": {"connect_timeout_s": 9, "delivery_timeout_ms": 60_000}}, {"KAFKA_BOOTSTRAP": "elsewhere:9092"}),
    ({"redis": {"connect_timeout_s": 9}}, {"REDIS_URL": "redis://elsewhere:6379/0"}),
    ({"metrics": {"host": "0.0.0.0"}, "infra": {"kafka_port": 1234}, "recovery": {"enabled": False}}, {}),
])
def test_the_flow_is_the_same_run_when_only_where_and_how_change(changed: dict[str, object],
                                                                 env: dict[str, str]) -> None:
    assert flow_identity("in", _config(changed, env), trade=True) == flow_identity("in", _config({}), trade=True)


def test_the_flow_is_a_new_run_for_other_inputs_or_without_trading() -> None:
    config = _config({})
    same = flow_identity("in", config, trade=True)
    assert flow_identity("other", config, trade=True) != same != flow_identity("in", config, trade=False)
