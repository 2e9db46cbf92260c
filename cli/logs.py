"""Logging for every `arbflow` command, configured once by the root group (`cli/main.py`):
the standard `logging` module, one handler on stderr, a level (`--log-level`, env
`ARBFLOW_LOG_LEVEL`, default INFO) and a format (`--log-format`, env `ARBFLOW_LOG_FORMAT`):

    text  2026-12-07T19:55:01.123Z WARNING arbflow.alerts: alert HEALTH_LOW …
    json  {"ts":"2026-12-07T19:55:01.123Z","ts_ms":1796…,"level":"WARNING","logger":"arbflow.alerts","msg":"…"}

Timestamps are UTC with milliseconds; `logger` is the component (`arbflow.alerts`,
`arbflow.status`, `arbflow.live_gateway`, …). One line per record: a traceback is folded
into the line (text) or an `exc` field (json).

No secret is ever written: every line passes `Redactor`, which replaces the known secret
values (the live API credentials `ARBFLOW_<VENUE>_API_KEY` / `_SECRET` / `_PASSWORD` and
their `*_FILE` contents, any environment variable whose name says password, secret, token,
key or webhook, and the configuration's keys named so, added when the configuration loads)
and the password of any `scheme://user:password@host` URL with `***`.
"""

import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from arbflow.model.secrets import MASK, SECRET_NAME, URL_PASSWORD

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
LEVEL_ENV, FORMAT_ENV = "ARBFLOW_LOG_LEVEL", "ARBFLOW_LOG_FORMAT"
_URL_PASSWORD = URL_PASSWORD
_MIN_SECRET = 4  # shorter values would mask ordinary words ("1", "true")
_FILE_LIMIT = 65_536


class Redactor:
    """Replaces secrets in text. `add` registers values (shorter than 4 characters are
    ignored: they cannot be told from ordinary text); URL passwords are always masked."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets |= {s for s in (v.strip() for v in secrets) if len(s) >= _MIN_SECRET}

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # a longer secret may contain a shorter one
            if secret in text:
                text = text.replace(secret, MASK)
        return _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)


def env_secrets(env: Mapping[str, str]) -> list[str]:
    """The secret values the environment holds: variables whose name says secret, and the
    contents of the files their `*_FILE` variants name (unreadable files are skipped)."""
    found: list[str] = []
    for name, value in env.items():
        if not SECRET_NAME.search(name):
            continue
        if name.endswith("_FILE"):
            try:
                path = Path(value)
                if path.is_file() and path.stat().st_size <= _FILE_LIMIT:
                    found.append(path.read_text())
            except (OSError, UnicodeDecodeError):
                continue
        else:
            found.append(value)
    return found


def config_secrets(tree: Any, name: str = "") -> list[str]:
    """The string values under secret-named keys of a plain configuration tree (nested dicts
    and lists, as `reports.configuration.plain` makes it), and the passwords of URLs in it."""
    if isinstance(tree, Mapping):
        return [s for key, value in tree.items() for s in config_secrets(value, str(key))]
    if isinstance(tree, list | tuple):
        return [s for value in tree for s in config_secrets(value, name)]
    if isinstance(tree, str):
        if SECRET_NAME.search(name):
            return [tree] if tree else []  # an unset secret (`alerts.webhook_url = ""`) is nothing to mask
        return [m.group("password") for m in _URL_PASSWORD.finditer(tree)]
    return []


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created * 1000) % 1000:03d}Z"


class TextFormatter(logging.Formatter):
    """`<UTC time> <LEVEL> <logger>: <message>`, a traceback folded onto the same line."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        return self.redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC text), ts_ms (int ms UTC), level, logger, msg and,
    with a traceback, exc."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {"ts": _timestamp(record.created), "ts_ms": int(record.created * 1000),
                                    "level": record.levelname, "logger": record.name,
                                    "msg": self.redact(record.getMessage())}
        if record.exc_info:
            document["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(document, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time (a test runner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


_HANDLER_NAME = "arbflow"
redactor = Redactor()  # the process's one redactor; `cli.support.load` adds the configuration's secrets


def configure(level: str = "INFO", fmt: str = "text", *, stream: IO[str] | None = None,
              env: Mapping[str, str] | None = None) -> logging.Handler:
    """Install the one stderr handler on the root logger (replacing a previous one of ours)
    at `level` in `fmt`; registers the environment's secrets. Returns the handler."""
    if level.upper() not in LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: expected one of {', '.join(FORMATS)}")
    redactor.add(env_secrets(os.environ if env is None else env))
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(TextFormatter(redactor) if fmt == "text" else JsonFormatter(redactor))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    return handler
