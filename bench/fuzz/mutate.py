"""Mutations of JSON messages, all driven by one `random.Random` (deterministic from a seed).

Two families:
- structural (`mutate_value`): on a decoded JSON value (dicts, lists, str, int, bool,
  None, and `Decimal` for JSON numbers with a fraction or exponent) — drop or rename a key,
  change a value's type, numbers ↔ strings, empty or giant arrays, negative/zero sizes,
  crossed books (bid ↔ ask), huge numbers, NaN/Infinity strings, unicode, deep nesting,
  timestamps in seconds or microseconds instead of milliseconds, unknown fields;
- byte-level (`mutate_bytes`): bit flips, truncation, insertion, duplication, lone
  surrogate escapes, deep bracket nesting, on the serialised text.

`dumps` writes a value back to JSON text with Decimals as raw numbers, so what the fuzzer
hands a normaliser is always real bytes that can be saved as a reproducer.
"""

import json
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

GIANT_MAX = 10_000  # elements of a "giant array": large, yet a linear parser stays well under 1 s
GIANT_BYTES = 400_000  # … up to a message of this much text, so that loading the JSON is never the slow part
HUGE_NUMBERS = ("1e999999999", "1E+999999", "-1e999999999", "1e-999999999", "9" * 400, "0." + "0" * 300 + "1",
                "18446744073709551616", "-9223372036854775809", "1e18", "123456789012345678901234567890.5")
NON_FINITE = ("NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "sNaN", "-NaN", "Inf")
ODD_NUMBERS = ("-1", "0", "-0", "0.0", "-0.00000001", "+1", " 1", "1_000", "١٢٣", "1.2.3", "", "0x10", "1e", ".",
               "--1", "1e5", "00012")
UNICODE = ("ＢＴＣＵＳＤＴ", "BTC\u0000USDT", "🚀", "\u202eTDSUCTB", "é", "\ufeff", "BTC/USDT", "btcusdt", "Ω" * 64,
           "\n", "")
HUGE_INTS = (2**63, -(2**63) - 1, 2**64, 10**30, -1, 0, 10**4000)


def _scalar_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | str | int | float):
        return json.dumps(value)
    raise TypeError(f"cannot write {type(value).__name__}")


def _fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError


def dumps(value: Any) -> str:
    """JSON text of `value`; Decimals are written as JSON numbers exactly as `str()` gives.
    orjson when it can; otherwise (nesting past 255, integers past 64 bits) an iterative
    writer, so deeply nested values need no recursion."""
    try:
        return orjson.dumps(value, default=_fragment).decode()
    except (orjson.JSONEncodeError, TypeError):
        pass
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if type(node) is _Text:
            parts.append(node.text)
        elif isinstance(node, dict):
            forward: list[Any] = [_Text("{")]
            for n, (key, child) in enumerate(node.items()):
                forward += [_Text(("," if n else "") + json.dumps(str(key)) + ":"), child]
            stack += reversed([*forward, _Text("}")])
        elif isinstance(node, list):
            forward = [_Text("[")]
            for n, child in enumerate(node):
                forward += [_Text(","), child] if n else [child]
            stack += reversed([*forward, _Text("]")])
        else:
            parts.append(_scalar_text(node))
    return "".join(parts)


