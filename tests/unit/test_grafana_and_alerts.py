"""The provisioned Grafana dashboard and the Prometheus alert rules query only what the code
exports (issue 17 item 6).

Every PromQL expression — panel targets, template-variable queries, alert rules — is parsed
with promql-parser (the Rust port of Prometheus's own parser), and each vector selector's
metric name must be a series the process's registries expose after importing arbflow's metric
modules (a counter family `x` exposes `x_total`, a histogram `x_bucket` / `_sum` / `_count`),
with every label it filters or groups by among that metric's labels. Renaming a metric or a
label in the code without the dashboard and the rules fails here. The rules file is also
checked the way `promtool check rules` reads it: groups with unique names, rules with unique
`alert` names, durations, label names, and templates that name only labels the expression keeps.
"""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import arbflow.sinks.dead_letter  # registers arbflow_dead_letters
import arbflow.sinks.metrics  # registers the flow, portfolio, desk and gateway metrics
import arbflow.sinks.redis_feed  # noqa: F401 - registers arbflow_opportunities
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.model import reasons

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "arbflow.json"
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}
# Series Prometheus makes itself for every scrape target, and the labels it adds to every series.
SYNTHESISED = {"up": frozenset({"job", "instance"})}
TARGET_LABELS = frozenset({"job", "instance"})
DURATION = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
GRAFANA_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]")
GRAFANA_BUILTINS = {"__all", "__interval", "__rate_interval", "__range", "__interval_ms", "__range_s", "__range_ms"}


def _exported() -> dict[str, frozenset[str]]:
    """Every series name arbflow's metrics expose → the label names it carries: the metrics
    registered in the process's default registry once arbflow's metric modules are imported,
    and those of a `FeedMetrics` (which registers into its own registry)."""
    series: dict[str, frozenset[str]] = {}
    for registry in (REGISTRY, FeedMetrics().registry):
        # prometheus_client keeps no public list of a registry's collectors, nor the label names of
        # a labelled metric no one has touched yet: both are read from its (long-stable) internals.
        for metric in list(registry._collector_to_names):  # type: ignore[attr-defined]
            if not isinstance(metric, MetricWrapperBase) or not metric._name.startswith("arbflow_"):
                continue
            [family] = metric.describe()  # the family name without `_total`, and its type
            labels = frozenset(metric._labelnames) | TARGET_LABELS
            for suffix in SUFFIXES[family.type]:
                series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series | SYNTHESISED


EXPORTED = _exported()


def _selectors(expr: str) -> Iterator[tuple[str, set[str], dict[str, str]]]:
    """(metric name, labels filtered or grouped on, equality/regex matcher values) of every
    vector selector in a PromQL expression; grouping labels of an aggregation or a vector
    match count for the selectors beneath it."""
    found: list[tuple[str, set[str], dict[str, str]]] = []

    def visit(node: Any, grouped: frozenset[str]) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = {m.name: m.value for m in node.matchers.matchers}
            name = node.name or matchers.pop("__name__", None)
            assert name, f"a selector without a metric name in {expr!r}"
            found.append((name, set(matchers) | grouped, matchers))
        elif isinstance(node, promql_parser.MatrixSelector):
            visit(node.vector_selector, grouped)
        elif isinstance(node, promql_parser.AggregateExpr):
            labels = set(node.modifier.labels) if node.modifier is not None else set()
            visit(node.expr, grouped | labels)
            if node.param is not None:
                visit(node.param, grouped)
        elif isinstance(node, promql_parser.BinaryExpr):
            matching = node.modifier.matching if node.modifier is not None else None
            labels = set(matching.labels) if matching is not None and str(matching.type).endswith("Include") else set()
            visit(node.lhs, grouped | labels)
            visit(node.rhs, grouped | labels)
        elif isinstance(node, promql_parser.Call):
            for arg in node.args:
                visit(arg, grouped)
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
            visit(node.expr, grouped)

    visit(promql_parser.parse(expr), frozenset())
    yield from found


def _check(expr: str, where: str) -> list[str]:
    """What is wrong with one expression: unknown metrics, labels a metric does not have,
    reason codes model.reasons does not define."""
    problems = []
    for name, labels, matchers in _selectors(expr):
        if name not in EXPORTED:
            problems.append(f"{where}: {name} is not exported")
            continue
        problems += [f"{where}: {name} has no label {label!r}" for label in sorted(labels - EXPORTED[name])]
        for code in re.split(r"\|", matchers.get("reason", "")):
            if code and "$" not in code and code not in reasons.ALL_REASONS:
                problems.append(f"{where}: reason {code!r} is not a model.reasons code")
    return problems


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    document = _dashboard()
    return [p for p in document["panels"] if p["type"] != "row"] + [
        p for row in document["panels"] if row["type"] == "row" for p in row.get("panels", [])]


