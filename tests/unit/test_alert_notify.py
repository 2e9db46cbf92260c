"""Alerts out (sinks/alert_notify.py) against a local HTTP server: the three wire formats
(generic JSON webhook, Slack incoming webhook, Telegram sendMessage), one message per
episode, retries then one log line, and a hanging endpoint that never blocks `notify`."""

import logging
import threading
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from arbflow.cli.logs import Redactor
from arbflow.model import reasons
from arbflow.model.config import AlertsConfig, parse_config
from arbflow.model.errors import ConfigError
from arbflow.model.portfolio import Alert
from arbflow.sinks.alert_notify import AlertNotifier, EpisodeGate, destinations, secrets_of
from tests.webhook_server import endpoint

TOKEN = "123456:AAH-secret-bot-token"


def _alert(ts: int, code: str = reasons.BREAKER_ORDER_FAILURES, venue: str = "okx",
           severity: str = "warning") -> Alert:
    return Alert(code=code, severity=severity, message="25 % of the last 20 orders refused", venue=venue,  # type: ignore[arg-type]
                 asset="BTC", value=D("0.25"), threshold=D("0.2"), ts=ts)


def _send(config: AlertsConfig, alerts: list[Alert]) -> AlertNotifier:
    notifier = AlertNotifier(config, destinations(config)).start()
    for alert in alerts:
        notifier.notify(alert)
    assert notifier.close()
    return notifier


def test_the_three_formats_reach_their_endpoints(tmp_path: Path) -> None:
    token_file = tmp_path / "telegram_token"
    token_file.write_text(TOKEN + "\n")
    with endpoint() as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook", slack_webhook_url=f"{server.base}/slack",
                              telegram_bot_token_file=str(token_file), telegram_chat_id="-1001",
                              telegram_api=f"{server.base}/tg")
        notifier = _send(config, [_alert(1_000)])
        bodies = dict(server.received)
    assert notifier.sent == 3 and notifier.failed == 0
    line = "[WARNING] BREAKER_ORDER_FAILURES BTC okx: 25 % of the last 20 orders refused (value 0.25, threshold 0.2)"
    assert bodies["/hook"] == {"code": "BREAKER_ORDER_FAILURES", "severity": "warning",
                               "message": "25 % of the last 20 orders refused", "venue": "okx", "asset": "BTC",
                               "value": "0.25", "threshold": "0.2", "ts": 1_000, "text": line}
    assert bodies["/slack"] == {"text": line}
    assert bodies[f"/tg/bot{TOKEN}/sendMessage"] == {"chat_id": "-1001", "text": line,
                                                      "disable_web_page_preview": True}


def test_secrets_come_from_the_environment_and_are_redacted() -> None:
    config = parse_config({}, {"ARBFLOW_ALERTS__SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/xyz",
                               "ARBFLOW_ALERTS__TELEGRAM_BOT_TOKEN": TOKEN,
                               "ARBFLOW_ALERTS__TELEGRAM_CHAT_ID": "42"})
    dests = destinations(config.alerts)
    assert [d.kind for d in dests] == ["slack", "telegram"]
    redact = Redactor(secrets_of(dests))
    shown = redact(f"failed: {dests[0].url} and {dests[1].url} token {TOKEN}")
    assert "xyz" not in shown and TOKEN not in shown and "AAH" not in shown