class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _paths(value: Any, prefix: tuple[Any, ...] = (), limit: int = 150) -> list[tuple[Any, ...]]:
    """Paths to every node (breadth-limited: huge books are sampled, not walked fully)."""
    out: list[tuple[Any, ...]] = [prefix]
    stack = [(prefix, value)]
    while stack and len(out) < limit:
        path, node = stack.pop()
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            out.append((*path, key))
            if isinstance(child, dict | list):
                stack.append(((*path, key), child))
            if len(out) >= limit:
                break
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _get(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        root = root[key]
    return root


def _number_text(value: Any) -> bool:
    if type(value) is not str or not value or len(value) > 64:
        return False
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def _retype(rng: random.Random, value: Any) -> Any:
    """Another JSON type for `value` (numbers ↔ strings most often)."""
    if type(value) is str and _number_text(value):
        choices: list[Any] = [Decimal(value), int(Decimal(value)) if Decimal(value).is_finite() and
                              abs(Decimal(value)) < 10**30 else 0, None, True, [value], {"v": value}]
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        choices = [str(value), None, bool(value), [value], {"v": value}, Decimal(value) + Decimal("0.5")]
    else:
        choices = [None, 0, "", [], {}, True, Decimal("1.5"), "x", [value]]
    return rng.choice(choices)


def _timestamp_skew(rng: random.Random, value: Any) -> Any:
    """A millisecond timestamp as seconds, microseconds or nanoseconds, or a digit string."""
    number = int(value) if type(value) is str else value
    return rng.choice([number // 1000, number * 1000, number * 1_000_000, str(number // 1000),
                       Decimal(number) / 1000, -number, 0])


def _looks_like_ms(value: Any) -> bool:
    if type(value) is str and value.isdigit() and 12 <= len(value) <= 19:
        return True
    return type(value) is int and 10**11 < value < 10**19


def _scalar(rng: random.Random, value: Any) -> Any:
    """A hostile replacement for a leaf, biased by what the leaf is."""
    if _looks_like_ms(value) and rng.random() < 0.5:
        return _timestamp_skew(rng, value)
    roll = rng.random()
    if roll < 0.25:
        return _retype(rng, value)
    if roll < 0.45:
        return rng.choice(HUGE_NUMBERS) if rng.random() < 0.6 else Decimal(rng.choice(HUGE_NUMBERS[:4]))
    if roll < 0.6:
        return rng.choice(NON_FINITE)
    if roll < 0.75:
        return rng.choice(ODD_NUMBERS)
    if roll < 0.85:
        return rng.choice(UNICODE)
    return rng.choice(HUGE_INTS)


_PAIRS = (("b", "a"), ("B", "A"), ("bids", "asks"), ("bid", "ask"), ("bidPx", "askPx"), ("bid1Price", "ask1Price"),
          ("bestBid", "bestAsk"), ("bestBidPrice", "bestAskPrice"), ("highest_bid", "lowest_ask"),
          ("bidPr", "askPr"), ("bid_qty", "ask_qty"))


def _cross(rng: random.Random, root: Any) -> bool:
    """Swap bid and ask sides somewhere in the message (a crossed or inverted book)."""
    paths = _paths(root)
    for path in rng.sample(paths, k=min(30, len(paths))):
        node = _get(root, path)
        if isinstance(node, dict):
            for low, high in _PAIRS:
                if low in node and high in node:
                    node[low], node[high] = node[high], node[low]
                    return True
    return False


def _structural(rng: random.Random, root: Any) -> Any:
    """One structural mutation of `root` (already a private copy); returns the new root."""
    paths = _paths(root)
    path = rng.choice(paths)
    node = _get(root, path)
    parent = _get(root, path[:-1]) if path else None
    kind = rng.random()
    if kind < 0.14 and isinstance(parent, dict):  # drop a key
        del parent[path[-1]]
        return root
    if kind < 0.18 and isinstance(parent, dict):  # rename a key (case or typo)
        value = parent.pop(path[-1])
        parent[rng.choice([str(path[-1]).upper(), str(path[-1]).lower(), str(path[-1]) + "_", "unknown"])] = value
        return root
    if kind < 0.22 and isinstance(node, dict):  # an unknown field
        node[rng.choice(["extra", "u", "ts", "data", "E"])] = _scalar(rng, 1723161256313)
        return root
    if kind < 0.30 and isinstance(node, list):  # empty array
        node.clear()
        return root
    if kind < 0.36 and isinstance(node, list) and node:  # giant array
        element = rng.choice(node)
        room = GIANT_BYTES - len(dumps(root))
        copies = min(rng.randint(1_000, GIANT_MAX), max(0, room) // max(1, len(dumps(element))))
        node.extend(_copy(element) for _ in range(copies))
        return root
    if kind < 0.42 and _cross(rng, root):
        return root
    if kind < 0.47:  # deep nesting around a node
        depth = rng.choice([30, 120])  # deeper nesting comes from mutate_bytes
        wrapped: Any = node
        for _ in range(depth):
            wrapped = [wrapped] if rng.random() < 0.5 else {"x": wrapped}
        return _replace(root, path, wrapped)
    if kind < 0.55 and isinstance(node, list) and node:  # reorder or duplicate levels
        rng.shuffle(node)
        node.append(_copy(node[0]))
        return root
    if kind < 0.62 and isinstance(node, str | int | Decimal) and _number_text(str(node)):  # sign/zero sizes
        return _replace(root, path, rng.choice(["-" + str(node).lstrip("-"), "0", "-0", Decimal(0), -1,
                                                str(node) + "0" * 40]))
    if isinstance(node, dict | list) and rng.random() < 0.3:
        return _replace(root, path, _retype(rng, node))
    return _replace(root, path, _scalar(rng, node))


def _replace(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


def mutate_value(rng: random.Random, value: Any, rounds: int | None = None, *, fresh: bool = False) -> Any:
    """A mutated private copy of a decoded JSON value (1–3 structural mutations); with
    `fresh` the value is the caller's own throw-away copy and is mutated in place."""
    root = value if fresh else _copy(value)
    for _ in range(rounds or rng.choice((1, 1, 1, 2, 3))):
        try:
            root = _structural(rng, root)
        except ArithmeticError:  # our own arithmetic on a huge number: skip this round
            continue
    return root


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One byte-level mutation of serialised text."""
    if not data:
        return rng.choice([b"", b"{", b"null", b"[]"])
    kind = rng.random()
    i = rng.randrange(len(data))
    if kind < 0.25:  # bit flip
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1:]
    if kind < 0.45:  # truncation
        return data[:i]
    if kind < 0.6:  # random bytes inserted
        return data[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + data[i:]
    if kind < 0.7:  # a chunk duplicated
        j = min(len(data), i + rng.randint(1, 64))
        return data[:j] + data[i:j] + data[j:]
    if kind < 0.8:  # a lone surrogate or an invalid escape inside the text
        return data[:i] + rng.choice([b"\\ud800", b"\\u0000", b"\\x", b"\xff\xfe", b"\xed\xa0\x80"]) + data[i:]
    if kind < 0.9:  # deep nesting
        depth = rng.choice([100, 1_000, 100_000])
        return b"[" * depth + data + b"]" * depth
    return data.replace(b'"', b"", rng.randint(1, 4))


Mutator = Callable[[random.Random, bytes], bytes]
