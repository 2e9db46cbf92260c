"""What the fuzzer feeds: one `Target` per normaliser, seeded from real inputs.

A target makes a message (`make(rng)` → the exact input bytes) and runs it (`run(data)` →
an outcome string: `accepted`, `skipped` or `rejected:<REASON>`). Anything `run` raises is
a crash: the normaliser's documented reject is already turned into `rejected:…` here
(`PayloadError`, `KeyIgnored`, a `Rejected` record). Records a normaliser emits are also
written with `model.codec.encode`, as the converters do next, so an unwritable record is
a crash too. `reset()` rebuilds per-target state (order books, contract sizes) from the
unmutated seeds; the runner calls it every `RESET_EVERY` messages, outside the clock.

Input formats (also the format of the reproducers under out/fuzz/):
- `codec (parse_record)`: header = the topic, then the message value as a consumer of
  that topic receives it (every record topic and one dead-letter topic);
- venue feeds (`binance-spot` … `bitget`): a header line `message <ts_local>`,
  `snapshot <url> <ts_local>` or `reference <url> <ts_local>`, then the JSON payload;
- `hyperliquid`: header `l2Book <ts_local>` or `trades <ts_local>`, then the `data` JSON;
- `compat-tickers`: header `string <key>` or `hash <key>` (the value a JSON object of
  field → string), then the Redis value;
- `capture-hftbacktest`, `capture-cryptofeed`: header = the capture file name, then one
  line of that file (written to a file of that name and converted).
"""

import contextlib
import json
import lzma
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from arbflow.connectors.captures import cryptofeed, hftbacktest
from arbflow.connectors.feeds import compat_tickers
from arbflow.connectors.payload import PayloadError
from arbflow.connectors.venues import hyperliquid
from arbflow.model import codec, topics
from arbflow.model.config import parse_config
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe, parse_record
from bench.fuzz.mutate import dumps, mutate_bytes, mutate_value

REPO = Path(__file__).resolve().parent.parent.parent
RAW = REPO / "fixtures" / "raw"
RESET_EVERY = 2_000
WARM_LINES = 300  # live lines replayed after the reference data on a reset


class PropertyViolation(AssertionError):
    """An accepted record that does not survive encode → decode unchanged."""


def _load_exact(text: str | bytes) -> Any:
    """JSON with exact decimals, as the capture readers load it."""
    return json.loads(text, parse_float=Decimal)


def _outcome(items: list[tuple[str, Any]]) -> str:
    """accepted when any record came out; else the first reject's reason; else skipped."""
    reasons = []
    accepted = False
    for _, item in items:
        if isinstance(item, (PayloadError, Rejected)):
            reasons.append(item.reason)
        else:
            codec.encode(item)
            accepted = True
    if accepted:
        return "accepted"
    return f"rejected:{reasons[0]}" if reasons else "skipped"


def _mutate_json(rng: random.Random, text: str | bytes) -> bytes:
    """Mostly structural mutations of the JSON `text` (parsed afresh: cheaper than a deep
    copy); sometimes byte-level on the text, or both."""
    roll = rng.random()
    raw = text.encode() if isinstance(text, str) else text
    mutated = dumps(mutate_value(rng, _load_exact(raw), fresh=True)).encode() if roll < 0.85 else raw
    return mutate_bytes(rng, mutated) if roll > 0.65 else mutated


class Target:
    name: str

    def make(self, rng: random.Random) -> bytes:
        raise NotImplementedError

    def run(self, data: bytes) -> str:
        raise NotImplementedError

    def reset(self) -> None:
        """Rebuild state from the unmutated seeds (default: stateless)."""


# -- codec / parse_record, one target per topic ----------------------------------------