def test_a_bad_secret_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.telegram_chat_id"):
        destinations(AlertsConfig(telegram_bot_token=TOKEN))
    with pytest.raises(ConfigError, match=r"alerts\.webhook_url_file"):
        destinations(AlertsConfig(webhook_url_file=str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match=r"alerts\.webhook_url"):
        parse_config({"alerts": {"webhook_url": "ftp://x"}}, {})
    assert destinations(AlertsConfig()) == []


def test_one_message_per_episode_and_a_minimum_interval() -> None:
    gate = EpisodeGate(clear_after_ms=60_000, min_interval_ms=200_000)
    raised = [gate.admit(_alert(ts)) for ts in (0, 30_000, 80_000)]  # each within 60 s of the last: one episode
    assert raised == [True, False, False]
    assert gate.admit(_alert(5_000, venue="bybit"))  # another venue: its own episode
    assert not gate.admit(_alert(150_000))  # cleared (70 s quiet), a new episode, but 150 s < 200 s since the message
    assert not gate.admit(_alert(180_000))  # that episode still raised
    assert gate.admit(_alert(300_000))  # cleared again (120 s quiet), 300 s after the last message: sent
    assert gate.admit(_alert(0, code=reasons.LATE_FILL))


def test_below_min_severity_is_not_sent() -> None:
    with endpoint() as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook", min_severity="critical")
        notifier = _send(config, [_alert(0), _alert(1, code=reasons.LATE_FILL, severity="critical")])
        assert [body["code"] for _, body in server.received] == [reasons.LATE_FILL]
    assert (notifier.sent, notifier.suppressed) == (1, 1)


def test_a_failing_endpoint_is_retried_then_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with endpoint(statuses=[500] * 4) as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook/secret-path-xyz", retries=3, retry_backoff_s=D(0))
        with caplog.at_level(logging.WARNING, logger="arbflow.alert_notify"):
            notifier = _send(config, [_alert(0)])
        assert len(server.received) == 4  # the attempt and 3 retries
    lines = [r.getMessage() for r in caplog.records if r.name == "arbflow.alert_notify"]
    assert lines == ["alert BREAKER_ORDER_FAILURES BTC/okx not delivered to webhook: HTTP 500 after 4 attempts"]
    assert notifier.failed == 1 and notifier.sent == 0


def test_a_refusal_is_not_retried_and_a_later_retry_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    with endpoint(statuses=[403, 503]) as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook", retries=2, retry_backoff_s=D(0))
        with caplog.at_level(logging.WARNING, logger="arbflow.alert_notify"):
            notifier = _send(config, [_alert(0), _alert(0, code=reasons.LATE_FILL)])
        assert len(server.received) == 3  # 403 once; 503 then 200
    assert [r.getMessage() for r in caplog.records if r.name == "arbflow.alert_notify"] == [
        "alert BREAKER_ORDER_FAILURES BTC/okx not delivered to webhook: HTTP 403 (not retried)"]
    assert (notifier.sent, notifier.failed) == (1, 1)


def test_an_unreachable_endpoint_fails_quietly() -> None:
    with endpoint() as server:
        dead = server.base  # closed when the block ends: nothing listens there afterwards
    config = AlertsConfig(webhook_url=f"{dead}/hook", retries=1, retry_backoff_s=D(0))
    notifier = _send(config, [_alert(0)])
    assert (notifier.sent, notifier.failed) == (0, 1)


def test_a_hanging_endpoint_never_blocks_notify() -> None:
    """The endpoint holds every answer; `notify` still returns at once: one message in flight,
    `queue_size` waiting, the rest dropped and counted."""
    hold = threading.Event()
    with endpoint(hold=hold) as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook", queue_size=2, retries=0)
        notifier = AlertNotifier(config, destinations(config)).start()
        for n in range(10):
            notifier.notify(_alert(0, venue=f"venue{n}"))  # ten distinct episodes
        dropped = notifier.dropped
        hold.set()
        assert notifier.close()
    assert dropped in (7, 8)  # 8 if the sender had not yet taken the first one off the queue
    assert notifier.sent + notifier.dropped == 10


def test_config_defaults_are_off() -> None:
    config = parse_config({}, {})
    assert destinations(config.alerts) == [] and config.alerts == replace(AlertsConfig())


def test_scan_and_trade_start_the_notifier_and_mask_its_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """`cli.trading._alerts_out`: the process redactor learns the destinations' secrets, the
    flow gets `notify`, and what is queued goes out when the flow stops; nothing set: None."""
    from arbflow.cli.logs import redactor
    from arbflow.cli.trading import _alerts_out

    with _alerts_out(parse_config({}, {})) as nothing:
        assert nothing is None
    with endpoint() as server:
        url = f"{server.base}/hook/T0-secret-path"
        config = parse_config({"alerts": {"webhook_url": url}}, {})
        with caplog.at_level(logging.INFO, logger="arbflow.alert_notify"), _alerts_out(config) as on_alert:
            assert on_alert is not None
            on_alert(_alert(0))
        assert server.paths() == ["/hook/T0-secret-path"]
    assert "T0-secret-path" not in redactor(f"posting to {url}")
    assert "alerts: 1 sent, 0 suppressed (severity or same episode), 0 failed, 0 dropped (queue full)" in [
        r.getMessage() for r in caplog.records]


def test_arbflow_config_shows_the_alert_secrets_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from arbflow.cli.main import main as cli

    monkeypatch.setenv("ARBFLOW_ALERTS__SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/secret-xyz")
    monkeypatch.setenv("ARBFLOW_ALERTS__TELEGRAM_BOT_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["alerts"]
    assert (shown["slack_webhook_url"], shown["telegram_bot_token"], shown["webhook_url"]) == ("***", "***", "")
