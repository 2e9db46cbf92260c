"""The one codec: records ⇄ JSON bytes with orjson (the only module that calls orjson).

Wire rules (docs/architecture.md §4):
- money (`Decimal`) is written with `str()` and read from strings only; NaN/Infinity are
  refused both ways;
- integers are JSON integers (never booleans or floats); floats (scores) must be finite;
- every top-level record carries `schema_version`, which must equal the version this
  code knows; optional fields may be `null` or absent; unknown fields are refused.

`decode` never raises on bad input: it returns a `Rejected` with a reason code.
`encode` raises `EncodeError` for a record that cannot be written faithfully (a
non-finite Decimal or float), because that is a bug in our code, not bad input.
"""

import dataclasses
import math
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

import orjson

from arbflow.model import reasons
from arbflow.model.money import DecimalTextError, parse_decimal
from arbflow.model.rejected import MAX_RAW_CHARS, Rejected

_MISSING = dataclasses.MISSING
_EVENT_TIME_FIELDS: Final = ("ts_local", "ts", "ts_exchange")


class DecodeError(Exception):
    """Internal: a value failed; carries the reason code, a message, and the field path
    (filled in on the way out, so the success path never builds path strings)."""

    def __init__(self, reason: str, message: str, path: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.path = path

    @property
    def detail(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def within(self, step: str) -> "DecodeError":
        """The same error one level up: `step` is a field name or an `[index]`."""
        if not self.path:
            joined = step
        else:
            joined = f"{step}{self.path}" if self.path.startswith("[") else f"{step}.{self.path}"
        return DecodeError(self.reason, self.message, joined)


class EncodeError(ValueError):
    """A record holds a value the wire format cannot carry exactly (a bug upstream)."""


# -- decoding: one converter per field, compiled once per record type -------------------

Converter = Callable[[Any], Any]

# Prices and sizes repeat constantly in a tick stream; Decimals are immutable, so a
# bounded memo of text → Decimal is safe and saves most of the parsing.
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_MAX = 65_536


def _decimal(value: Any) -> Decimal:
    cached = _DECIMALS.get(value) if type(value) is str else None
    if cached is not None:
        return cached
    if type(value) is not str:
        raise DecodeError(reasons.WRONG_TYPE, f"money must be a decimal string, got {type(value).__name__}")
    try:
        parsed = parse_decimal(value)
    except DecimalTextError as error:
        if error.non_finite:
            raise DecodeError(reasons.NON_FINITE, f"{value!r} is not finite") from None
        raise DecodeError(reasons.INVALID_NUMBER, f"{value!r} is not a decimal number") from None
    if len(_DECIMALS) >= _DECIMALS_MAX:
        _DECIMALS.clear()
    _DECIMALS[value] = parsed
    return parsed


def _int(value: Any) -> int:
    if type(value) is not int:
        raise DecodeError(reasons.WRONG_TYPE, f"expected an integer, got {type(value).__name__}")
    return value


def _float(value: Any) -> float:
    if type(value) is int:
        return float(value)
    if type(value) is not float:
        raise DecodeError(reasons.WRONG_TYPE, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise DecodeError(reasons.NON_FINITE, f"{value!r} is not finite")
    return value


def _str(value: Any) -> str:
    if type(value) is not str:
        raise DecodeError(reasons.WRONG_TYPE, f"expected a string, got {type(value).__name__}")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise DecodeError(reasons.WRONG_TYPE, f"expected true or false, got {type(value).__name__}")
    return value


_SCALARS: Final[dict[Any, Converter]] = {Decimal: _decimal, int: _int, float: _float, str: _str, bool: _bool}


def _items(convert: Converter, values: list[Any]) -> tuple[Any, ...]:
    out = []
    for index, value in enumerate(values):
        try:
            out.append(convert(value))
        except DecodeError as error:
            raise error.within(f"[{index}]") from None
    return tuple(out)


def _converter(tp: Any) -> Converter:
    """Build the converter for one annotated type (see the module docstring for rules)."""
    if tp in _SCALARS:
        return _SCALARS[tp]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Literal:
        allowed = frozenset(args)
        shown = ", ".join(map(str, args))

        def literal(value: Any) -> Any:
            if type(value) is not str or value not in allowed:
                raise DecodeError(reasons.INVALID_VALUE, f"{value!r} is not one of {shown}")
            return value

        return literal
    if origin in (types.UnionType, typing.Union) and len(args) == 2 and type(None) in args:
        inner = _converter(next(a for a in args if a is not type(None)))
        return lambda value: None if value is None else inner(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _converter(args[0])

            def sequence(value: Any) -> tuple[Any, ...]:
                if type(value) is not list:
                    raise DecodeError(reasons.WRONG_TYPE, "expected a list")
                return _items(item, value)

            return sequence
        items = [_converter(a) for a in args]

        def fixed(value: Any) -> tuple[Any, ...]:
            if type(value) is not list or len(value) != len(items):
                raise DecodeError(reasons.WRONG_TYPE, f"expected a list of {len(items)}")
            out = []
            for index, (convert, v) in enumerate(zip(items, value, strict=True)):
                try:
                    out.append(convert(v))
                except DecodeError as error:
                    raise error.within(f"[{index}]") from None
            return tuple(out)

        return fixed
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _RecordDecoder(tp, top_level=False).convert
    raise TypeError(f"the codec cannot handle the annotation {tp!r}")


class _Miss(Exception):
    """Internal: the fast path met something it does not judge; the slow path will."""


def _miss(*_: Any) -> Any:
    raise _Miss


def _fast_expression(f: dataclasses.Field[Any], tp: Any, required: bool, namespace: dict[str, Any]) -> str:
    """A single expression converting `obj[name]` for the fast path: scalar checks are
    inlined (no call per field); anything unusual calls `miss()`, which sends the record
    to the slow path for an exact diagnosis."""
    args = typing.get_args(tp)
    optional = typing.get_origin(tp) in (types.UnionType, typing.Union) and type(None) in args
    inner = next(a for a in args if a is not type(None)) if optional else tp
    if inner is Decimal:
        body = "(d if (d := D.get(v, miss)) is not miss else dec(v)) if type(v) is str else miss()"
    elif inner in (str, int, bool):
        body = f"v if type(v) is {inner.__name__} else miss()"
    elif inner is float:
        body = "float(v) if type(v) is int else v if type(v) is float and isfinite(v) else miss()"
    elif typing.get_origin(inner) is typing.Literal:
        namespace[f"A_{f.name}"] = frozenset(typing.get_args(inner))
        body = f"v if type(v) is str and v in A_{f.name} else miss()"
    else:
        body = f"c_{f.name}(v)"
    if required:  # a tuple evaluates left to right: bind v, then judge it
        return f"((v := obj[{f.name!r}]), {body})[1]"
    if f.default is None:  # optional: absent or null is None
        return f"(None if (v := obj.get({f.name!r})) is None else ({body}))"
    namespace[f"default_{f.name}"] = f.default  # absent takes the default; null is judged
    return f"(default_{f.name} if (v := obj.get({f.name!r}, miss)) is miss else ({body}))"


class _RecordDecoder:
    """Decoder of one dataclass: key checks, then one converter per field.

    The per-class `convert` is generated source (as attrs and cattrs do): a fast path that
    builds the record in one constructor call with the type checks inlined, and a slow
    path — one converter per field — that runs only when the fast path meets anything
    wrong, to name the failing field and reason exactly.
    """

    def __init__(self, cls: type, *, top_level: bool) -> None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        self.cls = cls
        self.names = frozenset(f.name for f in fields)
        self.required = frozenset(
            f.name for f in fields
            if (f.default is _MISSING and f.default_factory is _MISSING) or (top_level and f.name == "schema_version")
        )
        self.version = next((f.default for f in fields if f.name == "schema_version"), None)
        self._top_level = top_level
        namespace: dict[str, Any] = {"cls": cls, "check": self._check_keys, "DecodeError": DecodeError,
                                     "D": _DECIMALS, "dec": _decimal, "isfinite": math.isfinite, "miss": _miss,
                                     "Miss": _Miss}
        lines = ["def slow(obj):", "    check(obj)", "    kwargs = {}", "    field = ''", "    try:"]
        arguments = []
        for f in fields:
            if f.name == "schema_version":
                continue
            namespace[f"c_{f.name}"] = _converter(hints[f.name])
            call = f"c_{f.name}(obj[{f.name!r}])"
            lines.append(f"        field = {f.name!r}")
            if f.name in self.required:
                lines.append(f"        kwargs[{f.name!r}] = {call}")
            else:
                lines.append(f"        if {f.name!r} in obj: kwargs[{f.name!r}] = {call}")
            arguments.append(f"{f.name}={_fast_expression(f, hints[f.name], f.name in self.required, namespace)}")
        lines += ["    except DecodeError as error:", "        raise error.within(field) from None",
                  "    return cls(**kwargs)", "",
                  "def convert(obj):",
                  "    check(obj)",
                  "    try:",
                  f"        return cls({', '.join(arguments)})",
                  "    except (Miss, DecodeError, KeyError, TypeError):",
                  "        return slow(obj)  # the careful path names the field and the reason"]
        exec("\n".join(lines) + "\n", namespace)  # generated from our own dataclass fields only
        self.convert: Converter = namespace["convert"]

    def _check_keys(self, obj: Any) -> None:
        if type(obj) is not dict:
            raise DecodeError(reasons.WRONG_TYPE if not self._top_level else reasons.MALFORMED_JSON,
                              "expected a JSON object")
        keys = obj.keys()
        if not self.required <= keys:
            missing = sorted(self.required - keys)
            raise DecodeError(reasons.MISSING_FIELD, "required field is missing", missing[0])
        if not keys <= self.names:
            extra = sorted(k for k in keys if k not in self.names)
            raise DecodeError(reasons.UNEXPECTED_FIELD, "unknown field", extra[0])
        version = obj.get("schema_version")
        if self._top_level and (type(version) is not int or version != self.version):
            raise DecodeError(reasons.UNSUPPORTED_SCHEMA_VERSION,
                              f"schema_version {obj['schema_version']!r} is not {self.version}")


_DECODERS: dict[type, _RecordDecoder] = {}


def _decoder(cls: type) -> _RecordDecoder:
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = _RecordDecoder(cls, top_level=True)
    return decoder


def _raw_text(data: bytes | str) -> tuple[str, bool]:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return (text[:MAX_RAW_CHARS], True) if len(text) > MAX_RAW_CHARS else (text, False)


def _event_time(obj: Any) -> int | None:
    if type(obj) is dict:
        for name in _EVENT_TIME_FIELDS:
            value = obj.get(name)
            if type(value) is int:
                return value
    return None


def reject(reason: str, detail: str, *, source: str, raw: bytes | str, ts: int | None = None) -> Rejected:
    """Build a `Rejected` with the raw input kept (cut to `MAX_RAW_CHARS`)."""
    text, truncated = _raw_text(raw)
    return Rejected(reason=reason, detail=detail, source=source, raw=text, raw_truncated=truncated, ts=ts)


def loads(data: bytes | str) -> Any:
    """Parse JSON text; raises `DecodeError(MALFORMED_JSON)` on anything orjson refuses."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise DecodeError(reasons.MALFORMED_JSON, f"not valid JSON: {error}") from None


def decode_object(cls: type, obj: Any, *, source: str, raw: bytes | str) -> Any:
    """Decode an already-parsed JSON value into `cls`, or a `Rejected`."""
    try:
        return _decoder(cls).convert(obj)
    except DecodeError as error:
        return reject(error.reason, error.detail, source=source, raw=raw, ts=_event_time(obj))


def decode(cls: type, data: bytes | str, *, source: str) -> Any:
    """Decode JSON bytes into a record of `cls`, or a `Rejected` saying why not."""
    try:
        obj = loads(data)
    except DecodeError as error:
        return reject(error.reason, error.detail, source=source, raw=data)
    return decode_object(cls, obj, source=source, raw=data)


# -- encoding ---------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if type(value) is Decimal:
        if value.is_finite():
            return str(value)
        raise EncodeError(f"non-finite Decimal {value!r} cannot be encoded")
    raise EncodeError(f"the codec does not encode {type(value).__name__}")


def _float_checks(cls: type) -> tuple[tuple[str, ...], ...]:
    """Attribute paths of every float field (orjson writes NaN as null without a word)."""
    paths: list[tuple[str, ...]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = typing.get_args(tp)
        if tp is float or (float in args and type(None) in args):
            paths.append((f.name,))
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
            paths.extend((f.name, *p) for p in _float_checks(tp))
    return tuple(paths)


_FLOAT_PATHS: dict[type, tuple[tuple[str, ...], ...]] = {}


def encode(record: Any) -> bytes:
    """Serialise a record to compact JSON bytes (field order = declaration order)."""
    cls = type(record)
    paths = _FLOAT_PATHS.get(cls)
    if paths is None:
        paths = _FLOAT_PATHS[cls] = _float_checks(cls)
    for path in paths:
        value = record
        for name in path:
            value = getattr(value, name)
        if value is not None and not math.isfinite(value):
            raise EncodeError(f"{'.'.join(path)} = {value!r} is not finite")
    return dumps(record)


def dumps(value: Any) -> bytes:
    """Serialise plain JSON data (dicts, lists, str, int, Decimal) with the same rules."""
    try:
        return orjson.dumps(value, default=_default)
    except orjson.JSONEncodeError as error:
        # orjson wraps what `_default` raises; hand our own error type to the caller.
        if isinstance(error.__cause__, EncodeError):
            raise error.__cause__ from None
        raise EncodeError(str(error)) from error
