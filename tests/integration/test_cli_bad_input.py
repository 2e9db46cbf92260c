"""The CLI's bad-input matrix: bad files, configurations, ports, unreachable services and
bad options, each run as a user would (a subprocess with its own state directory), each
ending with its exit code (README "Exit codes"), exactly one `arbflow: …` line on stderr
and no traceback. Kafka and Redis point at closed ports with short connect timeouts, so no
case starts a service or waits long. An unexpected error (in process, a command made to
raise) is one line naming the log file that holds its traceback; `--debug` prints it."""

import gzip
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from arbflow.cli.main import main
from arbflow.connectors.infra import process

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
FUNDING = Path(__file__).parents[2] / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
NOT_UTF8 = bytes(range(128, 256)) * 4 + b"\r\n\x00\xff\xfe\r"  # no text encoding reads it as CSV or TOML


def _files(root: Path) -> None:
    """The inputs the cases name, written once per test into its directory."""
    (root / "empty.csv").write_bytes(b"")
    (root / "binary.csv").write_bytes(NOT_UTF8)
    (root / "binary.toml").write_bytes(NOT_UTF8)
    (root / "binary.json").write_bytes(NOT_UTF8)
    (root / "wrong.csv").write_text("a,b,c\n1,2,3\n")
    (root / "truncated.csv.gz").write_bytes(FUNDING.read_bytes()[:3000])
    (root / "garbage.csv.gz").write_bytes(gzip.compress(NOT_UTF8)[:20])
    (root / "bad.toml").write_text("[kafka\npartitions = 3\n")
    (root / "unknown_key.toml").write_text("[kafka]\npartitionz = 3\n")
    (root / "bad_value.toml").write_text("[kafka]\npartitions = 0\n")
    (root / "wrong_type.toml").write_text('[replay]\nworkers = "many"\n')
    (root / "bad_port.toml").write_text("[infra]\nkafka_port = 70000\n")
    (root / "unknown_section.toml").write_text("[kafak]\npartitions = 3\n")
    (root / "account.json").write_text("{}\n")
    (root / "not_json.json").write_text("{ this is not json\n")
    (root / "adir.toml").mkdir()


