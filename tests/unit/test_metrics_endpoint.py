"""The metrics endpoint of the long-running commands (cli/serving.py): one default port per
command, the same ports the bundled Prometheus scrapes, the loopback as the default address
(`[metrics] host`, `--metrics-host`), and a port or address that cannot be bound refused with
one line and exit code 2 before anything else starts (no OSError traceback). The busy port is
a socket this test binds itself on a free port."""

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from arbflow.cli.ingest import ingest
from arbflow.cli.serving import METRICS_PORTS, serve_metrics
from arbflow.cli.trading import scan, trade
from arbflow.connectors.infra.process import free_port
from arbflow.model.config import Config, MetricsConfig

REPO = Path(__file__).resolve().parents[2]
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
COMMANDS: dict[str, click.Command] = {"scan": scan, "trade": trade, "ingest": ingest}
ARGS = {"scan": [], "trade": ["--mode", "paper"], "ingest": ["--venues", "binance", "--symbols", "BTC"]}


def _default_port(command: click.Command) -> object:
    [option] = [p for p in command.params if p.name == "metrics_port"]
    return option.default


def test_every_serving_command_has_its_own_default_port_from_the_table_when_help_is_built() -> None:
    assert set(COMMANDS) == set(METRICS_PORTS)
    assert {name: _default_port(command) for name, command in COMMANDS.items()} == METRICS_PORTS
    assert len(set(METRICS_PORTS.values())) == len(METRICS_PORTS)


def test_the_bundled_prometheus_scrapes_exactly_the_default_ports_when_its_config_is_read() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "arbflow"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert sorted(int(t.rsplit(":", 1)[1]) for t in targets) == sorted(METRICS_PORTS.values())


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port this test holds (bound and listening on the loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        yield held.getsockname()[1]


def _arbflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    # no service is needed: the endpoint is bound first; an unreachable Kafka would only come after
    clean |= {"KAFKA_BOOTSTRAP": "127.0.0.1:1", "REDIS_URL": "redis://127.0.0.1:1/0", **env}
    return subprocess.run([ARBFLOW, *args], env=clean, capture_output=True, text=True, timeout=60)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", sorted(METRICS_PORTS))
def test_a_busy_port_is_one_line_and_exit_2_when_a_command_starts(command: str, busy_port: int) -> None:
    line = _one_line(_arbflow(command, *ARGS[command], "--metrics-port", str(busy_port)))
    assert line == (f"arbflow: --metrics-port {busy_port}: 127.0.0.1:{busy_port} is already in use (another "
                    "arbflow command?); pick another port, or 0 for no metrics")


def test_an_address_not_on_this_host_is_one_line_and_exit_2_when_configured() -> None:
    port = free_port()
    line = _one_line(_arbflow("scan", "--metrics-port", str(port), ARBFLOW_METRICS__HOST="192.0.2.1"))
    assert line.startswith(f"arbflow: --metrics-port {port}: cannot listen on 192.0.2.1:{port} (")


def test_the_endpoint_listens_on_the_loopback_by_default_and_on_the_host_given_when_started() -> None:
    assert Config().metrics == MetricsConfig(host="127.0.0.1")
    for host, config in ((None, Config()), ("127.0.0.2", Config()),
                         (None, Config(metrics=MetricsConfig(host="127.0.0.3")))):
        server = serve_metrics(config, host, free_port())
        try:
            address, port = server.server_address[:2]
            assert address == (host or config.metrics.host)
            with urllib.request.urlopen(f"http://{address}:{port}/metrics", timeout=10) as answer:
                assert answer.status == 200 and b"# TYPE " in answer.read()
        finally:
            server.shutdown()
            server.server_close()
    assert serve_metrics(Config(), None, 0) is None  # port 0: no endpoint
