"""The one typed configuration, parsed fully at startup (pure: no file or env access here;
`flows.settings` reads the file and the environment and calls `parse_config`).

Sources, later wins: built-in defaults → TOML file → environment. Environment keys are
`ARBFLOW_<SECTION>__<KEY>` (`ARBFLOW_KAFKA__PARTITIONS=8`,
`ARBFLOW_VENUES__BINANCE__LIQUIDITY_RANK=3`), plus the conventional `KAFKA_BOOTSTRAP` and
`REDIS_URL`. Unknown keys are errors; a bad value raises `ConfigError` naming the key and
what is allowed.
"""

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from model.errors import ConfigError
from model.money import DecimalTextError, parse_decimal

HOUR_MS = 3_600_000


def rule(check: Callable[[Any], bool], allowed: str) -> dict[str, Any]:
    """Field metadata: a predicate on the parsed value and the words for what is allowed."""
    return {"check": check, "allowed": allowed}


def _bps(v: Decimal) -> bool:
    return Decimal(-10) <= v <= Decimal(100)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeSchedule:
    """Maker and taker fee in basis points of notional; negative maker = rebate."""

    maker_bps: Decimal = field(metadata=rule(_bps, "a decimal between -10 and 100 (bps)"))
    taker_bps: Decimal = field(metadata=rule(_bps, "a decimal between -10 and 100 (bps)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueConfig:
    """One venue. `liquidity_rank`: 1 = hardest to fill; the harder leg trades first
    (DESIGN.md §3.7). `spot` is None where arbflow trades no spot market on the venue.
    Tick, lot and min_qty are fallbacks used until the venue's own market data is loaded.
    """

    kind: Literal["cex", "dex"]
    liquidity_rank: int = field(metadata=rule(lambda v: 1 <= v <= 100, "an integer from 1 to 100"))
    spot: FeeSchedule | None = None
    perp: FeeSchedule
    funding_interval_ms: int = field(
        default=8 * HOUR_MS, metadata=rule(lambda v: 60_000 <= v <= 24 * HOUR_MS, "1 minute to 24 hours in ms"))
    tick_size: Decimal = field(default=Decimal("0.01"), metadata=rule(lambda v: v > 0, "a decimal > 0"))
    lot_size: Decimal = field(default=Decimal("0.001"), metadata=rule(lambda v: v > 0, "a decimal > 0"))
    min_qty: Decimal = field(default=Decimal("0.001"), metadata=rule(lambda v: v > 0, "a decimal > 0"))


def _fees(maker: str, taker: str) -> FeeSchedule:
    return FeeSchedule(maker_bps=Decimal(maker), taker_bps=Decimal(taker))


# Public VIP-0 fee schedules (venue fee pages, 2025); liquidity order from DESIGN.md §3.7, rank 1 = hardest:
# DEXes (paradex < dydx < hyperliquid), then mexc < htx < bitget < gate < kucoin < okx < bybit < binance.
# htx, mexc and dydx are data venues: their funding histories are replayed (connectors/captures/
# funding_history.py), so their records must not be UNKNOWN_VENUE; they are not in the seeds' trading set.
DEFAULT_VENUES: dict[str, VenueConfig] = {
    "binance": VenueConfig(kind="cex", liquidity_rank=11, spot=_fees("10", "10"), perp=_fees("2", "5")),
    "bybit": VenueConfig(kind="cex", liquidity_rank=10, spot=_fees("10", "10"), perp=_fees("2", "5.5")),
    "okx": VenueConfig(kind="cex", liquidity_rank=9, spot=_fees("8", "10"), perp=_fees("2", "5")),
    "kucoin": VenueConfig(kind="cex", liquidity_rank=8, spot=_fees("10", "10"), perp=_fees("2", "6")),
    "gate": VenueConfig(kind="cex", liquidity_rank=7, spot=_fees("10", "10"), perp=_fees("2", "5")),
    "bitget": VenueConfig(kind="cex", liquidity_rank=6, spot=_fees("10", "10"), perp=_fees("2", "6")),
    "htx": VenueConfig(kind="cex", liquidity_rank=5, spot=_fees("20", "20"), perp=_fees("2", "6")),  # data venue
    "mexc": VenueConfig(kind="cex", liquidity_rank=4, spot=_fees("0", "5"), perp=_fees("0", "2")),  # data venue
    "hyperliquid": VenueConfig(kind="dex", liquidity_rank=3, perp=_fees("1.5", "4.5"), funding_interval_ms=HOUR_MS),
    "dydx": VenueConfig(kind="dex", liquidity_rank=2, perp=_fees("1", "5"),  # data venue (v4 fees; v3 history)
                        funding_interval_ms=HOUR_MS),
    "paradex": VenueConfig(kind="dex", liquidity_rank=1, perp=_fees("0", "2")),
}


def _assets(v: tuple[str, ...]) -> bool:
    return len(v) > 0 and all(a.isalnum() and a.upper() == a for a in v)


@dataclass(frozen=True, slots=True, kw_only=True)
class UniverseConfig:
    """Which instruments exist for arbflow: base assets and quote/settle currencies.
    A record for anything else is rejected as UNKNOWN_SYMBOL."""

    assets: tuple[str, ...] = field(default=("BTC", "ETH", "SOL"),
                                    metadata=rule(_assets, "a non-empty list of upper-case asset codes"))
    quotes: tuple[str, ...] = field(default=("USDT", "USDC", "USD"),
                                    metadata=rule(_assets, "a non-empty list of upper-case currency codes"))


def _port(v: int) -> bool:
    return 0 <= v <= 65535


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaConfig:
    """Kafka. `bootstrap` None = the embedded broker of `arbflow infra up`.
    Partitions of every topic; records are keyed by base asset (see connectors.kafka)."""

    bootstrap: str | None = None
    partitions: int = field(default=4, metadata=rule(lambda v: 1 <= v <= 1024, "an integer from 1 to 1024"))
    topic_prefix: str = ""
    connect_timeout_s: float = field(default=5.0, metadata=rule(lambda v: 0 < v <= 60, "seconds, > 0 and ≤ 60"))
    delivery_timeout_ms: int = field(default=10_000, metadata=rule(lambda v: 1_000 <= v <= 300_000,
                                                                  "1000 to 300000 ms"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisConfig:
    """Redis. `url` None = the embedded redis-server of `arbflow infra up`.
    `key_prefix` is put before every key arbflow writes (tests use a unique one)."""

    url: str | None = None
    key_prefix: str = ""
    connect_timeout_s: float = field(default=3.0, metadata=rule(lambda v: 0 < v <= 60, "seconds, > 0 and ≤ 60"))


@dataclass(frozen=True, slots=True, kw_only=True)
class InfraConfig:
    """Embedded services. Port 0 = pick a free port. `state_dir` holds pid files and logs."""

    state_dir: str = ".arbflow"
    kafka_port: int = field(default=19092, metadata=rule(_port, "a port from 0 to 65535"))
    redis_port: int = field(default=16379, metadata=rule(_port, "a port from 0 to 65535"))
    startup_timeout_s: float = field(default=15.0, metadata=rule(lambda v: 0 < v <= 300, "seconds, > 0 and ≤ 300"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayConfig:
    """Replay. `speed` 0 = as fast as possible, N = N × recorded pace.
    `workers` = Bytewax worker threads in this process."""

    speed: float = field(default=0.0, metadata=rule(lambda v: 0 <= v <= 1e6, "0 (fastest) or a factor > 0"))
    workers: int = field(default=1, metadata=rule(lambda v: 1 <= v <= 64, "an integer from 1 to 64"))


def _positive(v: Decimal) -> bool:
    return v > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ScannerConfig:
    """The opportunity scanner (DESIGN.md §3.6, §3.9). Money in quote currency (USD).

    `notional` is the size each candidate is priced for; `horizon_intervals` the holding
    horizon in 8 h funding intervals for projected profit; `quote_equivalents` lists quote
    currencies that may be paired with each other (empty = a pair never mixes quotes);
    a leg whose last price is older than `quote_max_age_ms` is stale (DESIGN.md §3.9:
    a venue silent > 5 s pauses entries there)."""

    notional: Decimal = field(default=Decimal(10_000), metadata=rule(_positive, "a decimal > 0 (USD)"))
    min_spread_bps: Decimal = field(default=Decimal(5), metadata=rule(lambda v: v >= 0, "a decimal >= 0"))
    min_score: int = field(default=70, metadata=rule(lambda v: 0 <= v <= 100, "an integer from 0 to 100"))
    min_depth_usd: Decimal = field(default=Decimal(50_000), metadata=rule(lambda v: v >= 0, "a decimal >= 0"))
    depth_band_bps: Decimal = field(default=Decimal(2), metadata=rule(_positive, "a decimal > 0"))
    horizon_intervals: int = field(default=3, metadata=rule(lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"))
    top_n: int = field(default=20, metadata=rule(lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"))
    quote_equivalents: tuple[str, ...] = ()
    quote_max_age_ms: int = field(default=5_000, metadata=rule(lambda v: v >= 1, "an integer >= 1 (ms)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalsConfig:
    """The signal step. `scan_interval_ms`: at most one scan per asset per this much
    stream time. `funding_silent_after_s`: a funding stream silent this long mid-interval is
    stale (DESIGN.md §3.9); 0 turns the rule off — for settlement-only histories, which
    speak once per interval by nature. A record whose event time is more than
    `late_tolerance_ms` behind the newest of its asset goes to its dead-letter topic as
    LATE_RECORD instead of rewinding the state."""

    scan_interval_ms: int = field(default=1_000, metadata=rule(lambda v: 1 <= v <= 3_600_000, "1 ms to 1 hour"))
    funding_silent_after_s: int = field(default=600, metadata=rule(lambda v: v >= 0, "seconds, 0 = off"))
    late_tolerance_ms: int = field(default=5_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything arbflow needs to start; see each section's docstring."""

    universe: UniverseConfig = UniverseConfig()
    venues: Mapping[str, VenueConfig] = field(default_factory=lambda: dict(DEFAULT_VENUES))
    kafka: KafkaConfig = KafkaConfig()
    redis: RedisConfig = RedisConfig()
    infra: InfraConfig = InfraConfig()
    replay: ReplayConfig = ReplayConfig()
    scanner: ScannerConfig = ScannerConfig()
    signals: SignalsConfig = SignalsConfig()


# -- parsing ----------------------------------------------------------------------------


class EnvText(str):
    """A value that came from an environment variable: text to be coerced to the type."""


ENV_PREFIX = "ARBFLOW_"
ENV_ALIASES = {"KAFKA_BOOTSTRAP": ("kafka", "bootstrap"), "REDIS_URL": ("redis", "url")}


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from `ARBFLOW_A__B=…` variables and the aliases."""
    tree: dict[str, Any] = {}
    items: list[tuple[tuple[str, ...], str]] = [
        (path, value) for name, path in ENV_ALIASES.items() if (value := env.get(name))]
    items += [(tuple(p.lower() for p in name[len(ENV_PREFIX):].split("__")), value)
              for name, value in sorted(env.items()) if name.startswith(ENV_PREFIX)]
    for path, value in items:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(".".join(path), "conflicts with another environment variable")
        node[path[-1]] = EnvText(value)
    return tree


def _plain(value: Any) -> Any:
    """A dataclass tree as nested dicts (the shape a TOML file has)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def parse_config(document: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    """Defaults ← `document` (a parsed TOML file) ← `env`; raises `ConfigError`."""
    merged = _merge(_merge(_plain(Config()), dict(document)), env_overrides(env))
    return typing.cast(Config, _parse(Config, merged, ""))


def _fail(key: str, value: Any, allowed: str) -> ConfigError:
    shown = repr(str(value)) if isinstance(value, EnvText) else repr(value)
    return ConfigError(key or "config", f"got {shown}; allowed: {allowed}")


def _parse(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    from_env = isinstance(value, EnvText)
    if dataclasses.is_dataclass(tp):
        return _parse_section(tp, value, key)
    if origin in (types.UnionType, typing.Union):
        inner = next(a for a in args if a is not type(None))
        if value is None or (from_env and value.strip().lower() in ("", "none")):
            return None
        return _parse(inner, value, key)
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise _fail(key, value, "a table of named entries")
        return {name: _parse(args[1], item, f"{key}.{name}") for name, item in value.items()}
    if origin is tuple:
        items = [s.strip() for s in value.split(",") if s.strip()] if from_env else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise _fail(key, value, "a list of strings")
        return tuple(items)
    if origin is Literal:
        if value not in args:
            raise _fail(key, value, " or ".join(map(repr, args)))
        return str(value)
    return _parse_scalar(tp, value, key, from_env)


def _parse_scalar(tp: Any, value: Any, key: str, from_env: bool) -> Any:
    if tp is bool:
        if from_env and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if type(value) is bool:
            return value
        raise _fail(key, value, "true or false")
    if tp is int:
        if type(value) is int:
            return value
        if from_env:
            text = value.strip()
            if text.isascii() and text.lstrip("-").isdigit() and text.count("-") <= 1:
                return int(text)
        raise _fail(key, value, "an integer")
    if tp is float:
        try:
            return float(value) if from_env or type(value) in (int, float) else _raise()
        except ValueError:
            raise _fail(key, value, "a number") from None
    if tp is Decimal:
        text = value.strip() if from_env else repr(value) if type(value) is float else value
        try:
            return Decimal(text) if type(text) is int else parse_decimal(text) if type(text) is str else _raise()
        except (DecimalTextError, ValueError):
            raise _fail(key, value, 'a decimal number, e.g. "0.02"') from None
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise _fail(key, value, "a string")
    raise TypeError(f"config field {key} has an unsupported type {tp!r}")


def _raise() -> Any:
    raise ValueError


def _parse_section(cls: Any, value: Any, key: str) -> Any:
    if not isinstance(value, Mapping):
        raise _fail(key, value, "a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in value:
        if name not in fields:
            raise ConfigError(f"{key}.{name}" if key else name, f"unknown key; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    parsed = {}
    for name, f in fields.items():
        path = f"{key}.{name}" if key else name
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(path, "required key is missing")
            continue
        parsed[name] = _parse(hints[name], value[name], path)
        check = f.metadata.get("check")
        if check is not None and not check(parsed[name]):
            raise _fail(path, value[name], f.metadata["allowed"])
    return cls(**parsed)
