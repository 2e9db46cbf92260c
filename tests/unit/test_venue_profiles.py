"""One profile per venue for live trading (sinks/gateway/venues/): the generic code names no
venue, each profile agrees with the client-id rule the desk uses, and the exchange it
describes is what `make_exchange` builds — no venue involved."""

import ast
import asyncio
import io
import tokenize
from pathlib import Path
from typing import Any

import pytest

from arbflow.model import client_ids
from arbflow.model.config import DEFAULT_VENUES
from arbflow.model.errors import ConfigError
from arbflow.sinks.gateway import venues
from arbflow.sinks.gateway.credentials import Credentials, make_exchange
from arbflow.sinks.gateway.venues import PROFILES

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("sinks", "operators", "flows", "cli", "reports")
ALLOWED = REPO / "sinks" / "gateway" / "venues"  # the one place a venue's name decides something
VENUES = frozenset(DEFAULT_VENUES) | frozenset(PROFILES)
_SKIPPED = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def venue_branches(source: str) -> list[tuple[int, str]]:
    """(line, code) of each venue-name string used as a branch or a table key: compared
    (`== "bybit"`), tested for membership (`venue in ("okx", …)`, `"gate" in venues`), a
    `case`, or a dict key (`{"binance": …}`). Docstrings, comments and log texts never match:
    only a string token that is exactly a venue's name counts."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _SKIPPED]
    found: list[tuple[int, str]] = []
    opened: list[tuple[str, str]] = []  # (bracket, the token before it)
    for i, token in enumerate(tokens):
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        if token.type == tokenize.OP and token.string in "([{":
            opened.append((token.string, before))
        elif token.type == tokenize.OP and token.string in ")]}" and opened:
            opened.pop()
        elif token.type == tokenize.STRING and _literal(token.string) in VENUES:
            bracket, opener = opened[-1] if opened else ("", "")
            if (before in ("==", "!=", "is", "in", "case") or after in ("==", "!=", "in")
                    or opener == "in" or (bracket == "{" and after == ":")):
                found.append((token.start[0], token.line.strip()))
    return found


def test_no_venue_name_branch_outside_the_venue_profiles() -> None:
    offending = [f"{path.relative_to(REPO)}:{line}: {code}"
                 for folder in SCANNED for path in sorted((REPO / folder).rglob("*.py"))
                 if ALLOWED not in path.parents
                 for line, code in venue_branches(path.read_text())]
    assert offending == []


@pytest.mark.parametrize("code", [
    'if venue == "bybit":\n    pass\n',
    'same = "okx" != self.venue\n',
    'batch = venue in ("binance", "okx")\n',
    'sweep = venue not in ["kucoin"]\n',
    'LIMIT = {"binance": 5, "okx": 20}\n',
    'listed = "gate" in live\n',
    'match venue:\n    case "hyperliquid":\n        pass\n',
])
def test_the_scan_finds_a_venue_branch(code: str) -> None:
    assert venue_branches(code) != []


@pytest.mark.parametrize("code", [
    '"""Bybit\'s lookup goes by orderLinkId."""\n',
    'log.warning("%s: lane DOWN", venue)  # e.g. "binance"\n',
    'name = f"{venue}-trades"\n',
])
def test_the_scan_leaves_texts_alone(code: str) -> None:
    assert venue_branches(code) == []


def test_the_registry_holds_one_profile_per_module_named_for_its_venue() -> None:
    modules = sorted(p.stem for p in ALLOWED.glob("*.py") if p.stem != "__init__")
    assert sorted(PROFILES) == modules
    assert all(name == profile.name for name, profile in PROFILES.items())


def test_each_profile_uses_the_client_id_rule_the_desk_derives_its_ids_with() -> None:
    for name, profile in PROFILES.items():
        rule = profile.client_ids
        assert rule is client_ids.rule(name)
        assert client_ids.venue_client_id("entry_BTC_1_0_long", name).startswith(rule.prefix)


def test_a_venue_without_a_profile_is_a_config_error_naming_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="no live gateway for 'gate'; available: binance, bybit, okx, hyperliquid"):
        venues.profile("gate")


def _holds(actual: Any, expected: Any) -> bool:
    """`actual` has every value of `expected`, dicts compared key by key."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _holds(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


@pytest.mark.parametrize(("venue", "key_field", "secret_field"), [
    ("binance", "apiKey", "secret"), ("okx", "apiKey", "secret"), ("bybit", "apiKey", "secret"),
    ("hyperliquid", "walletAddress", "privateKey")])
def test_make_exchange_builds_the_profiles_ccxt_class_with_its_options_and_key_fields(
        venue: str, key_field: str, secret_field: str) -> None:
    profile = PROFILES[venue]
    exchange = make_exchange(venue, Credentials("the-key", "the-secret"))
    try:
        assert exchange.id == profile.ccxt_id
        assert (getattr(exchange, key_field), getattr(exchange, secret_field)) == ("the-key", "the-secret")
        assert _holds(exchange.options, profile.ccxt_options)  # ccxt merges ours into its defaults
    finally:
        asyncio.run(exchange.close())


@pytest.mark.parametrize("header", ["X-MBX-APIKEY: k1", "OK-ACCESS-SIGN: k1", "X-BAPI-SIGN: k1"])
def test_redact_hides_the_headers_each_profile_signs_with(header: str) -> None:
    assert "k1" not in Credentials("other", "other").redact(f"headers {{{header}}}")
