"""JSON Schema (draft 2020-12) of every topic, generated from the record dataclasses so
that consumers in any language can read arbflow topics. Money is a decimal *string*."""

import dataclasses
import types
import typing
from decimal import Decimal
from typing import Any

from arbflow.model.topics import RECORD_TYPES, dlq_topic, record_type

DECIMAL_PATTERN = r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_SCALARS: dict[Any, dict[str, Any]] = {
    Decimal: {"type": "string", "pattern": DECIMAL_PATTERN, "description": "exact decimal as a string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
}


def _schema(tp: Any) -> dict[str, Any]:
    if tp in _SCALARS:
        return dict(_SCALARS[tp])
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return {"type": "string", "enum": list(args)}
    if origin in (types.UnionType, typing.Union):
        inner = next(a for a in args if a is not type(None))
        return {"anyOf": [_schema(inner), {"type": "null"}]}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _schema(args[0])}
        return {"type": "array", "prefixItems": [_schema(a) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return record_schema(tp, top_level=False)
    raise TypeError(f"no JSON Schema for {tp!r}")


def record_schema(cls: type, *, top_level: bool = True) -> dict[str, Any]:
    """The schema of one record class; `schema_version` is a required constant."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for f in dataclasses.fields(cls):
        prop = _schema(hints[f.name])
        if f.name == "schema_version":
            prop = {"const": f.default}
        if f.name.startswith("ts") or f.name == "next_funding_time":
            prop["description"] = "integer milliseconds since the Unix epoch, UTC"
        properties[f.name] = prop
        if (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING) or \
                (top_level and f.name == "schema_version"):
            required.append(f.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required,
                              "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    if top_level:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": cls.__name__, **schema}
    return schema


def topic_schemas() -> dict[str, dict[str, Any]]:
    """Topic name → JSON Schema for every record topic and its dead-letter topic."""
    schemas = {topic: record_schema(cls) for topic, cls in RECORD_TYPES.items()}
    schemas["dlq.<topic>"] = record_schema(record_type(dlq_topic("md.ticker")))
    return schemas
