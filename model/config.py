"""The one typed configuration, parsed fully at startup (pure: no file or env access here;
`cli.config_file` reads the file and the environment and calls `parse_config`).

Sources, later wins: built-in defaults → TOML file → environment. Environment keys are
`ARBFLOW_<SECTION>__<KEY>` (`ARBFLOW_KAFKA__PARTITIONS=8`,
`ARBFLOW_VENUES__BINANCE__LIQUIDITY_RANK=3`), plus the conventional `KAFKA_BOOTSTRAP` and
`REDIS_URL`. Unknown keys are errors; a bad value raises `ConfigError` naming the key and
what is allowed.
"""

import dataclasses
import itertools
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from arbflow.model.contracts import CONTRACT_SIZE_ALLOWED, parse_contract_size
from arbflow.model.errors import ConfigError
from arbflow.model.money import DecimalTextError, parse_decimal

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


def _currency(v: str | None) -> bool:
    return v is None or (v.isascii() and v.isalnum() and v.upper() == v and len(v) <= 10)


def _contract_size(v: str) -> bool:
    try:
        parse_contract_size(v)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueConfig:
    """One venue. `liquidity_rank`: 1 = hardest to fill; the harder leg trades first
    (docs/architecture.md §3.7); 0 = not given (a venue configured with kind and fees only:
    `parse_config` ranks it the hardest of its kind and renumbers the others, order kept).
    `spot` is None where arbflow trades no spot market on the venue.
    Tick, lot and min_qty are fallbacks used until the venue's own market data is loaded.

    The venue's perpetuals as converted files describe them unless told otherwise
    (`arbflow convert … --contract/--quote/--settle/--contract-size`, model/contracts.py):
    `contract` linear or inverse; `quote` (None: the settle currency for linear, USD for
    inverse) and `settle` (None: USDT for linear, the base asset for inverse);
    `contract_size` "<number> [unit]", the unit `base` (default) or a quote currency such
    as USD (an inverse contract worth 10 USD is "10 USD").
    """

    kind: Literal["cex", "dex"]
    liquidity_rank: int = field(default=0, metadata=rule(lambda v: 1 <= v <= 100, "an integer from 1 to 100"))
    spot: FeeSchedule | None = None
    perp: FeeSchedule
    funding_interval_ms: int = field(
        default=8 * HOUR_MS, metadata=rule(lambda v: 60_000 <= v <= 24 * HOUR_MS, "1 minute to 24 hours in ms"))
    tick_size: Decimal = field(default=Decimal("0.01"), metadata=rule(lambda v: v > 0, "a decimal > 0"))
    lot_size: Decimal = field(default=Decimal("0.001"), metadata=rule(lambda v: v > 0, "a decimal > 0"))
    min_qty: Decimal = field(default=Decimal("0.001"), metadata=rule(lambda v: v > 0, "a decimal > 0"))
    contract: Literal["linear", "inverse"] = "linear"
    quote: str | None = field(default=None, metadata=rule(_currency, "an upper-case currency code, e.g. USD"))
    settle: str | None = field(default=None, metadata=rule(_currency, "an upper-case currency code, e.g. USDC"))
    contract_size: str = field(default="1", metadata=rule(_contract_size, CONTRACT_SIZE_ALLOWED))


# Keys a venue may leave out: parse_config fills them and says so in one line per venue.
VENUE_FALLBACK_KEYS = ("liquidity_rank", "funding_interval_ms", "tick_size", "lot_size", "min_qty")


def _fees(maker: str, taker: str) -> FeeSchedule:
    return FeeSchedule(maker_bps=Decimal(maker), taker_bps=Decimal(taker))