class CodecTarget(Target):
    """parse_record(topic, value) over encoded hypothesis records of every topic, mutated;
    an accepted record must come back unchanged through encode → parse_record."""

    name = "codec (parse_record)"

    def __init__(self, seeds: dict[str, list[bytes]], universe: Universe) -> None:
        self.seeds = [(topic.encode(), value) for topic, values in seeds.items() for value in values]
        self.universe = universe

    def make(self, rng: random.Random) -> bytes:
        topic, seed = rng.choice(self.seeds)
        roll = rng.random()
        if roll < 0.55:
            value = dumps(mutate_value(rng, orjson.loads(seed), fresh=True)).encode()
        elif roll < 0.9:
            value = mutate_bytes(rng, seed)
        else:
            value = mutate_bytes(rng, dumps(mutate_value(rng, orjson.loads(seed), fresh=True)).encode())
        return topic + b"\n" + value

    def run(self, data: bytes) -> str:
        head, _, value = data.partition(b"\n")
        topic = head.decode()
        record = parse_record(topic, value, self.universe)
        if type(record) is Rejected and not topic.startswith(topics.DLQ_PREFIX):
            return f"rejected:{record.reason}"
        again = parse_record(topic, codec.encode(record), self.universe)
        if again != record:
            raise PropertyViolation(f"round trip changed the record: {record!r} → {again!r}")
        return "accepted"


