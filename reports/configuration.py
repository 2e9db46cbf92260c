"""The effective configuration as plain JSON data: what `arbflow config` prints and what the
replay report's Configuration section shows (Decimals stay Decimals; `model.codec` writes
them as exact strings). `redacted` masks the secrets in it: what leaves the process (printed
configuration, the report) never holds a password."""

import dataclasses
from typing import Any

from arbflow.model.secrets import MASK, SECRET_NAME, mask_url


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
        return MASK if SECRET_NAME.search(name) and tree else mask_url(tree)
    return tree
