"""The provisioned Grafana dashboard queries only metrics the code exports."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

import arbflow.sinks.dead_letter  # registers arbflow_dead_letters
import arbflow.sinks.metrics  # registers the signal-flow metrics
import arbflow.sinks.redis_feed  # noqa: F401 - registers arbflow_opportunities
from arbflow.connectors.feeds.metrics import FeedMetrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "arbflow.json"


def _exported() -> set[str]:
    names = set()
    for registry in (REGISTRY, FeedMetrics().registry):
        for metric in registry.collect():
            names |= {sample.name for sample in metric.samples}
            names.add(metric.name)
    text = generate_latest(REGISTRY).decode()  # histograms expose their series only once observed
    names |= {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    return names


def test_every_query_uses_an_exported_metric() -> None:
    document = json.loads(DASHBOARD.read_text())
    queried = {name for panel in document["panels"] for target in panel["targets"]
               for name in re.findall(r"\barbflow_[a-z0-9_]+", target["expr"])}
    exported = _exported()
    counters = {n + "_total" for n in exported} | {n + "_bucket" for n in exported}
    missing = sorted(q for q in queried if q not in exported | counters)
    assert queried and not missing, f"dashboard queries metrics nobody exports: {missing}"


def test_the_dashboard_uses_the_provisioned_datasource() -> None:
    document = json.loads(DASHBOARD.read_text())
    assert {t["datasource"]["uid"] for p in document["panels"] for t in p["targets"]} == {"prometheus"}
    assert len({p["id"] for p in document["panels"]}) == len(document["panels"])
