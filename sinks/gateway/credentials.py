"""API keys for live trading and the ccxt exchanges that use them (docs/architecture.md §3.7: keys only
from the environment or secret files, never logged).

`credentials(venue)` reads `ARBFLOW_{VENUE}_API_KEY`, `_SECRET` and `_PASSWORD` (OKX's
passphrase), or the same names with `_FILE` appended naming a file that holds the value
(Docker/Kubernetes secrets; surrounding whitespace stripped). Setting both forms of one
name is a `ConfigError`, as is a missing key or secret. `Credentials` never shows its
values: its repr masks them, and `redact(text)` replaces each of them (and request
signatures) in any text before it reaches a log line, an exception or a record.

`make_exchange(venue, credentials, urls_override)` builds the ccxt.pro exchange the venue's
profile names (sinks/gateway/venues/; its REST methods are ccxt's async ones) with ccxt's own
rate limiter on and its logger redacting (ccxt logs every request's headers, API key
included, at DEBUG), `urls_override` mapping dotted paths in `exchange.urls` to replacement
URLs (testnets, the tests' stub servers); an unknown path is a `ConfigError`, so a typo never
reaches the real venue.
"""

import copy
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt.pro

from arbflow.model.errors import ConfigError
from arbflow.sinks.gateway.venues import PROFILES, profile

# The venues with a live gateway, by name (the command line checks `--venues` against it).
# Request signatures in query strings and bodies, and the headers each venue signs with.
_SIGNED = ("signature", "sign", *(header for p in PROFILES.values() for header in p.signed_headers))
_SIGNATURE = re.compile(rf"({'|'.join(_SIGNED)})([=:\"' ]+)[^&\s\"',}}]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Credentials:
    """One venue's API key, secret and optional password. The repr shows none of them."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return "Credentials(api_key=***, secret=***, password=***)"

    def redact(self, text: str) -> str:
        """`text` with every credential value and request signature replaced by `***`."""
        for value in (self.api_key, self.secret, self.password):
            if value:
                text = text.replace(value, "***")
        return _SIGNATURE.sub(r"\1\2***", text)


def _read(env: Mapping[str, str], name: str) -> str | None:
    direct, path = env.get(name), env.get(f"{name}_FILE")
    if direct is not None and path is not None:
        raise ConfigError(name, f"set either {name} or {name}_FILE, not both")
    if path is not None:
        try:
            return Path(path).read_text().strip() or None
        except OSError as error:
            raise ConfigError(f"{name}_FILE", f"cannot read the secret file ({error.strerror})") from None
    return direct.strip() or None if direct is not None else None


def credentials(venue: str, env: Mapping[str, str] = os.environ) -> Credentials:
    """The API credentials of `venue` from `env` (see the module docstring)."""
    prefix = f"ARBFLOW_{venue.upper()}"
    key, secret = _read(env, f"{prefix}_API_KEY"), _read(env, f"{prefix}_SECRET")
    if key is None or secret is None:
        missing = f"{prefix}_API_KEY" if key is None else f"{prefix}_SECRET"
        raise ConfigError(missing, f"live trading on {venue} needs it (or {missing}_FILE)")
    return Credentials(key, secret, _read(env, f"{prefix}_PASSWORD"))


def _set_url(urls: dict[str, Any], path: str, url: str, venue: str) -> None:
    *parents, leaf = path.split(".")
    node: Any = urls
    for name in parents:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get(leaf), str):
        raise ConfigError(f"endpoints.{venue}.{path}", "ccxt has no URL at this path")
    node[leaf] = url


class _Redact(logging.Filter):
    """Rewrites each record of ccxt's logger with the credentials redacted."""

    def __init__(self, creds: Credentials) -> None:
        super().__init__()
        self.creds = creds

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.creds.redact(record.getMessage()), None
        return True


def _redacting_logger(venue: str, creds: Credentials) -> logging.Logger:
    logger = logging.getLogger(f"arbflow.live_venue.ccxt.{venue}")
    for old in [f for f in logger.filters if isinstance(f, _Redact)]:
        logger.removeFilter(old)
    logger.addFilter(_Redact(creds))
    return logger


def make_exchange(venue: str, creds: Credentials, urls_override: Mapping[str, str] | None = None, *,
                  timeout_ms: int | None = None) -> Any:
    """A ccxt.pro exchange for `venue` signed with `creds`; opens nothing until first used.
    `timeout_ms`: each request's timeout (ccxt's `timeout`, ms; its default 10 000 when None).
    The caller owns it (`LiveVenue.close()` closes it)."""
    found = profile(venue)
    options = found.ccxt_options
    config: dict[str, Any] = {"enableRateLimit": True, "options": copy.deepcopy(dict(options))}
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    key_field, secret_field = found.key_fields
    config.update({key_field: creds.api_key, secret_field: creds.secret})
    if creds.password is not None:
        config["password"] = creds.password
    config["logger"] = _redacting_logger(venue, creds)  # ccxt logs request headers (the key) at DEBUG
    exchange = getattr(ccxt.pro, found.ccxt_id)(config)
    if options.get("fetchCurrencies") is False:  # some classes ignore the option and, once keyed, ask a private
        exchange.has = {**exchange.has, "fetchCurrencies": False}  # endpoint (OKX: a funding-read permission)
    for path, url in (urls_override or {}).items():
        _set_url(exchange.urls, path, url, venue)
    return exchange
