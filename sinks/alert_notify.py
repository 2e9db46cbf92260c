"""Alerts out: risk.alert records (breaker trips, margin health, …) to a generic JSON webhook,
a Slack incoming webhook and a Telegram chat (`[alerts]`, model/config.py AlertsConfig;
docs/architecture.md §1 "Out").

The flow hands each alert to `AlertNotifier.notify`, which never blocks: it filters by
severity, keeps one message per episode (`EpisodeGate`, stream time in ms) and queues the
message; one daemon thread posts it to every destination with bounded retries (tenacity:
`retries` more attempts, exponential backoff) and a per-request timeout. A message that
still fails is one warning line on `arbflow.alert_notify`, naming the destination kind,
never its URL or token. A full queue drops the new message (counted in `dropped`).

Wire formats (UTF-8 JSON, POST):
- webhook:  {"code","severity","message","venue","asset","value","threshold","ts","text"}
            — `value`/`threshold` decimal strings or null, `ts` int ms UTC;
- slack:    {"text": …} (incoming webhook);
- telegram: {"chat_id": …, "text": …, "disable_web_page_preview": true} to
            `<telegram_api>/bot<token>/sendMessage`.
"""

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from arbflow.model.config import AlertsConfig
from arbflow.model.errors import ConfigError
from arbflow.model.portfolio import Alert

_LOG = logging.getLogger("arbflow.alert_notify")
SEVERITY_RANK: Final = {"info": 0, "warning": 1, "critical": 2}
_STOP: Final = object()


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a message goes: `kind` webhook | slack | telegram; `url` holds the secret (the
    webhook URL, or the Telegram URL with the bot token) and is never logged."""

    kind: str
    url: str
    chat_id: str = ""


def _secret(value: str, path: str, key: str) -> str:
    """The secret from the file `path` names (stripped) if set, else `value`."""
    if not path:
        return value.strip()
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"alerts.{key}_file", f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"alerts.{key}_file", f"{path} is not UTF-8 text") from None


def destinations(config: AlertsConfig) -> list[Destination]:
    """The configured destinations (secrets read from their files); raises `ConfigError` for
    an unreadable file or a Telegram token without a chat id."""
    out: list[Destination] = []
    if webhook := _secret(config.webhook_url, config.webhook_url_file, "webhook_url"):
        out.append(Destination("webhook", webhook))
    if slack := _secret(config.slack_webhook_url, config.slack_webhook_url_file, "slack_webhook_url"):
        out.append(Destination("slack", slack))
    if token := _secret(config.telegram_bot_token, config.telegram_bot_token_file, "telegram_bot_token"):
        if not config.telegram_chat_id:
            raise ConfigError("alerts.telegram_chat_id", "is needed with alerts.telegram_bot_token")
        out.append(Destination("telegram", f"{config.telegram_api.rstrip('/')}/bot{token}/sendMessage",
                               config.telegram_chat_id))
    return out


def secrets_of(dests: list[Destination]) -> list[str]:
    """The secret values inside `dests` (for the log redactor): URLs and Telegram tokens."""
    found = [d.url for d in dests]
    found += [d.url.rsplit("/bot", 1)[1].rsplit("/", 1)[0] for d in dests if d.kind == "telegram"]
    return found


def text(alert: Alert) -> str:
    """One human line: `[WARNING] BREAKER_ORDER_FAILURES BTC okx: … (value 0.25, threshold 0.2)`."""
    figures = ", ".join(f"{name} {v}" for name, v in (("value", alert.value), ("threshold", alert.threshold))
                        if v is not None)
    return (f"[{alert.severity.upper()}] {alert.code} {alert.asset or '-'} {alert.venue or '-'}: {alert.message}"
            + (f" ({figures})" if figures else ""))


def payload(dest: Destination, alert: Alert) -> dict[str, Any]:
    """The JSON body for `dest` (formats in the module docstring)."""
    line = text(alert)
    if dest.kind == "slack":
        return {"text": line}
    if dest.kind == "telegram":
        return {"chat_id": dest.chat_id, "text": line, "disable_web_page_preview": True}
    return {"code": alert.code, "severity": alert.severity, "message": alert.message, "venue": alert.venue,
            "asset": alert.asset, "value": None if alert.value is None else str(alert.value),
            "threshold": None if alert.threshold is None else str(alert.threshold), "ts": alert.ts, "text": line}


class EpisodeGate:
    """One message per episode of an alert key (code, venue, asset), in stream time (ms).

    Invariants: a raise within `clear_after_ms` of the key's previous raise belongs to the
    same episode and is not sent; the first raise after a quiet `clear_after_ms` opens a new
    episode, sent only if at least `min_interval_ms` have passed since the key's last sent
    message (an episode opened too soon stays unsent). Not thread-safe (the notifier locks)."""

    def __init__(self, clear_after_ms: int, min_interval_ms: int) -> None:
        self.clear_after_ms, self.min_interval_ms = clear_after_ms, min_interval_ms
        self._seen: dict[tuple[str, str | None, str | None], int] = {}
        self._sent: dict[tuple[str, str | None, str | None], int] = {}

    def admit(self, alert: Alert) -> bool:
        key = (alert.code, alert.venue, alert.asset)
        last_seen = self._seen.get(key)
        self._seen[key] = alert.ts if last_seen is None else max(last_seen, alert.ts)
        if last_seen is not None and alert.ts - last_seen <= self.clear_after_ms:
            return False
        last_sent = self._sent.get(key)
        if last_sent is not None and alert.ts - last_sent < self.min_interval_ms:
            return False
        self._sent[key] = alert.ts
        return True


class _Retryable(Exception):
    """A failure worth another attempt: no answer, a timeout, HTTP 429 or 5xx."""


Post = Callable[[str, bytes, float], int]


def _post(url: str, body: bytes, timeout_s: float) -> int:
    """POST JSON; the HTTP status. Raises `_Retryable` for what a retry may fix."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        if exc.code == 429 or exc.code >= 500:
            raise _Retryable(f"HTTP {exc.code}") from None
        return int(exc.code)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Retryable(f"{type(reason).__name__}: {reason}") from None


