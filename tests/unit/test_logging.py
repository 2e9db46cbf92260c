"""Logging (cli/logs.py): the text and JSON line formats with UTC timestamps and component
names, the level, and the redaction of secrets — credentials from the environment and their
files, secret-named configuration keys, URL passwords — in messages, arguments and
tracebacks; then the root command's options and their environment variables, end to end
in a subprocess."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from arbflow.cli import logs
from arbflow.model.config import Config
from arbflow.reports.configuration import plain

ARBFLOW = str(Path(sys.executable).parent / "arbflow")
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|DEBUG|ERROR) arbflow\.[a-z_.]+: ")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger's arbflow handler writing into a buffer; the previous state restored."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    logs.redactor.__init__()  # forget the test's secrets in place: other modules hold this very object


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_text_line_has_the_utc_time_the_level_and_the_component_when_logged(captured: io.StringIO) -> None:
    logs.configure("info", "text", stream=captured, env={})
    logging.getLogger("arbflow.alerts").warning("alert %s on %s", "HEALTH_LOW", "binance")
    [line] = _lines(captured)
    assert TEXT_LINE.match(line), line
    assert line.endswith("WARNING arbflow.alerts: alert HEALTH_LOW on binance")


def test_a_json_line_carries_ts_level_logger_and_message_when_the_format_is_json(captured: io.StringIO) -> None:
    logs.configure("INFO", "json", stream=captured, env={})
    record = logging.LogRecord("arbflow.status", logging.INFO, __file__, 1, "records %d/s", (12,), None)
    record.created = 1_796_673_119.5
    logging.getLogger("arbflow.status").handle(record)
    [line] = _lines(captured)
    assert json.loads(line) == {"ts": "2026-12-07T19:51:59.500Z", "ts_ms": 1_796_673_119_500, "level": "INFO",
                                "logger": "arbflow.status", "msg": "records 12/s"}


def test_lines_below_the_level_are_dropped_when_the_level_is_warning(captured: io.StringIO) -> None:
    logs.configure("warning", "text", stream=captured, env={})
    logging.getLogger("arbflow.config").info("not shown")
    logging.getLogger("arbflow.config").debug("not shown either")
    logging.getLogger("arbflow.config").error("shown")
    assert [line.split(": ", 1)[1] for line in _lines(captured)] == ["shown"]


def test_a_traceback_stays_on_the_one_line_when_an_exception_is_logged(captured: io.StringIO) -> None:
    logs.configure("info", "text", stream=captured, env={})
    try:
        raise RuntimeError("the venue went away")
    except RuntimeError:
        logging.getLogger("arbflow.live_gateway").exception("lane stopped")
    [line] = _lines(captured)
    assert "lane stopped | Traceback" in line and line.endswith("RuntimeError: the venue went away")


def test_an_unknown_level_or_format_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match="log level 'verbose'"):
        logs.configure("verbose", "text", env={})
    with pytest.raises(ValueError, match="log format 'xml'"):
        logs.configure("info", "xml", env={})


def test_credentials_from_env_and_secret_files_are_masked_when_they_reach_a_line(
        captured: io.StringIO, tmp_path: Path) -> None:
    secret_file = tmp_path / "okx_secret"
    secret_file.write_text("file-held-secret-value\n")
    env = {"ARBFLOW_BINANCE_API_KEY": "bnKEY1234567", "ARBFLOW_OKX_SECRET_FILE": str(secret_file),
           "ARBFLOW_ALERTS__TELEGRAM_TOKEN": "123456:telegram-token", "HOME": "/home/arbflow"}
    logs.configure("info", "json", stream=captured, env=env)
    log = logging.getLogger("arbflow.live_venue")
    log.info("key %s secret %s token %s home %s", "bnKEY1234567", "file-held-secret-value", "123456:telegram-token",
             "/home/arbflow")
    try:
        raise ValueError("signed with bnKEY1234567")
    except ValueError:
        log.exception("request failed")
    text = captured.getvalue()
    for secret in ("bnKEY1234567", "file-held-secret-value", "telegram-token"):
        assert secret not in text
    first, second = (json.loads(line) for line in _lines(captured))
    assert first["msg"] == "key *** secret *** token *** home /home/arbflow"  # not a secret: kept
    assert second["exc"].endswith("ValueError: signed with ***")


def test_url_passwords_are_masked_when_a_line_names_a_service(captured: io.StringIO) -> None:
    logs.configure("info", "text", stream=captured, env={})
    logging.getLogger("arbflow.config").info("redis %s kafka %s", "rediss://default:pa55word@cache:6380/0",
                                             "SASL_SSL://broker:9093")
    [line] = _lines(captured)
    assert line.endswith("redis rediss://default:***@cache:6380/0 kafka SASL_SSL://broker:9093")


def test_secret_named_config_keys_and_url_passwords_are_collected_when_the_config_loads() -> None:
    tree = plain(Config())
    tree["redis"]["url"] = "redis://:hunter2-redis@127.0.0.1:6379/0"
    tree["kafka"]["client"] = {"sasl.username": "arbflow", "sasl.password": "kafka-pass-1", "ssl.key.password": "k3y"}
    found = logs.config_secrets(tree)
    assert sorted(found) == ["hunter2-redis", "k3y", "kafka-pass-1"]
    redact = logs.Redactor(found)
    assert redact("user arbflow pw kafka-pass-1 key k3y") == "user arbflow pw *** key k3y"  # 3 chars: too short


def _arbflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_") and k not in ("REDIS_URL",)}
    return subprocess.run([ARBFLOW, *args], env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_the_root_options_and_their_env_set_level_and_format_when_a_command_runs() -> None:
    env = {"REDIS_URL": "redis://:s3cret-pw@127.0.0.1:1/0", "ARBFLOW_LOG_LEVEL": "debug"}
    by_option = _arbflow("--log-format", "json", "config", env=env)
    assert by_option.returncode == 0, by_option.stderr
    [line] = [json.loads(text) for text in by_option.stderr.splitlines()]
    assert line["logger"] == "arbflow.config" and line["level"] == "DEBUG"
    assert "redis://:***@127.0.0.1:1/0" in line["msg"] and "s3cret-pw" not in by_option.stderr
    by_env = _arbflow("config", env={**env, "ARBFLOW_LOG_FORMAT": "text", "ARBFLOW_LOG_LEVEL": "info"})
    assert by_env.returncode == 0 and by_env.stderr == ""  # the debug line is below info


def test_a_bad_log_level_exits_2_naming_the_option_when_given() -> None:
    result = _arbflow("--log-level", "verbose", "config", env={})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
    assert result.stderr.startswith("arbflow: Invalid value for '--log-level'")


def test_an_error_line_masks_secrets_too_when_a_command_exits(capsys: pytest.CaptureFixture[str]) -> None:
    from arbflow.cli.support import die

    with pytest.raises(SystemExit) as stopped:
        die("Redis at redis://:pw-s3cret@cache:6379/0 did not answer within 3 s [check it]", 1)
    assert stopped.value.code == 1
    expected = "arbflow: Redis at redis://:***@cache:6379/0 did not answer within 3 s [check it]\n"
    assert capsys.readouterr().err == expected  # masked, and the brackets are text, not markup


def test_a_replay_logs_its_alerts_at_debug_and_a_tailing_flow_at_their_severity(
        caplog: pytest.LogCaptureFixture) -> None:
    from arbflow.flows import signal_flow
    from arbflow.model import reasons
    from arbflow.model.portfolio import Alert

    alert = Alert(code=reasons.TOXIC_BASIS, severity="critical", asset="BTC", venue="binance", message="stop", ts=1)
    with caplog.at_level(logging.DEBUG, logger="arbflow.alerts"):
        signal_flow._encode([("BTC", [alert])], quiet_alerts=True)
        signal_flow._encode([("BTC", [alert])])
    assert [r.levelno for r in caplog.records if r.name == "arbflow.alerts"] == [logging.DEBUG, logging.CRITICAL]