def _variable_queries() -> dict[str, str]:
    """Template variable name → its label_values(selector, label) query."""
    return {v["name"]: v["query"] if isinstance(v["query"], str) else v["query"]["query"]
            for v in _dashboard()["templating"]["list"]}


def _grafana_free(expr: str) -> str:
    """The expression as Prometheus receives it (variables replaced by a regex-safe value)."""
    return GRAFANA_VARIABLE.sub("x", expr)


def _rules() -> dict[str, Any]:
    return yaml.safe_load(RULES.read_text())


# ---- the dashboard


def test_every_panel_query_uses_exported_metrics_and_their_labels() -> None:
    problems, queried = [], set()
    for panel in _panels():
        for target in panel["targets"]:
            expr = _grafana_free(target["expr"])
            queried |= {name for name, _, _ in _selectors(expr)}
            problems += _check(expr, f"panel {panel['id']} {panel['title']!r}")
    assert not problems, "\n".join(problems)
    # the panels issue 17 asked for: margin health, liquidation distance, risk alerts, the gateway
    assert {"arbflow_desk_margin_health", "arbflow_portfolio_margin_health", "arbflow_desk_liquidation_distance",
            "arbflow_risk_alerts_total", "arbflow_venue_up", "arbflow_venue_exposure_usd",
            "arbflow_venue_errors_total", "arbflow_venue_retries_total"} <= queried


def test_template_variables_venue_and_asset_are_defined_and_used_on_metrics_with_that_label() -> None:
    queries = _variable_queries()
    assert set(queries) == {"venue", "asset"}
    for name, query in queries.items():
        match = re.fullmatch(r"label_values\((\{.*\}),\s*(\w+)\)", query)
        assert match and match[2] == name, query
        [(metric_regex, _, _)] = [(m.value, None, None) for m in promql_parser.parse(match[1]).matchers.matchers
                                  if m.name == "__name__"]
        carriers = [m for m, labels in EXPORTED.items() if re.fullmatch(metric_regex, m) and name in labels]
        assert carriers, f"${name}: no exported metric matching {metric_regex} has a {name!r} label"
    used = {next(g for g in m.groups() if g) for p in _panels() for t in p["targets"]
            for m in GRAFANA_VARIABLE.finditer(t["expr"])}
    assert used - GRAFANA_BUILTINS == set(queries), "a panel uses an undefined variable, or a variable is unused"
    for panel in _panels():
        for target in panel["targets"]:
            for selector in re.findall(r"\{[^}]*\}", target["expr"]):
                for label, variable in re.findall(r'(\w+)=~"\$(\w+)', selector):
                    # $asset also narrows the funding gauges through their symbol ("BTC/USDT:USDT")
                    assert label == variable or (variable, label) == ("asset", "symbol"), (panel["title"], selector)


def test_the_dashboard_uses_the_provisioned_datasource_and_unique_panel_ids() -> None:
    document = _dashboard()
    panels = _panels()
    assert {t["datasource"]["uid"] for p in panels for t in p["targets"]} == {"prometheus"}
    assert {v["datasource"]["uid"] for v in document["templating"]["list"]} == {"prometheus"}
    ids = [p["id"] for p in document["panels"]]
    assert len(set(ids)) == len(ids)
    cells = [(x, y) for p in panels for x in range(p["gridPos"]["x"], p["gridPos"]["x"] + p["gridPos"]["w"])
             for y in range(p["gridPos"]["y"], p["gridPos"]["y"] + p["gridPos"]["h"])]
    assert len(set(cells)) == len(cells), "two panels overlap"


# ---- the alert rules


def test_prometheus_loads_the_alert_rules_file() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert [PROMETHEUS.parent / f for f in config["rule_files"]] == [RULES]


