"""The [margin] and [allocation] configuration sections (model/config.py): defaults as
documented in docs/risk.md, tier tables from a file, and bad values naming the key."""

import itertools
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from arbflow.cli.config_file import load_config
from arbflow.model.config import DEFAULT_MARGIN_VENUES, Tier, parse_config
from arbflow.model.errors import ConfigError

DEFAULTS = parse_config({}, {})


def test_margin_defaults_match_design_when_nothing_is_configured() -> None:
    m = DEFAULTS.margin
    assert (m.shadow_buffer, m.entry_min_health, m.critical_health, m.deleverage_target_health) == (
        D("0.2"), D("0.8"), D("0.6"), D("0.7"))
    assert (m.max_margin_use, m.margin_use_target, m.max_leverage) == (D("0.65"), D("0.60"), D(3))
    assert set(m.venues) == {"binance", "bybit", "okx"}
    assert m.venues["okx"].maintenance_method == "whole"


def test_allocation_defaults_match_design_when_nothing_is_configured() -> None:
    a = DEFAULTS.allocation
    assert (a.temperature, a.history_days, a.max_pairs, a.sector_cap) == (1.0, 30, 20, D("0.15"))
    assert (a.rebalance_band, a.gain_cost_multiple) == (D("0.07"), D("2.5"))


@pytest.mark.parametrize("venue", sorted(DEFAULT_MARGIN_VENUES))
def test_default_tables_start_at_zero_and_never_fall_when_parsed(venue: str) -> None:
    tables = DEFAULTS.margin.venues[venue]
    for table in [*tables.haircuts.values(), *tables.maintenance.values()]:
        assert table[0].floor == 0
        assert all(a.floor < b.floor and a.rate <= b.rate for a, b in itertools.pairwise(table))


def test_file_replaces_one_table_and_keeps_the_others_when_a_tier_list_is_given(tmp_path: Path) -> None:
    path = tmp_path / "arbflow.toml"
    path.write_text('[margin.venues.binance.haircuts]\nBTC = [{floor = "0", rate = "0.02"}, '
                    '{floor = "5000000", rate = "0.1"}]\n[allocation.sectors]\nBTC = "majors"\n')
    config = load_config(path, env={})
    assert config.margin.venues["binance"].haircuts["BTC"] == (Tier(floor=D(0), rate=D("0.02")),
                                                               Tier(floor=D(5_000_000), rate=D("0.1")))
    assert config.margin.venues["binance"].haircuts["ETH"] == DEFAULTS.margin.venues["binance"].haircuts["ETH"]
    assert config.margin.venues["okx"] == DEFAULTS.margin.venues["okx"]
    assert config.allocation.sectors["BTC"] == "majors" and config.allocation.sectors["ETH"] == "smart-contract-l1"


def test_file_adds_a_venue_when_its_tables_are_complete() -> None:
    config = parse_config({"margin": {"venues": {"gate": {
        "haircuts": {"USDT": [{"floor": "0", "rate": "0"}]},
        "maintenance": {"*": [{"floor": "0", "rate": "0.01"}]}}}}}, {})
    assert config.margin.venues["gate"].maintenance_method == "progressive"


@pytest.mark.parametrize(("document", "key"), [
    ({"margin": {"shadow_buffer": "-0.1"}}, "margin.shadow_buffer"),
    ({"margin": {"critical_health": "0.75"}}, "margin.deleverage_target_health"),
    ({"margin": {"margin_use_target": "0.7"}}, "margin.margin_use_target"),
    ({"margin": {"venues": {"binance": {"haircuts": {"BTC": [{"floor": "1", "rate": "0.05"}]}}}}},
     "margin.venues.binance.haircuts"),
    ({"margin": {"venues": {"binance": {"maintenance": {"BTC": [{"floor": "0", "rate": "0.01"},
                                                                {"floor": "100", "rate": "0.005"}]}}}}},
     "margin.venues.binance.maintenance"),
    ({"margin": {"venues": {"binance": {"maintenance": {"BTC": [{"floor": "0", "rate": "2"}]}}}}},
     "margin.venues.binance.maintenance.BTC[0].rate"),
    ({"margin": {"venues": {"binance": {"maintenance": {"BTC": "0.004"}}}}}, "margin.venues.binance.maintenance.BTC"),
    ({"margin": {"venues": {"binance": {"maintenance_method": "flat"}}}}, "margin.venues.binance.maintenance_method"),
    ({"margin": {"venues": {"gate": {"haircuts": {}}}}}, "margin.venues.gate.maintenance"),
    ({"allocation": {"sector_cap": "0"}}, "allocation.sector_cap"),
    ({"allocation": {"temperature": 0}}, "allocation.temperature"),
    ({"allocation": {"max_pairs": 0}}, "allocation.max_pairs"),
    ({"allocation": {"rebalance_band": "1"}}, "allocation.rebalance_band"),
    ({"allocation": {"bogus": 1}}, "allocation.bogus"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_parse_config_raises_with_dotted_key_when_a_risk_value_is_bad(document: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(document, {})
    assert raised.value.key == key


def test_env_refuses_a_tier_table_when_set_from_the_environment() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({}, {"ARBFLOW_MARGIN__VENUES__BINANCE__HAIRCUTS__BTC": "0.05"})
    assert raised.value.key == "margin.venues.binance.haircuts.btc"


def test_env_sets_a_threshold_when_given() -> None:
    assert parse_config({}, {"ARBFLOW_MARGIN__SHADOW_BUFFER": "0.15"}).margin.shadow_buffer == D("0.15")
