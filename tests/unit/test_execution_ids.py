"""Deterministic logical order ids (operators) and the venue client ids derived from them under
each venue's rule (model.client_ids, re-exported by the ids module) — docs/architecture.md §3.9."""

import base64
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.model import client_ids
from arbflow.model.config import DEFAULT_VENUES
from arbflow.operators.execution import ids


def test_logical_ids_follow_the_documented_templates() -> None:
    trade = ids.trade_id("BTC", 1723161600010, 0)
    assert trade == "BTC_1723161600010_0"
    assert ids.entry_id(trade, "long") == "entry_BTC_1723161600010_0_long"
    assert ids.unwind_id("entry_BTC_1723161600010_0_long", 0) == "unwind_entry_BTC_1723161600010_0_long_0"
    assert ids.hedge_id("entry_BTC_1723161600010_0_short", 2) == "hedge_entry_BTC_1723161600010_0_short_2"
    assert ids.exit_id(trade, "short", 3) == "exit_BTC_1723161600010_0_short_3"


@pytest.mark.parametrize(("venue", "length", "start"), [
    ("okx", 32, "af"), ("binance", 36, "af"), ("bybit", 36, "af"), ("kucoin", 40, "af"), ("gate", 30, "t-af"),
    ("hyperliquid", 34, "0x"), ("bitget", 32, "af"), ("paradex", 32, "af")])
def test_venue_client_ids_fit_each_venue(venue: str, length: int, start: str) -> None:
    value = ids.venue_client_id("entry_BTC_1723161600010_0_long", venue)
    assert len(value) == length and value.startswith(start) and ids.is_valid(value, venue)


def test_venue_client_id_is_a_prefix_and_the_base32_sha256_of_the_logical_id() -> None:
    logical = "entry_BTC_1723161600010_0_long"
    digest = hashlib.sha256(logical.encode()).digest()
    body = base64.b32encode(digest).decode().lower()  # computed here, independently
    assert ids.venue_client_id(logical, "okx") == "af" + body[:30]
    assert ids.venue_client_id(logical, "binance") == "af" + body[:34]
    assert ids.venue_client_id(logical, "hyperliquid") == "0x" + digest.hex()[:32]  # 128 bits


def test_every_default_venue_gets_a_valid_id() -> None:
    for venue in DEFAULT_VENUES:
        assert ids.is_valid(ids.venue_client_id("exit_ETH_1_0_short_0", venue), venue)


@given(st.lists(st.text(min_size=1, max_size=60), min_size=2, max_size=50, unique=True),
       st.sampled_from(sorted(client_ids.VENUE_RULES)))
def test_venue_client_ids_are_deterministic_valid_and_distinct(logical: list[str], venue: str) -> None:
    first = [ids.venue_client_id(x, venue) for x in logical]
    assert first == [ids.venue_client_id(x, venue) for x in logical]
    assert all(ids.is_valid(v, venue) for v in first)
    assert len(set(first)) == len(first)  # ≥ 128 bits: a collision here would be a bug, not luck