def test_alert_rules_have_the_fields_promtool_requires_and_parse() -> None:
    document = _rules()
    assert set(document) == {"groups"}
    groups = document["groups"]
    assert len({g["name"] for g in groups}) == len(groups), "group names must be unique"
    names = []
    for group in groups:
        assert set(group) <= {"name", "interval", "limit", "rules"} and group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert {"alert", "expr", "for", "labels", "annotations"} <= set(rule), rule.get("alert")
            assert LABEL_NAME.match(rule["alert"]) and DURATION.match(rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
            assert rule["annotations"]["summary"].strip(), rule["alert"]
            assert all(LABEL_NAME.match(k) for k in (*rule["labels"], *rule["annotations"])), rule["alert"]
            promql_parser.parse(rule["expr"])  # raises on a syntax error, as promtool does
            names.append(rule["alert"])
    assert len(set(names)) == len(names), "alert names must be unique"


def test_every_alert_expression_uses_exported_metrics_labels_and_reason_codes() -> None:
    problems = [p for group in _rules()["groups"] for rule in group["rules"]
                for p in _check(rule["expr"], rule["alert"])]
    assert not problems, "\n".join(problems)


def test_alert_templates_name_only_labels_the_expression_keeps() -> None:
    for group in _rules()["groups"]:
        for rule in group["rules"]:
            kept = _kept_labels(promql_parser.parse(rule["expr"]))
            for text in rule["annotations"].values():
                for label in re.findall(r"\$labels\.(\w+)", text):
                    assert label in kept, f"{rule['alert']}: {{{{ $labels.{label} }}}} is not in its result"


def _kept_labels(node: Any) -> set[str]:
    """The labels an expression's result series keep (an aggregation keeps its `by` labels)."""
    if isinstance(node, promql_parser.VectorSelector):
        name = node.name or ""
        return set(EXPORTED.get(name, set()))
    if isinstance(node, promql_parser.MatrixSelector):
        return _kept_labels(node.vector_selector)
    if isinstance(node, promql_parser.AggregateExpr):
        modifier = node.modifier
        if modifier is not None and str(modifier.type).endswith("By"):
            return set(modifier.labels)
        return set() if modifier is None else _kept_labels(node.expr) - set(modifier.labels)
    if isinstance(node, promql_parser.BinaryExpr):
        return _kept_labels(node.lhs) or _kept_labels(node.rhs)
    if isinstance(node, promql_parser.Call):
        return set().union(*(_kept_labels(a) for a in node.args)) if node.args else set()
    if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
        return _kept_labels(node.expr)
    return set()


def test_the_breakers_margin_gateway_and_feeds_each_have_an_alert() -> None:
    exprs = {rule["alert"]: rule["expr"] for group in _rules()["groups"] for rule in group["rules"]}
    watched = {name for expr in exprs.values() for name, _, _ in _selectors(expr)}
    assert {"arbflow_risk_alerts_total", "arbflow_desk_margin_health", "arbflow_desk_liquidation_distance",
            "arbflow_venue_up", "arbflow_venue_errors_total", "arbflow_feed_stale", "arbflow_stream_time_ms",
            "arbflow_dead_letters_total", "arbflow_feed_rejects_total"} <= watched
    assert 'reason="BREAKER_ORDER_FAILURES"' in exprs["ArbflowOrderFailureBreakerTripped"]


def test_the_checker_fails_when_a_metric_label_or_reason_is_renamed() -> None:
    assert _check("sum by (venue) (rate(arbflow_venue_error_total[5m]))", "t") == [
        "t: arbflow_venue_error_total is not exported"]
    assert _check('arbflow_desk_margin_health{desk="BTC"}', "t") == [
        "t: arbflow_desk_margin_health has no label 'desk'"]
    assert _check("sum by (market) (arbflow_venue_up)", "t") == ["t: arbflow_venue_up has no label 'market'"]
    assert _check('arbflow_risk_alerts_total{reason=~"HEALTH_CRITICAL|BREAKER_TRIPPED"}', "t") == [
        "t: reason 'BREAKER_TRIPPED' is not a model.reasons code"]
    assert _check("arbflow_venue_up / on (market) arbflow_venue_exposure_usd", "t") == [
        "t: arbflow_venue_up has no label 'market'", "t: arbflow_venue_exposure_usd has no label 'market'"]
    assert _check("histogram_quantile(0.99, sum by (le) (rate(arbflow_end_to_end_seconds_bucket[5m])))", "t") == []
    assert _check("arbflow_end_to_end_seconds_total", "t") == ["t: arbflow_end_to_end_seconds_total is not exported"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: prometheus)")
def test_promtool_accepts_the_rules_and_the_config_when_it_is_installed() -> None:
    for command in (["check", "rules", str(RULES)], ["check", "config", str(PROMETHEUS)]):
        result = subprocess.run(["promtool", *command], capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