# (id, argv, extra environment, exit code, a fragment of the one line)
CASES: list[tuple[str, list[str], dict[str, str], int, str]] = [
    # files
    ("replay-missing-file", ["replay", "nope.jsonl"], {}, 2, "does not exist"),
    ("replay-directory", ["replay", "adir.toml"], {}, 2, "is a directory"),
    ("backtest-missing-file", ["backtest", "nope.csv.gz"], {}, 2, "does not exist"),
    ("backtest-binary-file", ["backtest", "binary.csv"], {}, 2, "missing column"),
    ("backtest-wrong-columns", ["backtest", "wrong.csv"], {}, 2, "missing column"),
    ("bars-empty-file", ["convert", "bars", "empty.csv", "--out", "o.jsonl"], {}, 2, "no column names"),
    ("bars-binary-file", ["convert", "bars", "binary.csv", "--out", "o.jsonl"], {}, 2, "no column names"),
    ("bars-wrong-columns", ["convert", "bars", "wrong.csv", "--out", "o.jsonl"], {}, 2, "columns: a, b, c"),
    ("funding-binary-file", ["convert", "funding", "binary.csv", "--out", "o.jsonl"], {}, 2, "no column names"),
    ("funding-wrong-columns", ["convert", "funding", "wrong.csv", "--out", "o.jsonl"], {}, 2, "columns: a, b, c"),
    ("funding-truncated-gz", ["convert", "funding", "truncated.csv.gz", "--out", "o.jsonl"], {}, 1,
     "damaged gzip file"),
    ("quotes-empty-file", ["convert", "quotes", "empty.csv", "--out", "o.jsonl"], {}, 2, "no column names"),
    ("quotes-garbage-gz", ["convert", "quotes", "garbage.csv.gz", "--out", "o.jsonl"], {}, 2, "quotes layout"),
    ("hftbacktest-wrong-name", ["convert", "hftbacktest", "binary.csv", "--out", "o.jsonl"], {}, 2,
     "Invalid value"),
    ("cryptofeed-wrong-name", ["convert", "cryptofeed", "empty.csv", "--out", "o.jsonl"], {}, 2, "Invalid value"),
    ("margin-binary-json", ["simulate-margin", "binary.json"], {}, 2, "not valid JSON"),
    ("margin-not-json", ["simulate-margin", "not_json.json"], {}, 2, "not valid JSON"),
    ("margin-missing-fields", ["simulate-margin", "account.json"], {}, 2, "required field is missing"),
    ("allocate-binary-json", ["allocate", "binary.json"], {}, 2, "not valid JSON"),
    # configurations
    ("config-binary", ["--config", "binary.toml", "config"], {}, 2, "not a text file"),
    ("config-bad-toml", ["--config", "bad.toml", "config"], {}, 2, "not valid TOML"),
    ("config-missing", ["--config", "nope.toml", "config"], {}, 2, "does not exist"),
    ("config-directory", ["--config", "adir.toml", "config"], {}, 2, "is a directory"),
    ("config-unknown-key", ["--config", "unknown_key.toml", "config"], {}, 2, "partitionz"),
    ("config-unknown-section", ["--config", "unknown_section.toml", "config"], {}, 2, "kafak"),
    ("config-bad-value", ["--config", "bad_value.toml", "config"], {}, 2, "kafka.partitions"),
    ("config-wrong-type", ["--config", "wrong_type.toml", "config"], {}, 2, "replay.workers"),
    ("config-binary-by-env", ["config"], {"ARBFLOW_CONFIG": "binary.toml"}, 2, "not a text file"),
    ("env-bad-value", ["config"], {"ARBFLOW_KAFKA__PARTITIONS": "lots"}, 2, "kafka.partitions"),
    ("env-bad-timeout", ["config"], {"ARBFLOW_REDIS__CONNECT_TIMEOUT_S": "-1"}, 2, "redis.connect_timeout_s"),
    # ports
    ("config-port-out-of-range", ["--config", "bad_port.toml", "config"], {}, 2, "infra.kafka_port"),
    ("metrics-port-out-of-range", ["scan", "--metrics-port", "70000"], {}, 2, "--metrics-port"),
    ("metrics-port-negative", ["trade", "--metrics-port", "-5"], {}, 2, "--metrics-port"),
    ("metrics-port-busy-scan", ["scan", "--metrics-port", "{busy}"], {}, 2, "already in use"),
    ("metrics-port-busy-trade", ["trade", "--metrics-port", "{busy}"], {}, 2, "already in use"),
    # services (KAFKA_BOOTSTRAP and REDIS_URL point at closed ports)
    ("kafka-unreachable-scan", ["scan", "--metrics-port", "0"], {}, 1, "not reachable"),
    ("kafka-unreachable-trade", ["trade", "--metrics-port", "0"], {}, 1, "not reachable"),
    ("kafka-unreachable-record", ["record", "--out", "r.jsonl", "--idle-exit", "1"], {}, 1, "not reachable"),
    ("kafka-unreachable-rebuild", ["rebuild-redis"], {}, 1, "not reachable"),
    ("kafka-unreachable-replay", ["replay", "--publish-only", "wrong.csv"], {}, 1, "did not answer"),
    ("redis-unreachable-ingest", ["ingest", "--from-redis", ""], {}, 1, "Redis is not reachable"),
    ("kafka-unreachable-ingest", ["ingest", "--from-redis", "{redis}"], {}, 1, "Kafka is not reachable"),
    ("infra-up-unreachable", ["infra", "up"], {}, 1, "127.0.0.1"),
    # bad options
    ("unknown-option", ["--bogus"], {}, 2, "No such option"),
    ("unknown-command", ["nosuch"], {}, 2, "No such command"),
    ("bad-log-level", ["--log-level", "verbose", "config"], {}, 2, "--log-level"),
    ("bad-speed", ["replay", "--speed", "-1", "wrong.csv"], {}, 2, "--speed"),
    ("bad-workers", ["scan", "--workers", "0"], {}, 2, "--workers"),
    ("missing-argument", ["convert", "bars"], {}, 2, "Missing argument"),
    ("missing-out", ["convert", "funding", "wrong.csv"], {}, 2, "--out"),
    ("ingest-without-symbols", ["ingest", "--venues", "binance", "--metrics-port", "0"], {}, 2, "--symbols"),
]