class AlertNotifier:
    """Sends alerts to `dests` from a daemon thread. `notify` is safe from any thread and
    never blocks; `close` drains the queue (bounded by `timeout_s` per message) and stops.
    Counters: `sent`, `suppressed` (severity or episode), `failed`, `dropped` (queue full)."""

    def __init__(self, config: AlertsConfig, dests: list[Destination], *, post: Post = _post) -> None:
        self.config, self.dests, self._post = config, dests, post
        self._gate = EpisodeGate(config.clear_after_ms, config.min_interval_ms)
        self._min_rank = SEVERITY_RANK[config.min_severity]
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=config.queue_size)
        self._thread = threading.Thread(target=self._run, name="arbflow-alert-notify", daemon=True)
        self.sent = self.suppressed = self.failed = self.dropped = 0

    def start(self) -> "AlertNotifier":
        self._thread.start()
        return self

    def notify(self, alert: Alert) -> None:
        with self._lock:
            if SEVERITY_RANK.get(alert.severity, 0) < self._min_rank or not self._gate.admit(alert):
                self.suppressed += 1
                return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            with self._lock:
                self.dropped += 1

    def close(self, wait_s: float | None = None) -> bool:
        """Send what is queued, then stop the thread; waits at most `wait_s` (None: until
        done). True when the thread has finished (a daemon left behind dies with the process)."""
        if self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=wait_s)
            except queue.Full:
                return False
            self._thread.join(wait_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while (alert := self._queue.get()) is not _STOP:
            for dest in self.dests:
                self._deliver(dest, alert)

    def _deliver(self, dest: Destination, alert: Alert) -> None:
        body = json.dumps(payload(dest, alert), ensure_ascii=False).encode()
        timeout = float(self.config.timeout_s)
        retrying = Retrying(stop=stop_after_attempt(self.config.retries + 1),
                            wait=wait_exponential(multiplier=float(self.config.retry_backoff_s), max=60),
                            retry=retry_if_exception(lambda e: isinstance(e, _Retryable)))
        try:
            status = retrying(self._post, dest.url, body, timeout)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            self._failed(dest, alert, f"{cause} after {self.config.retries + 1} attempts")
            return
        except Exception as exc:  # a bug or an unexpected error must not kill the sender thread
            self._failed(dest, alert, f"{type(exc).__name__}: {exc}")
            return
        if 200 <= status < 300:
            with self._lock:
                self.sent += 1
        else:
            self._failed(dest, alert, f"HTTP {status} (not retried)")

    def _failed(self, dest: Destination, alert: Alert, why: str) -> None:
        with self._lock:
            self.failed += 1
        _LOG.warning("alert %s %s/%s not delivered to %s: %s", alert.code, alert.asset or "-", alert.venue or "-",
                     dest.kind, why)