def _examples(strategy: Any, count: int, seed: int) -> list[Any]:
    """Up to `count` examples of a hypothesis strategy, the same ones for the same seed."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    found: list[Any] = []

    @fixed_seed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def keep(record: Any) -> None:
        found.append(record)

    keep()
    return found


def hypothesis_seeds(per_type: int, seed: int) -> dict[str, list[bytes]]:
    """Encoded valid records per topic (plus one dead-letter topic), from tests/strategies,
    generated deterministically from `seed`."""
    from tests.strategies import RECORDS

    wanted = {**topics.RECORD_TYPES, topics.dlq_topic(topics.MD_TICKER): Rejected}
    return {topic: [codec.encode(r) for r in _examples(RECORDS[cls], per_type, seed)] for topic, cls in wanted.items()}


def codec_targets(per_type: int, seed: int) -> list[Target]:
    return [CodecTarget(hypothesis_seeds(per_type, seed), Universe.from_config(parse_config({}, {})))]


# -- venue feeds of connectors/venues, seeded from the cryptofeed recordings -----------


def _recorded_lines(name: str) -> list[tuple[str, str, int, str]]:
    """(kind, url, ts_local, payload) of a recording in replay order: reference data first,
    then websocket and snapshot lines by time. kind: message, snapshot or reference."""
    files = cryptofeed.siblings(RAW / "cryptofeed" / f"{name}.0.xz")
    reference, live = [], []
    for kind, paths in files.items():
        for path in paths:
            for line in cryptofeed.read_lines(path):
                if line.kind == "received":
                    live.append(("message", "", line.ts_local, line.payload))
                elif line.kind == "rest":
                    entry = ("reference" if kind == "reference" else "snapshot", line.url, line.ts_local, line.payload)
                    (reference if kind == "reference" else live).append(entry)
    live.sort(key=lambda entry: entry[2])
    return reference + live


class FeedTarget(Target):
    """A venue `Feed` (connectors/venues/<venue>.py) over mutated recorded lines."""

    def __init__(self, name: str, recording: str, factory: Callable[[], Any]) -> None:
        self.name, self.factory = name, factory
        self.lines = _recorded_lines(recording)
        self.reset()

    def reset(self) -> None:
        self.feed = self.factory()
        warm = [line for line in self.lines if line[0] == "reference"]
        warm += [line for line in self.lines if line[0] != "reference"][:WARM_LINES]
        for kind, url, ts, payload in warm:
            with contextlib.suppress(PayloadError):
                self._call(kind, url, ts, _load_exact(payload))

    def make(self, rng: random.Random) -> bytes:
        kind, url, ts, payload = rng.choice(self.lines)
        head = f"{kind} {ts}" if kind == "message" else f"{kind} {url} {ts}"
        return head.encode() + b"\n" + _mutate_json(rng, payload)

    def _call(self, kind: str, url: str, ts: int, body: Any) -> list[tuple[str, Any]]:
        if kind == "message":
            return list(self.feed.message(body, ts))
        if kind == "snapshot":
            return list(self.feed.snapshot(url, body, ts))
        return list(self.feed.reference(url, body, ts))

    def run(self, data: bytes) -> str:
        head, _, payload = data.partition(b"\n")
        kind, *rest = head.decode().split(" ")
        try:  # the capture reader's loader (its own target is capture-cryptofeed)
            body = cryptofeed._loads(payload.decode("utf-8", "replace"))
        except ValueError:
            return "rejected:MALFORMED_JSON"
        try:
            return _outcome(self._call(kind, rest[0] if kind != "message" else "", int(rest[-1]), body))
        except PayloadError as bad:
            return f"rejected:{bad.reason}"


def feed_targets() -> list[Target]:
    feeds = cryptofeed.FEEDS
    names = {"binance-spot": "BINANCE", "binance-usdm": "BINANCE_FUTURES", "binance-coinm": "BINANCE_DELIVERY",
             "bybit": "BYBIT", "okx": "OKX", "gate-spot": "GATEIO", "gate-futures": "GATEIO_FUTURES",
             "kucoin": "KUCOIN", "bitget": "BITGET"}
    return [FeedTarget(name, recording, lambda r=recording: feeds[r](20)) for name, recording in names.items()]


# -- hyperliquid: l2Book and trades from the hftbacktest recording ----------------------


def _hftbacktest_lines(name: str) -> list[bytes]:
    with lzma.open(RAW / name, "rb") as handle:
        return handle.read().splitlines()


class HyperliquidTarget(Target):
    name = "hyperliquid"

    def __init__(self) -> None:
        self.values = []
        for line in _hftbacktest_lines("hyperliquid_btcusd_20250126.txt.xz"):
            stamp, _, payload = line.partition(b" ")
            message = _load_exact(payload)
            if message.get("channel") in ("l2Book", "trades"):
                self.values.append((message["channel"], int(stamp) // 1_000_000, dumps(message["data"])))

    def make(self, rng: random.Random) -> bytes:
        channel, ts, data = rng.choice(self.values)
        return f"{channel} {ts}".encode() + b"\n" + _mutate_json(rng, data)

    def run(self, data: bytes) -> str:
        head, _, payload = data.partition(b"\n")
        channel, ts = head.decode().split(" ")
        try:
            message = codec.loads(payload)  # the hftbacktest reader's loader (orjson)
        except codec.DecodeError:
            return "rejected:MALFORMED_JSON"
        try:
            if channel == "l2Book":
                book = hyperliquid.parse_l2_book(message, int(ts))
                return _outcome([(topics.MD_BOOK, book), (topics.MD_TICKER, hyperliquid.ticker_from_book(book))]
                                if hyperliquid.ticker_from_book(book) else [(topics.MD_BOOK, book)])
            return _outcome([(topics.MD_TRADE, t) for t in hyperliquid.parse_trades(message, int(ts))])
        except PayloadError as bad:
            return f"rejected:{bad.reason}"


# -- the Redis compatibility normaliser -------------------------------------------------


class CompatTarget(Target):
    name = "compat-tickers"

    def __init__(self) -> None:
        entries = json.loads((REPO / "fixtures" / "redis_compat" / "tickers.json").read_text())
        self.values = [(e["type"], e["key"], v) for e in entries for v in e["values"]]

    def make(self, rng: random.Random) -> bytes:
        kind, key, value = rng.choice(self.values)
        if rng.random() < 0.05:
            key = rng.choice([key.upper(), key + ":", key.replace(":", "", 1), key + "\u00e9", "x"])
        if kind == "hash":
            mutated = mutate_value(rng, value)
            if type(mutated) is not dict:
                mutated = {"v": mutated}
            body = json.dumps({str(k): v if type(v) is str else dumps(v) for k, v in mutated.items()}).encode()
        else:
            body = _mutate_json(rng, value)
        return f"{kind} {key}".encode() + b"\n" + body

    def run(self, data: bytes) -> str:
        head, _, payload = data.partition(b"\n")
        kind, _, key = head.decode().partition(" ")
        try:
            resolved = compat_tickers.parse_key(key)
        except compat_tickers.KeyIgnored as ignored:
            return f"rejected:{ignored.reason}"
        value: bytes | dict[bytes, bytes] = payload
        if kind == "hash":
            value = {k.encode(): v.encode("utf-8", "surrogatepass") for k, v in json.loads(payload).items()}
        try:
            return _outcome([(topics.MD_TICKER, compat_tickers.ticker(resolved, compat_tickers.decode(value),
                                                                      1723161256313))])
        except PayloadError as bad:
            return f"rejected:{bad.reason}"


# -- the capture converters, one line at a time through their file entry points --------


class CaptureTarget(Target):
    """`hftbacktest.read_capture` or `cryptofeed.read_capture` on a one-line file."""

    def __init__(self, name: str, files: list[tuple[str, list[bytes]]], convert: Callable[[Path], Any]) -> None:
        self.name, self.files, self.convert = name, files, convert
        self.dir = Path(tempfile.mkdtemp(prefix="arbflow-fuzz-", dir="/dev/shm" if Path("/dev/shm").is_dir()
                                         else None))

    def make(self, rng: random.Random) -> bytes:
        name, lines = rng.choice(self.files)
        line = rng.choice(lines)
        prefix, sep, payload = line.partition(b": ") if b": " in line else line.partition(b" ")
        roll = rng.random()
        if roll < 0.1:  # the line's own time: seconds for nanoseconds, garbage, negative
            prefix = rng.choice([prefix[:10], b"-" + prefix, b"abc", b"", prefix + b"0" * 30, b"1e9"])
        elif roll < 0.75:
            try:
                payload = _mutate_json(rng, payload)
            except (ValueError, RecursionError):
                payload = mutate_bytes(rng, payload)
        else:
            return name.encode() + b"\n" + mutate_bytes(rng, line)
        return name.encode() + b"\n" + prefix + sep + payload

    def run(self, data: bytes) -> str:
        name, _, line = data.partition(b"\n")
        folder = self.dir / name.decode()
        folder.mkdir(exist_ok=True)
        path = folder / name.decode()
        path.write_bytes(line + b"\n")
        return _outcome(list(self.convert(path)))


def capture_targets() -> list[Target]:
    hft = [(name.replace(".head.txt.xz", "").replace(".txt.xz", ""), _hftbacktest_lines(name))
           for name in ("spot_btcusdt_20240808.head.txt.xz", "usdm_btcusdt_20240808.head.txt.xz",
                        "cm_btcusd_perp_20240808.head.txt.xz", "hyperliquid_btcusd_20250126.txt.xz")]
    recorded = []
    for path in sorted((RAW / "cryptofeed").glob("*.xz")):
        with lzma.open(path, "rb") as handle:
            recorded.append((path.name.removesuffix(".xz"), handle.read().splitlines()[:400]))
    return [CaptureTarget("capture-hftbacktest", hft, lambda p: hftbacktest.read_capture(p, counts=Counter())),
            CaptureTarget("capture-cryptofeed", recorded, lambda p: cryptofeed.read_capture(p, counts=Counter()))]


def all_targets(per_type: int, seed: int, only: str = "") -> list[Target]:
    """Every target whose name contains `only`, the codec first (its hypothesis seeds are
    generated only when it is wanted)."""
    codecs = codec_targets(per_type, seed) if only in CodecTarget.name else []
    others = [*feed_targets(), HyperliquidTarget(), CompatTarget(), *capture_targets()]
    return [t for t in [*codecs, *others] if only in t.name]