@pytest.fixture(scope="module")
def closed_ports() -> tuple[int, int]:
    """Two ports nothing listens on (Kafka, Redis)."""
    return process.free_port(), process.free_port()


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest.fixture
def user_env(tmp_path: Path, closed_ports: tuple[int, int]) -> dict[str, str]:
    kafka_port, redis_port = closed_ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_") and k not in ("KAFKA_BOOTSTRAP",
                                                                                          "REDIS_URL")}
    env.update({"ARBFLOW_INFRA__STATE_DIR": str(tmp_path / "state"), "KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
                "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "ARBFLOW_KAFKA__CONNECT_TIMEOUT_S": "1",
                "ARBFLOW_REDIS__CONNECT_TIMEOUT_S": "0.5", "ARBFLOW_LOG_FORMAT": "text", "COLUMNS": "200"})
    _files(tmp_path)
    return env


@pytest.mark.parametrize(("argv", "extra", "code", "fragment"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_is_one_line_and_its_exit_code(argv: list[str], extra: dict[str, str], code: int, fragment: str,
                                                 user_env: dict[str, str], tmp_path: Path, busy_port: int) -> None:
    redis_url = user_env["REDIS_URL"]
    args = [a.format(busy=busy_port, redis=redis_url) for a in argv]
    result = subprocess.run([ARBFLOW, *args], env={**user_env, **extra}, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=False)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and "panicked" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("arbflow: ") and fragment in lines[0], lines[0]


def test_the_matrix_covers_files_configs_ports_services_and_options() -> None:
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.fixture
def raising_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., object]:
    """`arbflow config` made to fail in a way arbflow does not expect."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARBFLOW_CONFIG", raising=False)
    monkeypatch.delenv("ARBFLOW_DEBUG", raising=False)
    monkeypatch.setenv("ARBFLOW_INFRA__STATE_DIR", str(tmp_path / "state"))

    def broken(_ctx: object) -> object:
        raise RuntimeError("an internal invariant broke\nacross two lines")

    monkeypatch.setattr("arbflow.cli.describe.load", broken)
    return broken


def test_an_unexpected_error_is_one_line_naming_its_traceback_file(raising_config: object, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["config"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("arbflow: unexpected error: RuntimeError: an internal invariant broke across two lines")
    logs = list((tmp_path / "state" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in lines[0]
    text = logs[0].read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: an internal invariant broke" in text


def test_debug_prints_the_traceback_instead(raising_config: object, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--debug", "config"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr and "raise RuntimeError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("arbflow: unexpected error: RuntimeError")
    assert not (tmp_path / "state" / "logs").exists()


def test_redis_refusing_writes_mid_replay_is_one_line_after_the_report(kafka_bootstrap: str, tmp_path: Path,
                                                                       user_env: dict[str, str]) -> None:
    """Redis answers the start-up check, then refuses every write of the flow (out of memory):
    the Redis sink's `DeliveryFailed` stops the flow. No Rust panic on the terminal (it is in
    the native log), the summary of what the flow did is printed and written, then one line,
    exit 1."""
    from arbflow.connectors.infra import redis_server
    from arbflow.sinks.redis_client import connect
    from tests.markets import two_venue_market

    (tmp_path / "redis").mkdir()
    port = process.free_port()
    redis_server.start(tmp_path / "redis", port, timeout_s=30)
    try:
        client = connect(f"redis://127.0.0.1:{port}/0", 2)
        client.config_set("maxmemory-policy", "noeviction")
        client.config_set("maxmemory", "1")
        client.close()
        market = two_venue_market(tmp_path / "market.jsonl")
        env = {**user_env, "KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": f"redis://127.0.0.1:{port}/0",
               "ARBFLOW_KAFKA__TOPIC_PREFIX": f"t{port}.", "ARBFLOW_SCANNER__MIN_SCORE": "0"}
        result = subprocess.run([ARBFLOW, "replay", str(market), "--out", "out"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
    finally:
        process.stop(tmp_path / "redis", redis_server.NAME)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert "panicked" not in result.stderr and "outputs.rs" not in result.stderr and "Traceback" not in result.stderr
    assert lines[-1].startswith("arbflow: Redis write of") and "maxmemory" in lines[-1], lines[-1]
    assert sum(line.startswith("arbflow:") for line in lines) == 1, result.stderr
    assert "Records per topic" in result.stdout  # the summary of what the flow did before it stopped
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["failure"].startswith("Redis write of") and summary["published"]
    native = list((tmp_path / "state" / "logs").glob("replay-native-*.log"))
    assert len(native) == 1 and "panicked" in native[0].read_text()