# Public VIP-0 fee schedules (venue fee pages, 2025); liquidity order from docs/architecture.md §3.7, rank 1 = hardest:
# DEXes (paradex < dydx < hyperliquid), then mexc < htx < bitget < gate < kucoin < okx < bybit < binance.
# htx, mexc and dydx are data venues: their funding histories are replayed (connectors/captures/
# funding_history.py), so their records must not be UNKNOWN_VENUE; they are not in the trading venue set.
DEFAULT_VENUES: dict[str, VenueConfig] = {
    "binance": VenueConfig(kind="cex", liquidity_rank=11, spot=_fees("10", "10"), perp=_fees("2", "5")),
    "bybit": VenueConfig(kind="cex", liquidity_rank=10, spot=_fees("10", "10"), perp=_fees("2", "5.5")),
    "okx": VenueConfig(kind="cex", liquidity_rank=9, spot=_fees("8", "10"), perp=_fees("2", "5")),
    "kucoin": VenueConfig(kind="cex", liquidity_rank=8, spot=_fees("10", "10"), perp=_fees("2", "6")),
    "gate": VenueConfig(kind="cex", liquidity_rank=7, spot=_fees("10", "10"), perp=_fees("2", "5")),
    "bitget": VenueConfig(kind="cex", liquidity_rank=6, spot=_fees("10", "10"), perp=_fees("2", "6")),
    "htx": VenueConfig(kind="cex", liquidity_rank=5, spot=_fees("20", "20"), perp=_fees("2", "6")),  # data venue
    "mexc": VenueConfig(kind="cex", liquidity_rank=4, spot=_fees("0", "5"), perp=_fees("0", "2")),  # data venue
    "hyperliquid": VenueConfig(kind="dex", liquidity_rank=3, perp=_fees("1.5", "4.5"), funding_interval_ms=HOUR_MS,
                               settle="USDC"),
    "dydx": VenueConfig(kind="dex", liquidity_rank=2, perp=_fees("1", "5"),  # data venue (v4 fees; v3 history)
                        funding_interval_ms=HOUR_MS, quote="USD", settle="USDC"),
    "paradex": VenueConfig(kind="dex", liquidity_rank=1, perp=_fees("0", "2"), quote="USD", settle="USDC"),
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


# A librdkafka property name (`ssl.ca.location`), or one whose value is read from a file (`…_file`).
_CLIENT_PROPERTY = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9-]+)*(_file)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaConfig:
    """Kafka. `bootstrap` None = the embedded broker of `arbflow infra up`.
    Partitions of every topic; records are keyed by base asset (see connectors.kafka).

    `client`: librdkafka properties given to every producer, consumer and admin client arbflow
    builds (`security.protocol`, `sasl.mechanism`, `sasl.username`, `sasl.password`,
    `ssl.ca.location`, …), names as librdkafka spells them, values strings. In TOML a
    `[kafka.client]` table (dotted keys nest; they are flattened back to `a.b.c`); from the
    environment `ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD` = `sasl.password` (underscores become
    dots). A `<name>_file` entry (`sasl.password_file`) names a file whose content (trailing
    newline dropped) becomes `<name>`: `cli.config_file` reads it, so a loaded configuration
    holds no `*_file` key. `bootstrap.servers` is `bootstrap`'s, not settable here."""

    bootstrap: str | None = None
    partitions: int = field(default=4, metadata=rule(lambda v: 1 <= v <= 1024, "an integer from 1 to 1024"))
    topic_prefix: str = ""
    connect_timeout_s: float = field(default=5.0, metadata=rule(lambda v: 0 < v <= 60, "seconds, > 0 and ≤ 60"))
    delivery_timeout_ms: int = field(default=10_000, metadata=rule(lambda v: 1_000 <= v <= 300_000,
                                                                  "1000 to 300000 ms"))
    client: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.client:  # the error names the key, never the value (it may be a password)
            if name == "bootstrap.servers":
                raise ConfigError("kafka.client.bootstrap.servers", "not settable here; set kafka.bootstrap")
            if not _CLIENT_PROPERTY.fullmatch(name):
                raise ConfigError(f"kafka.client.{name}", "allowed: a librdkafka property name (lower-case "
                                                          "words joined by dots, an optional _file suffix)")


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
    # The embedded broker keeps every record in memory and cannot drop old ones
    # (connectors/infra/broker_guard.py): a live `ingest` on it stops past this RSS. 0 = no cap.
    broker_max_mib: int = field(default=2048, metadata=rule(lambda v: 0 <= v <= 1_048_576,
                                                            "MiB, 0 (no cap) to 1048576"))


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
    """The opportunity scanner (docs/architecture.md §3.6, §3.9). Money in quote currency (USD).

    `notional` is the size each candidate is priced for (its holding period and profit
    rule are `[strategy]`'s); `quote_equivalents` lists quote
    currencies that may be paired with each other (empty = a pair never mixes quotes);
    a leg whose last price is older than `quote_max_age_ms` is stale (docs/architecture.md §3.9:
    a venue silent > 5 s pauses entries there)."""

    notional: Decimal = field(default=Decimal(10_000), metadata=rule(_positive, "a decimal > 0 (USD)"))
    min_spread_bps: Decimal = field(default=Decimal(5), metadata=rule(lambda v: v >= 0, "a decimal >= 0"))
    min_score: int = field(default=70, metadata=rule(lambda v: 0 <= v <= 100, "an integer from 0 to 100"))
    min_depth_usd: Decimal = field(default=Decimal(50_000), metadata=rule(lambda v: v >= 0, "a decimal >= 0"))
    depth_band_bps: Decimal = field(default=Decimal(2), metadata=rule(_positive, "a decimal > 0"))
    top_n: int = field(default=20, metadata=rule(lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"))
    quote_equivalents: tuple[str, ...] = ()
    quote_max_age_ms: int = field(default=5_000, metadata=rule(lambda v: v >= 1, "an integer >= 1 (ms)"))


OrderStyle = Literal["maker_first", "taker"]
PAIR_KINDS: Final = ("carry", "spread", "cross_carry")


def _pair_kinds(v: tuple[str, ...]) -> bool:
    return len(v) > 0 and len(set(v)) == len(v) and all(kind in PAIR_KINDS for kind in v)
ScanOn = Literal["price_update", "timestamp_complete"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyConfig:
    """The one fee-aware carry rule (docs/architecture.md §3.6; operators/strategy), for the
    scanner, the execution exits and the study alike. Rates are fractions per 8 h, costs bps.

    Entry: `carry_8h × H × 10⁴ + entry_spread_bps − round-trip cost > entry_margin_bps`, the
    cost being the four fills of `order_style` ("maker_first": the harder leg rests as maker,
    the other crosses as taker, on entry and exit; "taker": four taker fills) plus the
    expected exit slippage. H, the expected holding period in 8 h intervals, is the mean
    length of the completed runs of positive carry in the pair's last
    `holding_lookback_intervals`, clamped to [`min_holding_intervals`,
    `max_holding_intervals`]; `default_holding_intervals` when the history holds no
    completed run. Hold while the carry stays at or above `exit_carry_8h` (hysteresis: the
    entry bar is the whole round trip plus the margin, the exit bar only the carry's sign).

    `pair_kinds` says which pairs are traded: "carry" (spot long, perp short on one venue),
    "spread" (perp long, perp short on two venues), "cross_carry" (spot long on one venue,
    perp short on another: its basis includes the two venues' price gap, and the study does
    not evaluate it, so it is off by default)."""

    order_style: OrderStyle = "maker_first"
    pair_kinds: tuple[str, ...] = field(default=("carry", "spread"), metadata=rule(
        _pair_kinds, f"a non-empty list of distinct pair kinds among {', '.join(PAIR_KINDS)}"))
    entry_margin_bps: Decimal = field(default=Decimal(20), metadata=rule(lambda v: 0 <= v <= 1_000,
                                                                       "a decimal from 0 to 1000 (bps)"))
    exit_carry_8h: Decimal = field(default=Decimal("-0.00005"), metadata=rule(lambda v: -1 < v < 1,
                                                                    "a decimal in (-1, 1) (fraction per 8 h)"))
    carry_window_intervals: int = field(default=42, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                                  "an integer from 1 to 1095 (8 h intervals)"))
    rebalance_drift: Decimal = field(default=Decimal("0.2"), metadata=rule(lambda v: 0 < v < 1,
                                                                          "a decimal in (0, 1)"))
    basis_stop_bps: Decimal = field(default=Decimal(-20), metadata=rule(lambda v: -10_000 < v <= 0,
                                                                       "a decimal in (-10000, 0] (bps)"))
    basis_stop_intervals: int = field(default=3, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                              "an integer from 1 to 1095 (funding intervals)"))
    basis_reentry_bps: Decimal = field(default=Decimal(0), metadata=rule(lambda v: -10_000 < v < 10_000,
                                                                         "a decimal in (-10000, 10000) (bps)"))
    holding_lookback_intervals: int = field(default=270, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                                       "an integer from 1 to 1095 (8 h intervals)"))
    min_holding_intervals: int = field(default=3, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                                "an integer from 1 to 1095 (8 h intervals)"))
    max_holding_intervals: int = field(default=90, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                                 "an integer from 1 to 1095 (8 h intervals)"))
    default_holding_intervals: int = field(default=21, metadata=rule(lambda v: 1 <= v <= 1_095,
                                                                     "an integer from 1 to 1095 (8 h intervals)"))

    def __post_init__(self) -> None:
        if not self.min_holding_intervals <= self.default_holding_intervals <= self.max_holding_intervals:
            raise ConfigError("strategy.default_holding_intervals",
                              "need min_holding_intervals <= default_holding_intervals <= max_holding_intervals, got "
                              f"{self.min_holding_intervals}, {self.default_holding_intervals}, "
                              f"{self.max_holding_intervals}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalsConfig:
    """The signal step. `scan_interval_ms`: at most one scan per asset per this much
    stream time. `funding_silent_after_s`: a funding stream silent this long mid-interval is
    stale (docs/architecture.md §3.9); 0 turns the rule off — for settlement-only histories, which
    speak once per interval by nature. A record whose event time is more than
    `late_tolerance_ms` behind the newest of its asset goes to its dead-letter topic as
    LATE_RECORD instead of rewinding the state. A venue's latency reading is published at
    most every `latency_interval_ms`; BASIS_NEGATIVE warns once a venue's median basis has
    stayed below 0 for more than `basis_negative_alert_ms` of stream time. `scan_on` says when
    a due scan runs: "price_update" at the price update that found it due (live feeds, tick
    replays); "timestamp_complete" once stream time moves past that update's timestamp, so
    every record of that time is in (bar histories: every instrument closes at one time,
    the funding settles then too; one scan per close instead of one per price)."""

    scan_on: ScanOn = "price_update"
    scan_interval_ms: int = field(default=1_000, metadata=rule(lambda v: 1 <= v <= 3_600_000, "1 ms to 1 hour"))
    funding_silent_after_s: int = field(default=600, metadata=rule(lambda v: v >= 0, "seconds, 0 = off"))
    late_tolerance_ms: int = field(default=5_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))
    latency_interval_ms: int = field(default=1_000, metadata=rule(lambda v: 1 <= v <= 3_600_000, "1 ms to 1 hour"))
    basis_negative_alert_ms: int = field(default=3_600_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))

    @property
    def funding_silent_after_ms(self) -> int | None:
        """`funding_silent_after_s` in the operators' unit; None = the rule is off."""
        return self.funding_silent_after_s * 1000 if self.funding_silent_after_s else None


