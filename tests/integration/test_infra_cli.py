"""`arbflow infra up|status|down` and the CLI's error handling, run as a user would
(a subprocess with its own state directory and free ports)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arbflow.connectors.infra import process

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ARBFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_") and k not in ("KAFKA_BOOTSTRAP",
                                                                                          "REDIS_URL")}
    env.update({"ARBFLOW_INFRA__STATE_DIR": str(tmp_path / "state"), "ARBFLOW_INFRA__KAFKA_PORT": "0",
                "ARBFLOW_INFRA__REDIS_PORT": "0"})
    return env


def test_infra_up_is_idempotent_and_down_stops_only_what_it_started(user_env: dict[str, str]) -> None:
    try:
        first = _run(["infra", "up"], user_env)
        assert first.returncode == 0, first.stderr
        assert "started now" in first.stdout and "topics" in first.stdout
        status = json.loads(_run(["infra", "status", "--json"], user_env).stdout)
        assert status["kafka"]["running"] and status["redis"]["running"]
        second = _run(["infra", "up"], user_env)
        assert second.returncode == 0 and "started now" not in second.stdout
        again = json.loads(_run(["infra", "status", "--json"], user_env).stdout)
        assert (again["kafka"]["pid"], again["redis"]["pid"]) == (status["kafka"]["pid"], status["redis"]["pid"])
    finally:
        down = _run(["infra", "down"], user_env)
    assert down.returncode == 0 and "tansu" in down.stdout and "redis" in down.stdout
    after = _run(["infra", "status"], user_env)
    assert after.returncode == 1 and "not running" in after.stdout
    assert "nothing of ours" in _run(["infra", "down"], user_env).stdout


def test_an_unreachable_broker_is_a_clear_error_not_a_hang(user_env: dict[str, str]) -> None:
    closed = process.free_port()
    env = {**user_env, "KAFKA_BOOTSTRAP": f"127.0.0.1:{closed}", "ARBFLOW_KAFKA__CONNECT_TIMEOUT_S": "2"}
    result = _run(["infra", "up"], env, timeout=30)
    assert result.returncode == 1
    assert f"Kafka at 127.0.0.1:{closed} did not answer within 2 s" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_redis_is_a_clear_error_not_a_hang(user_env: dict[str, str], kafka_bootstrap: str) -> None:
    closed = process.free_port()
    env = {**user_env, "KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": f"redis://127.0.0.1:{closed}/0"}
    result = _run(["infra", "up"], env, timeout=30)
    assert result.returncode == 1
    assert f"Redis at redis://127.0.0.1:{closed}/0 did not answer" in result.stderr


def test_a_bad_config_value_exits_2_with_one_line_naming_the_key(user_env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["config"], {**user_env, "ARBFLOW_KAFKA__PARTITIONS": "zero"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "arbflow: config error: kafka.partitions: got 'zero'; allowed: an integer"]
    file = tmp_path / "bad.toml"
    file.write_text("[kafka]\npartitions = 0\n")
    result = _run(["--config", str(file), "infra", "status"], user_env)
    assert result.returncode == 2 and "kafka.partitions: got 0; allowed: an integer from 1 to 1024" in result.stderr
    missing = _run(["--config", str(tmp_path / "nope.toml"), "config"], user_env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_every_command_explains_itself_in_help(user_env: dict[str, str]) -> None:
    for args in (["--help"], ["infra", "--help"], ["infra", "up", "--help"], ["infra", "status", "--help"],
                 ["infra", "down", "--help"], ["replay", "--help"], ["convert", "hftbacktest", "--help"],
                 ["convert", "funding", "--help"], ["convert", "cryptofeed", "--help"],
                 ["schema", "--help"], ["config", "--help"], ["record", "--help"],
                 ["scan", "--help"], ["scores", "--help"], ["ingest", "--help"],
                 ["dashboard", "--help"], ["study", "funding", "--help"],
                 ["simulate-margin", "--help"], ["allocate", "--help"]):
        result = _run(args, user_env)
        assert result.returncode == 0 and "Usage: arbflow" in result.stdout, args
    replay_help = _run(["replay", "--help"], user_env).stdout
    for option in ("--speed", "--workers", "--out", "--json"):
        assert option in replay_help
