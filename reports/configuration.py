"""The effective configuration as plain JSON data: what `arbflow config` prints and what the
replay report's Configuration section shows (Decimals stay Decimals; `model.codec` writes
them as exact strings). `redacted` masks the secrets in it: what leaves the process (printed
configuration, the report) never holds a password."""

import dataclasses
import re
from typing import Any

MASK = "***"
# A name that holds a secret: an environment variable or a configuration key (librdkafka's
# `sasl.password`, `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`, …).
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|WEBHOOK"
                         r"|KEY\.PEM|OAUTHBEARER\.CONFIG)", re.IGNORECASE)
# The password of a `scheme://user:password@host` URL (`rediss://:pw@host:6380/0`).
URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s/]+)@")


def plain(value: Any) -> Any:
    """A configuration (dataclasses, mappings) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def redacted(tree: Any, name: str = "") -> Any:
    """A plain configuration tree with every string under a secret-named key replaced by
    `MASK` and the password of every URL in it masked; the shape is kept."""
    if isinstance(tree, dict):
        return {k: redacted(v, str(k)) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [redacted(v, name) for v in tree]
    if isinstance(tree, str):
        return MASK if SECRET_NAME.search(name) and tree else URL_PASSWORD.sub(rf"\g<head>{MASK}@", tree)
    return tree
