"""The one builder of the desks' configuration (model/desk_config.py): the sections passed as
parsed, the derived values worked out by hand from the defaults."""

from dataclasses import replace
from decimal import Decimal

from arbflow.model.config import Config, UniverseConfig, parse_config
from arbflow.model.desk_config import desk_config, sector_of

D = Decimal
DEFAULTS = parse_config({}, {})


def test_each_desk_trades_an_equal_share_when_the_universe_has_three_assets() -> None:
    assert desk_config(DEFAULTS, "paper").capital == D(20_000) / 3  # BTC, ETH, SOL
    one = replace(DEFAULTS, universe=UniverseConfig(assets=("BTC",)))
    assert desk_config(one, "paper").capital == D(20_000)


def test_sectors_are_counted_over_the_universe_when_assets_share_one() -> None:
    # BTC → bitcoin; ETH and SOL → smart-contract-l1 (the default sector map)
    assert desk_config(DEFAULTS).sector_assets == {"bitcoin": 1, "smart-contract-l1": 2}
    unknown = replace(DEFAULTS, universe=UniverseConfig(assets=("BTC", "XYZ", "ABC")))
    assert desk_config(unknown).sector_assets == {"bitcoin": 1, "unmapped": 2}
    assert sector_of(DEFAULTS.allocation, "eth") == "smart-contract-l1"


def test_venues_without_margin_tables_get_the_fallback_when_the_desk_is_built() -> None:
    margin = desk_config(DEFAULTS).margin
    assert margin.venues["binance"] is DEFAULTS.margin.venues["binance"]  # its own tables stand
    fallback = margin.venues["hyperliquid"]  # no tables of its own in the defaults
    assert set(fallback.maintenance) == {"*"} and fallback.haircuts["*"][0].rate == D("0.9")
    assert set(margin.venues) == set(DEFAULTS.margin.venues) | set(DEFAULTS.venues)
    assert desk_config(Config(venues={"okx": DEFAULTS.venues["okx"]})).margin == Config().margin  # nothing to add


def test_the_desk_reads_the_parsed_sections_when_it_is_built() -> None:
    config = parse_config({"execution": {"leg_timeout_ms": 250}, "scanner": {"min_score": 60}}, {})
    desk = desk_config(config, "live")
    assert (desk.execution, desk.scanner, desk.signals, desk.allocation, desk.venues) == (
        config.execution, config.scanner, config.signals, config.allocation, config.venues)
    assert desk.execution.leg_timeout_ms == 250 and desk.scanner.min_score == 60
    assert desk.mode == "live" and desk_config(config).mode is None  # None: signals only