# -- margin (docs/architecture.md §3.8, §3.9 Margin) -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    """One row of a tiered table, in USD. Progressive tables (haircuts, and maintenance
    with `maintenance_method = "progressive"`) apply `rate` to the slice of the value above
    `floor` up to the next tier's floor; "whole" applies the rate of the highest tier whose
    floor the value exceeds to the whole value."""

    floor: Decimal = field(metadata=rule(lambda v: v >= 0, "a decimal >= 0 (USD)"))
    rate: Decimal = field(metadata=rule(lambda v: 0 <= v <= 1, "a decimal from 0 to 1"))


def _tiers_ok(tiers: tuple[Tier, ...]) -> bool:
    """First floor 0, floors strictly increasing, rates non-decreasing (a bigger position
    never needs less margin, a bigger balance is never discounted less)."""
    return (len(tiers) > 0 and tiers[0].floor == 0
            and all(a.floor < b.floor and a.rate <= b.rate for a, b in itertools.pairwise(tiers)))


def _tables(v: Mapping[str, tuple[Tier, ...]]) -> bool:
    return all(_tiers_ok(t) for t in v.values())


_TABLES_ALLOWED = ("tables of tiers (a list of {floor, rate}): the first floor 0, floors increasing, "
                   "rates not decreasing")


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueMarginConfig:
    """Unified-account tables of one venue. `haircuts`: collateral asset → haircut tiers by
    the balance's USD value (haircut = 1 − the venue's collateral ratio / discount rate);
    `maintenance`: base asset of a USDT-linear perp → maintenance-margin-rate tiers by
    notional; the key "*" is the table for any asset not listed. An asset with no entry and
    no "*" counts as worthless collateral (haircut 100 %), and a perp with no table needs
    its whole notional as maintenance — conservative, and flagged by the simulator."""

    haircuts: Mapping[str, tuple[Tier, ...]] = field(metadata=rule(_tables, _TABLES_ALLOWED))
    maintenance: Mapping[str, tuple[Tier, ...]] = field(metadata=rule(_tables, _TABLES_ALLOWED))
    maintenance_method: Literal["progressive", "whole"] = "progressive"


def _t(*rows: tuple[str, str]) -> tuple[Tier, ...]:
    return tuple(Tier(floor=Decimal(floor), rate=Decimal(rate)) for floor, rate in rows)


# DEFAULTS TO BE CHECKED AGAINST THE VENUE (written 2026-11-28 from the sources named; venues
# change these tables without notice — load the live tables before trading real money).
# Haircut = 1 − collateral ratio. Above $10M of one asset the defaults know no tier, so
# such balances count zero (conservative); stablecoins are taken at face value below that.
_FLAT = _t(("0", "0"), ("10000000", "1"))
_MAJOR = _t(("0", "0.05"), ("10000000", "1"))
DEFAULT_MARGIN_VENUES: dict[str, VenueMarginConfig] = {
    # Binance Portfolio Margin. Collateral: BTC 0.95 (FAQ "Binance Portfolio Margin Program
    # Supported Collateral and Rates", 2022-04-18: "3 BTC × 0.95"); assets not in its table
    # 0.1 (same FAQ) → "*" haircut 0.9; ETH 0.95 assumed equal to BTC; USDT/USDC 1 assumed.
    # Since 2024-09-11 the ratios are tiered (FAQ update) — only the first tier is here.
    # Maintenance: BTCUSDT tiers of the announcement "Updates to Leverage and Margin Tiers of
    # Binance Futures Contracts (2021-03-18)"; MM = notional × rate − maintenance amount, i.e.
    # progressive. The 2025-08-19 update widened tier 1 to 300,000 at 0.40 %, so this table
    # is conservative between 50,000 and 300,000. "*" (ETH and the rest): the 50× table of the
    # same 2021 announcement (1 % … 50 %), conservative for ETH.
    "binance": VenueMarginConfig(
        haircuts={"USDT": _FLAT, "USDC": _FLAT, "BTC": _MAJOR, "ETH": _MAJOR, "*": _t(("0", "0.9"))},
        maintenance={
            "BTC": _t(("0", "0.004"), ("50000", "0.005"), ("250000", "0.01"), ("1000000", "0.025"),
                      ("10000000", "0.05"), ("20000000", "0.10"), ("50000000", "0.125"), ("100000000", "0.15"),
                      ("200000000", "0.25"), ("300000000", "0.5")),
            "*": _t(("0", "0.01"), ("5000", "0.025"), ("25000", "0.05"), ("100000", "0.10"), ("250000", "0.125"),
                    ("1000000", "0.5")),
        },
        maintenance_method="progressive"),
    # Bybit Unified Trading Account. Collateral value ratios are published per coin in its
    # Margin Specification (help article "Understanding Collateral Value Ratios in Unified
    # Trading Account", 2025-09-18; tiers by coin quantity). BTC/ETH 0.95 is an ASSUMPTION
    # (not read from Bybit's table); USDT 1 per the same article's example.
    # Maintenance: help article "Maintenance Margin (USDT Contract)": BTCUSDT 0.5 % up to
    # 2,000,000 USDT, the excess of each tier at the next tier's rate (progressive). Above
    # 2,000,000 an assumed 10 %; ETH 1 % ("maintenance margin base rate … 1 % for ETH", Bybit
    # risk-limit article) up to 1,000,000 (assumed), then 10 %; "*" the Binance 50× table.
    "bybit": VenueMarginConfig(
        haircuts={"USDT": _FLAT, "USDC": _FLAT, "BTC": _MAJOR, "ETH": _MAJOR},
        maintenance={
            "BTC": _t(("0", "0.005"), ("2000000", "0.10")),
            "ETH": _t(("0", "0.01"), ("1000000", "0.10")),
            "*": _t(("0", "0.01"), ("5000", "0.025"), ("25000", "0.05"), ("100000", "0.10"), ("250000", "0.125"),
                    ("1000000", "0.5")),
        },
        maintenance_method="progressive"),
    # OKX multi-currency / portfolio margin. Discount rates are tiered by USD value
    # (announcements "OKX to adjust discount rate tiers for multiple tokens", 2025); BTC/ETH
    # 0.95 and USDT/USDC 1 here are ASSUMPTIONS for the first tier. Position tiers (quoted in
    # contracts by OKX, converted here to USD) apply the tier's rate to the whole position:
    # method "whole". BTC 0.40 % and ETH 0.50 % for tier 1 are ASSUMED (check the
    # BTC-USDT-SWAP / ETH-USDT-SWAP position tiers), then +0.5 % per tier as OKX's tables
    # step (announcement "OKX to adjust position tiers of perpetual swaps", 2023-05-15).
    "okx": VenueMarginConfig(
        haircuts={"USDT": _FLAT, "USDC": _FLAT, "BTC": _MAJOR, "ETH": _MAJOR},
        maintenance={
            "BTC": _t(("0", "0.004"), ("500000", "0.009"), ("2000000", "0.014"), ("10000000", "0.10")),
            "ETH": _t(("0", "0.005"), ("500000", "0.01"), ("2000000", "0.015"), ("10000000", "0.10")),
            "*": _t(("0", "0.01"), ("5000", "0.025"), ("25000", "0.05"), ("100000", "0.10"), ("250000", "0.125"),
                    ("1000000", "0.5")),
        },
        maintenance_method="whole"),
}


def _fraction(v: Decimal) -> bool:
    return Decimal(0) < v <= Decimal(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginConfig:
    """The unified-margin simulator and its gates (docs/architecture.md §3.8, §3.9 Margin).

    `health = 1 − TMM × (1 + shadow_buffer) / adjusted equity`. An entry that would end below
    `entry_min_health` is refused; below `critical_health` every pending entry aborts and
    positions are reduced, lowest quality first, until `deleverage_target_health`; margin
    use (TMM / adjusted equity) above `max_margin_use` → reduction until `margin_use_target`.
    `max_leverage`: Σ perp notional / adjusted equity. `min_liquidation_distance`: a position
    whose price move to health 0 is smaller is flagged (the breakers act on it).
    Required: critical_health < deleverage_target_health ≤ entry_min_health ≤ 1 and
    margin_use_target < max_margin_use."""

    shadow_buffer: Decimal = field(default=Decimal("0.20"),
                                   metadata=rule(lambda v: 0 <= v <= 10, "a decimal from 0 to 10"))
    entry_min_health: Decimal = field(default=Decimal("0.8"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    critical_health: Decimal = field(default=Decimal("0.6"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    deleverage_target_health: Decimal = field(default=Decimal("0.7"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    max_margin_use: Decimal = field(default=Decimal("0.65"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    margin_use_target: Decimal = field(default=Decimal("0.60"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    max_leverage: Decimal = field(default=Decimal(3), metadata=rule(lambda v: 0 < v <= 125, "a decimal in (0, 125]"))
    min_liquidation_distance: Decimal = field(default=Decimal("0.10"),
                                              metadata=rule(_fraction, "a decimal in (0, 1] (fraction of price)"))
    venues: Mapping[str, VenueMarginConfig] = field(default_factory=lambda: dict(DEFAULT_MARGIN_VENUES))

    def __post_init__(self) -> None:
        if not self.critical_health < self.deleverage_target_health <= self.entry_min_health:
            raise ConfigError("margin.deleverage_target_health",
                              "need critical_health < deleverage_target_health <= entry_min_health")
        if not self.margin_use_target < self.max_margin_use:
            raise ConfigError("margin.margin_use_target", "need margin_use_target < max_margin_use")


# -- allocation (docs/architecture.md §3.8, §3.9 Allocation) -----------------------------------------

# Narrative sectors; an asset not listed falls into `unmapped_sector`, which all such assets
# share (conservative: unknown assets are capped together).
DEFAULT_SECTORS: dict[str, str] = {
    "BTC": "bitcoin", "ETH": "smart-contract-l1", "SOL": "smart-contract-l1", "AVAX": "smart-contract-l1",
    "SUI": "smart-contract-l1", "APT": "smart-contract-l1", "ARB": "ethereum-l2", "OP": "ethereum-l2",
    "DOGE": "meme", "PEPE": "meme", "WIF": "meme", "FET": "ai", "RENDER": "ai", "TAO": "ai",
    "BNB": "exchange", "OKB": "exchange", "XRP": "payments", "LTC": "payments", "LINK": "oracle",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationConfig:
    """The allocator (docs/architecture.md §3.9 Allocation; docs/risk.md has the formulas).

    Ratio = mean / std of a pair's 8 h carry over `history_days` (fewer points are flagged;
    under `min_history_points` the pair is excluded); weights = softmax(ratio / temperature)
    over the best `max_pairs` (the std never below `min_carry_std`, so a flat history does
    not look riskless); each weight shrinks by `correlation_penalty` × the weight of
    the others it co-moves with (exponentially weighted correlation, decay `ewma_lambda` per
    observation, needing `min_overlap_points` common timestamps); a sector holds at most
    `sector_cap` × equity. A pair is rebalanced only when the change exceeds `rebalance_band`
    of its current notional and the expected gain over `gain_horizon_intervals` 8 h intervals
    exceeds `gain_cost_multiple` × its round-trip cost.

    Inside the desks (`desk_controller`; false = entries are sized by the execution rules
    alone): each desk's portfolio controller reconciles target − current every
    `rebalance_interval_s` of stream time, and keeps one carry observation per pair every
    `carry_sample_s` for the allocator's window."""

    temperature: float = field(default=1.0, metadata=rule(lambda v: 0 < v <= 100, "a number in (0, 100]"))
    history_days: int = field(default=30, metadata=rule(lambda v: 1 <= v <= 3650, "1 to 3650 days"))
    min_history_points: int = field(default=3, metadata=rule(lambda v: 2 <= v <= 10_000, "an integer from 2"))
    max_pairs: int = field(default=20, metadata=rule(lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"))
    sector_cap: Decimal = field(default=Decimal("0.15"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    rebalance_band: Decimal = field(default=Decimal("0.07"),
                                    metadata=rule(lambda v: 0 <= v < 1, "a decimal in [0, 1)"))
    min_trade_fraction: Decimal = field(default=Decimal("0.02"),
                                        metadata=rule(lambda v: 0 <= v < 1, "a decimal in [0, 1)"))
    gain_cost_multiple: Decimal = field(default=Decimal("2.5"),
                                        metadata=rule(lambda v: 0 <= v <= 100, "a decimal from 0 to 100"))
    gain_horizon_intervals: int = field(default=90, metadata=rule(lambda v: 1 <= v <= 100_000,
                                                                  "an integer >= 1 (8 h intervals)"))
    ewma_lambda: float = field(default=0.94, metadata=rule(lambda v: 0 < v < 1, "a number in (0, 1)"))
    correlation_penalty: float = field(default=0.5, metadata=rule(lambda v: 0 <= v <= 1, "a number in [0, 1]"))
    min_overlap_points: int = field(default=10, metadata=rule(lambda v: v >= 3, "an integer >= 3"))
    min_carry_std: Decimal = field(default=Decimal("0.00005"),
                                   metadata=rule(_positive, "a decimal > 0 (fraction per 8 h)"))
    sectors: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SECTORS))
    unmapped_sector: str = "unmapped"
    desk_controller: bool = True
    rebalance_interval_s: int = field(default=300, metadata=rule(lambda v: 1 <= v <= 86_400,
                                                                 "an integer from 1 to 86400 (seconds)"))
    carry_sample_s: int = field(default=60, metadata=rule(lambda v: 1 <= v <= 86_400,
                                                          "an integer from 1 to 86400 (seconds)"))

    @property
    def rebalance_interval_ms(self) -> int:
        """`rebalance_interval_s` in the controller's unit (stream-time ms)."""
        return self.rebalance_interval_s * 1000

    @property
    def carry_sample_ms(self) -> int:
        """`carry_sample_s` in the controller's unit (stream-time ms)."""
        return self.carry_sample_s * 1000


# -- execution (docs/architecture.md §3.7; docs/execution.md) -----------------------------------------


def _width_bps(v: Decimal) -> bool:
    return Decimal(0) <= v <= Decimal(1_000)


_WIDTH_ALLOWED = "a decimal from 0 to 1000 (bps)"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperConfig:
    """The paper venue's fill model (docs/architecture.md §3.7). An order or cancel takes effect
    `latency_ms` of stream time after it was sent; a resting limit fills only once the
    prints at its price reach `queue_fill_fraction` × the quantity resting ahead of it."""

    latency_ms: int = field(default=0, metadata=rule(lambda v: 0 <= v <= 60_000, "an integer from 0 to 60000 (ms)"))
    queue_fill_fraction: Decimal = field(default=Decimal("0.2"),
                                         metadata=rule(lambda v: 0 <= v <= 1, "a decimal from 0 to 1"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRiskConfig:
    """The desks' risk checks (docs/architecture.md §3.9; thresholds in `[margin]`): the accounts are
    checked at most every `check_interval_ms` of stream time while a desk holds trades; a
    trade whose |long − short| × price stays above max(`leak_min_usd`, `leak_fraction` ×
    its notional) for `leak_after_ms` raises DELTA_LEAKAGE."""

    check_interval_ms: int = field(default=1_000, metadata=rule(lambda v: 1 <= v <= 3_600_000, "1 ms to 1 hour"))
    leak_after_ms: int = field(default=30_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))
    leak_min_usd: Decimal = field(default=Decimal(100), metadata=rule(lambda v: v >= 0, "a decimal >= 0 (USD)"))
    leak_fraction: Decimal = field(default=Decimal("0.01"),
                                   metadata=rule(lambda v: 0 <= v <= 1, "a decimal from 0 to 1"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionConfig:
    """The execution stage (docs/execution.md). Money in USD, times in ms of stream time,
    widths in bps. `starting_capital` is split equally over the asset desks.

    Entries: an accepted opportunity older than `max_opportunity_age_ms` is stale; a trade
    takes at most `max_position_fraction` of the desk's available capital and at least
    `min_notional`; a leg's order works for `leg_timeout_ms`; marketable orders (second
    legs, hedges, unwinds, hard exits) are priced `max_hedge_slippage_bps` beyond the touch,
    widened by `retry_widen_bps` per retry, at most `max_retries` retries.
    Exits: the spread widening past the entry spread by `stop_loss_bps` (hard) or
    `widen_exit_bps` (soft), the carry rule's exit (`strategy.exit_carry_8h`),
    `profit_take_fraction` of the projected profit over H earned; a soft (passive) exit becomes
    hard after `max_soft_exit_rounds` rounds.
    Breaker: more than `breaker_failure_rate` of a venue's last `breaker_window` orders
    refused → no entries there for `breaker_pause_ms`.
    Live gateway caps per venue: an order above `max_order_notional` or an entry that would
    take the venue's exposure above `max_venue_notional` (USD) is refused before it leaves;
    at most `orders_per_s` orders and cancels per second, the last `exit_reserve` of them kept
    for de-risking orders; resting live orders are polled every `poll_interval_s`. Every venue
    request gives up after `request_timeout_ms` (ccxt's `timeout`) and counts as an unknown
    outcome (retried after asking the venue by client id): a stalled venue costs its own lane
    at most about 4 × this per order, and never delays the other venues."""

    starting_capital: Decimal = field(default=Decimal(20_000), metadata=rule(_positive, "a decimal > 0 (USD)"))
    max_opportunity_age_ms: int = field(default=1_000, metadata=rule(lambda v: v >= 1, "an integer >= 1 (ms)"))
    max_position_fraction: Decimal = field(default=Decimal("0.5"), metadata=rule(_fraction, "a decimal in (0, 1]"))
    min_notional: Decimal = field(default=Decimal(100), metadata=rule(_positive, "a decimal > 0 (USD)"))
    leg_timeout_ms: int = field(default=500, metadata=rule(lambda v: 1 <= v <= 3_600_000, "1 ms to 1 hour"))
    max_hedge_slippage_bps: Decimal = field(default=Decimal(30), metadata=rule(_width_bps, _WIDTH_ALLOWED))
    retry_widen_bps: Decimal = field(default=Decimal(30), metadata=rule(_width_bps, _WIDTH_ALLOWED))
    max_retries: int = field(default=3, metadata=rule(lambda v: 0 <= v <= 100, "an integer from 0 to 100"))
    stop_loss_bps: Decimal = field(default=Decimal(100), metadata=rule(_width_bps, _WIDTH_ALLOWED))
    widen_exit_bps: Decimal = field(default=Decimal(50), metadata=rule(_width_bps, _WIDTH_ALLOWED))
    profit_take_fraction: Decimal = field(default=Decimal("0.9"), metadata=rule(_positive, "a decimal > 0"))
    max_soft_exit_rounds: int = field(default=3, metadata=rule(lambda v: 0 <= v <= 100, "an integer from 0 to 100"))
    breaker_window: int = field(default=20, metadata=rule(lambda v: 1 <= v <= 10_000, "an integer from 1 to 10000"))
    breaker_failure_rate: Decimal = field(default=Decimal("0.2"),
                                          metadata=rule(lambda v: 0 <= v <= 1, "a decimal from 0 to 1"))
    breaker_pause_ms: int = field(default=60_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))
    paper: PaperConfig = field(default_factory=PaperConfig)
    risk: ExecutionRiskConfig = field(default_factory=ExecutionRiskConfig)
    max_order_notional: Decimal = field(default=Decimal(5_000), metadata=rule(_positive, "a decimal > 0 (USD)"))
    max_venue_notional: Decimal = field(default=Decimal(20_000), metadata=rule(_positive, "a decimal > 0 (USD)"))
    orders_per_s: Decimal = field(default=Decimal(5), metadata=rule(_positive, "a decimal > 0"))
    exit_reserve: int = field(default=2, metadata=rule(lambda v: 0 <= v <= 100, "an integer from 0 to 100"))
    poll_interval_s: float = field(default=0.5, metadata=rule(lambda v: 0.05 <= v <= 60, "0.05 to 60 seconds"))
    request_timeout_ms: int = field(default=3_000, metadata=rule(lambda v: 100 <= v <= 60_000,
                                                                  "an integer from 100 to 60000 (ms)"))


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryConfig:
    """Bytewax recovery of the long-running flows (`scan`, `trade`): state snapshots every
    `snapshot_interval_s` into `dir/<command>` (SQLite files), resumed with the Kafka input
    offsets after a crash or restart. Output re-emitted after a resume is idempotent (Redis
    writes only move forward in stream time; orders keep their client ids)."""

    enabled: bool = True
    dir: str = ".arbflow/recovery"
    snapshot_interval_s: float = field(default=10.0, metadata=rule(lambda v: 0.01 <= v <= 3600,
                                                                   "0.01 to 3600 seconds"))


def _host(v: str) -> bool:
    return bool(v) and not any(c.isspace() or c in "/@" for c in v)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    """The Prometheus endpoint of the long-running commands (`scan`, `trade`, `ingest`; each
    has its own default `--metrics-port`). `host` is the address it listens on: the loopback
    by default; `0.0.0.0` (all interfaces) for a Prometheus in a container or on another host."""

    host: str = field(default="127.0.0.1", metadata=rule(_host, "an IP address or host name"))


def _url_or_empty(v: str) -> bool:
    return v == "" or (v.startswith(("http://", "https://")) and not any(c.isspace() for c in v))


AlertSeverity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsConfig:
    """Alerts out (`sinks/alert_notify.py`): the risk.alert records of `scan` and `trade` —
    breaker trips, margin health, liquidation distance — sent to a generic JSON webhook,
    a Slack incoming webhook and/or a Telegram chat. A destination is on when its secret is
    set: `webhook_url`, `slack_webhook_url`, `telegram_bot_token` (+ `telegram_chat_id`),
    each from the file, the environment (`ARBFLOW_ALERTS__WEBHOOK_URL`, …) or a file its
    `*_file` key names (a mounted secret; the file wins). Secrets are never logged.

    Only alerts of `min_severity` or above are sent. One message per episode: an alert
    (code, venue, asset) raised again within `clear_after_ms` of stream time of its last
    raise is the same episode and not sent again; after a quiet `clear_after_ms` it has
    cleared, and the next raise is a new episode, sent if `min_interval_ms` have passed
    since that alert's last message. Delivery runs on its own thread: each request times
    out after `timeout_s` and is retried `retries` times (exponential backoff from
    `retry_backoff_s`); a message that still fails is one warning line. At most
    `queue_size` messages wait; beyond that new ones are dropped (counted), never blocking
    the flow."""

    webhook_url: str = field(default="", metadata=rule(_url_or_empty, "an http(s) URL or empty"))
    webhook_url_file: str = ""
    slack_webhook_url: str = field(default="", metadata=rule(_url_or_empty, "an http(s) URL or empty"))
    slack_webhook_url_file: str = ""
    telegram_bot_token: str = ""
    telegram_bot_token_file: str = ""
    telegram_chat_id: str = ""
    telegram_api: str = field(default="https://api.telegram.org",
                              metadata=rule(lambda v: v != "" and _url_or_empty(v), "an http(s) URL"))
    min_severity: AlertSeverity = "warning"
    clear_after_ms: int = field(default=300_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))
    min_interval_ms: int = field(default=60_000, metadata=rule(lambda v: v >= 0, "an integer >= 0 (ms)"))
    timeout_s: Decimal = field(default=Decimal(5), metadata=rule(lambda v: 0 < v <= 120, "a decimal in (0, 120] (s)"))
    retries: int = field(default=3, metadata=rule(lambda v: 0 <= v <= 10, "an integer from 0 to 10"))
    retry_backoff_s: Decimal = field(default=Decimal(1), metadata=rule(lambda v: 0 <= v <= 60,
                                                                        "a decimal from 0 to 60 (s)"))
    queue_size: int = field(default=100, metadata=rule(lambda v: 1 <= v <= 100_000, "an integer from 1 to 100000"))


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestConfig:
    """The quote model of `arbflow backtest` (connectors/captures/bar_quotes.py): an 8 h bar
    closing at `c` becomes a ticker `bid = c × (1 − h)`, `ask = c × (1 + h)` with
    `h = half_spread_bps / 10⁴`, `depth_usd / c` base units on each side. Both are assumptions,
    printed with every backtest. Defaults: 1 bp, wider than the BTC and ETH touch on the
    venues of the bundled history (well under 1 bp); $250,000 a side, ten times the largest
    order a $100,000 portfolio places (half of one of two desks' shares) and above the
    scanner's `min_depth_usd`, so the assumed depth never limits a trade. `order_style` is the
    `strategy.order_style` a backtest runs with (default "taker": bars carry no trade prints,
    so a resting maker order never fills; both legs cross the bar quotes as IOCs)."""

    order_style: OrderStyle = "taker"
    half_spread_bps: Decimal = field(default=Decimal(1), metadata=rule(lambda v: 0 < v <= 1_000,
                                                                        "a decimal > 0 and <= 1000 (bps)"))
    depth_usd: Decimal = field(default=Decimal(250_000), metadata=rule(_positive, "a decimal > 0 (USD)"))


# Lowest plausible price per base asset (USD-like quote): below it a value looks like a ratio (a
# premium, a basis or a rate) where a price belongs. Far below every price each asset ever traded at.
DEFAULT_PRICE_FLOORS: dict[str, Decimal] = {"BTC": Decimal(1), "ETH": Decimal("0.1"), "SOL": Decimal("0.01")}


@dataclass(frozen=True, slots=True, kw_only=True)
class PlausibilityConfig:
    """Values that parse but cannot be a market's (model/plausibility.py), refused wherever input
    is read: `arbflow convert`, `arbflow study`, and the replay or live dataflow.

    Funding: a rate whose 8 h equivalent (`rate × 8 h / interval`) lies beyond
    ±`max_funding_rate_8h` is IMPOSSIBLE_RATE (predicted rates too). Prices: a quote, trade or bar
    price outside ±`price_band` (a fraction) of its reference is PRICE_IMPLAUSIBLE. The reference is
    the median of the latest mids of the asset's other instruments (other venues, or the other
    market of the same venue) no further than `reference_max_age_ms` from the record's time, else
    the instrument's own latest mid within that age; with neither, only the floor applies: a price
    below `price_floors[asset]` looks like a ratio (a premium, a rate) where a price belongs. A
    refused price never becomes a reference; a stale reference stops counting, so a real move
    beyond the band is accepted once the old prices have aged out."""

    max_funding_rate_8h: Decimal = field(default=Decimal("0.03"), metadata=rule(
        lambda v: 0 < v <= 1, "a decimal in (0, 1] (fraction per 8 h)"))
    price_band: Decimal = field(default=Decimal("0.20"), metadata=rule(lambda v: 0 < v < 1, "a decimal in (0, 1)"))
    reference_max_age_ms: int = field(default=60_000, metadata=rule(lambda v: 0 <= v <= 7 * 24 * HOUR_MS,
                                                                     "an integer from 0 to 604800000 (ms)"))
    price_floors: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_PRICE_FLOORS))

    def __post_init__(self) -> None:
        for asset, floor in self.price_floors.items():
            if not floor > 0:
                raise ConfigError(f"plausibility.price_floors.{asset}", f"got {floor}; allowed: a decimal > 0")


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
    strategy: StrategyConfig = StrategyConfig()
    signals: SignalsConfig = SignalsConfig()
    margin: MarginConfig = field(default_factory=MarginConfig)
    allocation: AllocationConfig = field(default_factory=AllocationConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    recovery: RecoveryConfig = field(default_factory=RecoveryConfig)
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    plausibility: PlausibilityConfig = field(default_factory=PlausibilityConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)


# -- parsing ----------------------------------------------------------------------------


class EnvText(str):
    """A value that came from an environment variable: text to be coerced to the type."""


ENV_PREFIX = "ARBFLOW_"
ENV_ALIASES = {"KAFKA_BOOTSTRAP": ("kafka", "bootstrap"), "REDIS_URL": ("redis", "url")}
# Live API credentials (sinks/gateway/credentials.py), not configuration: never parsed, never echoed.
CREDENTIAL_ENV = re.compile(r"ARBFLOW_[A-Z0-9]+_(API_KEY|SECRET|PASSWORD)(_FILE)?")


def env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from `ARBFLOW_A__B=…` variables and the aliases."""
    tree: dict[str, Any] = {}
    items: list[tuple[tuple[str, ...], str]] = [
        (path, value) for name, path in ENV_ALIASES.items() if (value := env.get(name))]
    items += [(tuple(p.lower() for p in name[len(ENV_PREFIX):].split("__")), value)
              for name, value in sorted(env.items())
              if name.startswith(ENV_PREFIX) and not CREDENTIAL_ENV.fullmatch(name)]
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
        return [_plain(v) for v in value]
    return value


def plain(config: Config) -> dict[str, Any]:
    """The configuration as nested dicts, the shape a TOML file has (Decimals as strings)."""
    document: dict[str, Any] = _plain(config)
    return document


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    return override


def parse_config(document: Mapping[str, Any], env: Mapping[str, str], notes: list[str] | None = None) -> Config:
    """Defaults ← `document` (a parsed TOML file) ← `env`; raises `ConfigError`.

    A venue outside the built-in table needs only `kind` and its fees; the keys of
    `VENUE_FALLBACK_KEYS` it leaves out take their defaults, and one line per such venue naming
    the defaults used is appended to `notes` (the caller prints it)."""
    merged = _merge(_merge(_plain(Config()), _flat_client(document)), _flat_client(env_overrides(env)))
    config = typing.cast(Config, _parse(Config, merged, ""))
    given = merged.get("venues", {})
    missing = {name: [key for key in VENUE_FALLBACK_KEYS if key not in given[name]]
               for name in config.venues if name not in DEFAULT_VENUES}
    venues = rank_new_venues(config.venues)
    for name, keys in sorted(missing.items()):
        if keys and notes is not None:
            notes.append(_defaults_note(name, venues[name], keys))
    return dataclasses.replace(config, venues=venues) if venues != config.venues else config


def _flat_client(tree: Mapping[str, Any]) -> dict[str, Any]:
    """`tree` with its `kafka.client` table flattened (`client_properties`), so that the
    environment overrides a property the file sets, however either spells it."""
    kafka = tree.get("kafka")
    if not isinstance(kafka, Mapping) or not isinstance(kafka.get("client"), Mapping):
        return dict(tree)
    return {**tree, "kafka": {**kafka, "client": client_properties(kafka["client"])}}


def client_properties(tree: Mapping[str, Any], prefix: str = "kafka.client") -> dict[str, Any]:
    """`[kafka.client]` as flat librdkafka properties: nested tables joined by dots
    (`security.protocol = …` in TOML nests), `_` read as `.` except a trailing `_file`
    (`sasl_password` from the environment is `sasl.password`), booleans as "true"/"false" and
    integers as text; any other value stays as given for the string check to refuse."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = str(key)
        suffix = "_file" if name.endswith("_file") else ""
        name = name[:len(name) - len(suffix)].replace("_", ".") + suffix
        if isinstance(value, Mapping):
            for inner, item in client_properties(value, f"{prefix}.{name}").items():
                flat[f"{name}.{inner}"] = item
            continue
        if type(value) is bool:
            value = "true" if value else "false"
        elif type(value) is int:
            value = str(value)
        if name in flat:
            raise ConfigError(f"{prefix}.{name}", "given twice (as a dotted key and a table, or two spellings)")
        flat[name] = value
    return flat


def rank_new_venues(venues: Mapping[str, VenueConfig]) -> dict[str, VenueConfig]:
    """Give every venue without a rank (0) one: a new DEX is the hardest of all, a new CEX
    the hardest CEX (easier than the DEXes ranked before the first CEX); then every venue is
    renumbered 1…N in that order, so the given ranks keep their order. Unchanged when every
    venue has a rank. Unknown liquidity is treated as thin: its legs trade first."""
    if all(v.liquidity_rank for v in venues.values()):
        return dict(venues)
    ranked = sorted((n for n, v in venues.items() if v.liquidity_rank), key=lambda n: (venues[n].liquidity_rank, n))
    new = sorted(n for n, v in venues.items() if not v.liquidity_rank)
    first_cex = next((i for i, n in enumerate(ranked) if venues[n].kind == "cex"), len(ranked))
    order = ([n for n in new if venues[n].kind == "dex"] + ranked[:first_cex]
             + [n for n in new if venues[n].kind == "cex"] + ranked[first_cex:])
    return {name: dataclasses.replace(venues[name], liquidity_rank=rank) for rank, name in enumerate(order, start=1)}


def _defaults_note(name: str, venue: VenueConfig, keys: list[str]) -> str:
    shown = {"liquidity_rank": f"liquidity_rank {venue.liquidity_rank} (the hardest {venue.kind} to fill: its "
                               "legs trade first; the other venues renumbered, order kept)",
             "funding_interval_ms": f"funding_interval_ms {venue.funding_interval_ms} "
                                    f"({venue.funding_interval_ms / HOUR_MS:g} h)",
             "tick_size": f"tick_size {venue.tick_size}", "lot_size": f"lot_size {venue.lot_size}",
             "min_qty": f"min_qty {venue.min_qty}"}
    return f"venue {name}: defaults used for {', '.join(shown[key] for key in keys)}"


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
    if origin is tuple and dataclasses.is_dataclass(args[0]):
        if from_env or not isinstance(value, (list, tuple)):
            raise _fail(key, value, "a list of tables (set it in the config file)")
        return tuple(_parse(args[0], item, f"{key}[{index}]") for index, item in enumerate(value))
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
