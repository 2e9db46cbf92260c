"""docker-compose.kafka.yml and the files it mounts, checked by parsing them (no Docker
engine needed): services, images, KRaft settings, listeners, ports, mounts, health
checks, and that the documented environment works with arbflow's config parser."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from arbflow.model.config import parse_config
from tests.conftest import COMPOSE_FILE, REPO

SERVICES = {
    "kafka": "apache/kafka",
    "redis": "redis",
    "prometheus": "prom/prometheus",
    "grafana": "grafana/grafana",
}


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (mapping or `KEY=value` list form)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return env


def published_ports(service: dict[str, Any]) -> set[tuple[int, int]]:
    """(host port, container port) pairs from short (`[ip:]host:container[/proto]`)
    and long (`published`/`target`) port syntax."""
    pairs = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        assert len(parts) >= 2, f"port {entry!r} is not published on the host"
        pairs.add((int(parts[-2]), int(parts[-1])))
    return pairs


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    found = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            found.append((str(entry.get("source", "")), str(entry["target"])))
        else:
            parts = str(entry).split(":")
            found.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
    return found


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def host_mount(service: dict[str, Any], target: str) -> Path:
    sources = [source for source, mounted_at in mounts(service) if mounted_at == target]
    assert len(sources) == 1 and is_host_path(sources[0]), f"nothing from the repo mounted at {target}"
    return (COMPOSE_FILE.parent / sources[0]).resolve()


def header_comment() -> str:
    lines = []
    for line in COMPOSE_FILE.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_the_four_services_use_the_expected_images(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services)
    for name, image in SERVICES.items():
        repository, _, tag = services[name]["image"].rpartition(":")
        assert repository == image, name
        assert tag and tag != "latest", f"{name} must pin a version"


def test_no_zookeeper_anywhere(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "zookeeper" not in name.lower()
        assert "zookeeper" not in str(service.get("image", "")).lower()
        assert not any("ZOOKEEPER" in key for key in environment(service)), name


def test_kafka_runs_in_kraft_mode_as_a_single_combined_node(services: dict[str, dict[str, Any]]) -> None:
    env = environment(services["kafka"])
    roles = {role.strip() for role in env["KAFKA_PROCESS_ROLES"].split(",")}
    assert roles == {"broker", "controller"}
    node_id = env["KAFKA_NODE_ID"]
    assert str(node_id).isdigit()
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert [voter.split("@")[0] for voter in voters] == [str(node_id)]
    assert env["CLUSTER_ID"]
    controller_names = env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    listener_names = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert set(controller_names) <= listener_names


def test_environment_values_are_strings(services: dict[str, dict[str, Any]]) -> None:
    """Compose rejects YAML booleans in `environment` on some versions; quote them."""
    for name, service in services.items():
        for key, value in environment(service).items():
            assert isinstance(value, str), f"{name}.{key} = {value!r} is not a string"


def test_kafka_has_an_internal_and_a_host_listener(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    env = environment(kafka)
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert "kafka:9092" in advertised.values()
    host_listeners = [name for name, address in advertised.items() if address == "localhost:9094"]
    assert len(host_listeners) == 1
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    assert listeners[host_listeners[0]].endswith(":9094")
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    assert (9094, 9094) in published_ports(kafka)


def test_kafka_does_not_create_topics_on_its_own(services: dict[str, dict[str, Any]]) -> None:
    assert environment(services["kafka"])["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_kafka_keeps_its_data_in_a_named_volume(compose: dict[str, Any],
                                                services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    log_dirs = environment(kafka)["KAFKA_LOG_DIRS"]
    named = {target: source for source, target in mounts(kafka) if not is_host_path(source)}
    assert log_dirs in named
    assert named[log_dirs] in (compose.get("volumes") or {})


def test_kafka_healthcheck_asks_the_broker(services: dict[str, dict[str, Any]]) -> None:
    test = services["kafka"]["healthcheck"]["test"]
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(test if isinstance(test, list) else [test])


def test_redis_is_published_without_persistence(services: dict[str, dict[str, Any]]) -> None:
    redis = services["redis"]
    assert (6379, 6379) in published_ports(redis)
    command = redis["command"]
    assert isinstance(command, list)
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_prometheus_scrapes_arbflow_on_the_host(services: dict[str, dict[str, Any]]) -> None:
    prometheus = services["prometheus"]
    assert (9090, 9090) in published_ports(prometheus)
    assert "host.docker.internal:host-gateway" in prometheus["extra_hosts"]
    config_path = host_mount(prometheus, "/etc/prometheus/prometheus.yml")
    assert config_path.is_file()
    config = yaml.safe_load(config_path.read_text())
    assert config["global"]["scrape_interval"] == "5s"
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
               for job in config["scrape_configs"]}
    assert any("host.docker.internal:9400" in found for found in targets.values())
    assert any("localhost:9090" in found for found in targets.values())
    for rule_file in config["rule_files"]:  # relative to the config file, so mounted beside it
        assert host_mount(prometheus, f"/etc/prometheus/{rule_file}") == config_path.parent / rule_file


def test_grafana_is_published_and_provisioned(services: dict[str, dict[str, Any]]) -> None:
    grafana = services["grafana"]
    assert (3000, 3000) in published_ports(grafana)
    env = environment(grafana)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"

    provisioning = host_mount(grafana, "/etc/grafana/provisioning")
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    [prometheus] = [d for d in datasources["datasources"] if d["type"] == "prometheus"]
    assert prometheus["url"] == "http://prometheus:9090"
    assert prometheus["uid"] == "prometheus"

    providers = yaml.safe_load((provisioning / "dashboards" / "arbflow.yml").read_text())["providers"]
    dashboards_dirs = {p["options"]["path"] for p in providers if p["type"] == "file"}
    assert "/var/lib/grafana/dashboards" in dashboards_dirs
    dashboards = host_mount(grafana, "/var/lib/grafana/dashboards")
    assert dashboards.is_dir()
    for dashboard in dashboards.glob("*.json"):  # no "export for sharing" placeholders
        assert "${DS_" not in dashboard.read_text(), f"{dashboard.name}: use datasource uid 'prometheus'"


def test_every_mount_exists(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, target in mounts(service):
            if is_host_path(source):
                path = (COMPOSE_FILE.parent / source).resolve()
                assert path.exists(), f"{name} mounts {source} at {target}, which is not in the repo"
                assert path.is_relative_to(REPO), f"{name} mounts {source} from outside the repo"
            elif source:  # "" = an anonymous volume
                assert source in declared_volumes, f"{name} uses undeclared volume {source}"


def test_healthchecks_have_a_test(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "healthcheck" in service:
            assert service["healthcheck"].get("test"), f"{name} has a healthcheck without a test"


def test_depends_on_refers_to_defined_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        for dependency in depends:
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            if isinstance(depends, dict) and depends[dependency].get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits for {dependency}'s health"


def test_documented_environment_is_accepted_by_the_config_parser(services: dict[str, dict[str, Any]]) -> None:
    header = header_comment()
    assert "docker compose -f docker-compose.kafka.yml up -d" in header
    assert "arbflow infra up" in header
    documented = dict(re.findall(r"\b(KAFKA_BOOTSTRAP|REDIS_URL)=(\S+)", header))
    assert documented == {"KAFKA_BOOTSTRAP": "localhost:9094", "REDIS_URL": "redis://localhost:6379/0"}

    config = parse_config({}, documented)
    assert config.kafka.bootstrap == "localhost:9094"
    assert config.redis.url == "redis://localhost:6379/0"

    # …and they point at what the stack publishes.
    assert (9094, 9094) in published_ports(services["kafka"])
    assert (6379, 6379) in published_ports(services["redis"])
