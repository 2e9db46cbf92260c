"""The effective configuration as plain JSON data: what `arbflow config` prints and what the
replay report's Configuration section shows (Decimals stay Decimals; `model.codec` writes
them as exact strings)."""

import dataclasses
from typing import Any


def plain(value: Any) -> Any:
    """A configuration (dataclasses, mappings) as plain JSON data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
