"""The agent tools `arbflow simulate-margin --json` and `arbflow allocate --json`
(cli/risk.py), invoked through click's CliRunner on the command objects: valid input
answers on stdout with exit 0; invalid input exits 2 with one line naming the field."""

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from arbflow.cli.risk import allocate, simulate_margin
from arbflow.model import reasons

NOW = 1_717_200_000_000
H8 = 8 * 3_600_000

MARGIN_REQUEST: dict[str, Any] = {
    "schema_version": 1,
    "account": {
        "venue": "binance",
        "collateral": [{"asset": "USDT", "balance": "10000", "price": "1"},
                       {"asset": "BTC", "balance": "0.5", "price": "60000"}],
        "positions": [
            {"venue": "binance", "symbol": "BTC/USDT:USDT", "side": "short", "qty": "0.5", "entry_px": "60000",
             "mark_px": "60000", "quality": 0.9, "pair_id": "btc-binance-spot-perp"},
            {"venue": "binance", "symbol": "ETH/USDT:USDT", "side": "short", "qty": "5", "entry_px": "3000",
             "mark_px": "3100", "quality": 0.4}],
    },
    "orders": [{"order_id": "o1", "venue": "binance", "symbol": "BTC/USDT:USDT", "side": "sell", "qty": "0.5",
                "px": "60000"}],
    "pending_entries": ["entry_BTC/USDT:USDT_1717200000000_0"],
}


def _candidate(pair_id: str, asset: str, carry: str, **extra: Any) -> dict[str, Any]:
    return {"pair_id": pair_id, "asset": asset, "carry_8h": carry, "round_trip_cost_bps": "24",
            "history": [{"ts": NOW - i * H8, "carry_8h": carry} for i in range(90)], **extra}


ALLOCATION_REQUEST: dict[str, Any] = {
    "schema_version": 1, "equity": "100000", "ts": NOW,
    "candidates": [_candidate("btc-binance", "BTC", "0.0001"), _candidate("eth-bybit", "ETH", "0.00015"),
                   _candidate("sol-okx", "SOL", "-0.0001", current_notional="5000")],
}


def _run(command: Any, document: Any, *args: str) -> Result:
    text = document if isinstance(document, str) else json.dumps(document)
    return CliRunner().invoke(command, ["--json", *args], input=text, env={"ARBFLOW_CONFIG": ""})


def _one_error_line(result: Result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("arbflow: invalid input"), result.stderr
    for word in words:
        assert word in lines[0]


# -- simulate-margin ---------------------------------------------------------------------


def test_simulate_margin_answers_json_when_the_request_is_valid() -> None:
    result = _run(simulate_margin, MARGIN_REQUEST)
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["schema_version"] == 1
    assert D(answer["projection"]["before"]["health"]) == D("0.98634210")
    assert D(answer["projection"]["after"]["health"]) == D("0.98223684")
    assert [p["liquidation_move"] for p in answer["projection"]["before"]["positions"]] == ["1.24271040", "2.29860012"]
    assert answer["gates"]["decisions"][0]["accepted"] is True
    assert answer["gates"]["aborts"] == [] and answer["gates"]["reductions"] == []


def test_simulate_margin_aborts_pending_entries_when_health_0_5_is_assumed() -> None:
    result = _run(simulate_margin, {**MARGIN_REQUEST, "assume_health": "0.5"})
    answer = json.loads(result.stdout)
    assert answer["gates"]["critical"] is True
    assert [a["reason"] for a in answer["gates"]["aborts"]] == [reasons.HEALTH_CRITICAL]
    assert answer["gates"]["decisions"][0]["reason"] == reasons.HEALTH_CRITICAL


def test_simulate_margin_reads_a_file_when_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(MARGIN_REQUEST))
    result = CliRunner().invoke(simulate_margin, ["--json", str(path)], env={"ARBFLOW_CONFIG": ""})
    assert result.exit_code == 0 and json.loads(result.stdout)["projection"]["after"]["health"] == "0.98223684"


def test_simulate_margin_prints_a_summary_when_json_is_not_asked() -> None:
    result = CliRunner().invoke(simulate_margin, [], input=json.dumps(MARGIN_REQUEST), env={"ARBFLOW_CONFIG": ""})
    assert result.exit_code == 0 and "health 0.98634210" in result.stdout and "order o1: accepted" in result.stdout


@pytest.mark.parametrize(("document", "words"), [
    ("{", ("not valid JSON",)),
    ("[]", ("expected a JSON object",)),
    ({**MARGIN_REQUEST, "schema_version": 2}, ("schema_version",)),
    ({k: v for k, v in MARGIN_REQUEST.items() if k != "account"}, ("account", reasons.MISSING_FIELD)),
    ({**MARGIN_REQUEST, "bogus": 1}, ("bogus", reasons.UNEXPECTED_FIELD)),
    ({**MARGIN_REQUEST, "account": {**MARGIN_REQUEST["account"],
                                    "collateral": [{"asset": "USDT", "balance": 10000, "price": "1"}]}},
     ("account.collateral[0].balance", reasons.WRONG_TYPE)),
    ({**MARGIN_REQUEST, "account": {**MARGIN_REQUEST["account"],
                                    "collateral": [{"asset": "USDT", "balance": "NaN", "price": "1"}]}},
     ("account.collateral[0].balance", reasons.NON_FINITE)),
    ({**MARGIN_REQUEST, "account": {**MARGIN_REQUEST["account"],
                                    "collateral": [{"asset": "USDT", "balance": "-5", "price": "1"}]}},
     ("account.collateral[0].balance", "negative")),
    ({**MARGIN_REQUEST, "account": {**MARGIN_REQUEST["account"], "venue": "kraken"}}, ("account.venue",)),
    ({**MARGIN_REQUEST, "orders": [{**MARGIN_REQUEST["orders"][0], "side": "short"}]},
     ("orders[0].side", reasons.INVALID_VALUE)),
    ({**MARGIN_REQUEST, "orders": [{**MARGIN_REQUEST["orders"][0], "qty": "0"}]}, ("orders[0].qty",)),
    ({**MARGIN_REQUEST, "orders": [{**MARGIN_REQUEST["orders"][0], "symbol": "BTCUSDT"}]}, ("orders[0].symbol",)),
])
def test_simulate_margin_exits_2_naming_the_field_when_the_request_is_invalid(document: Any,
                                                                              words: tuple[str, ...]) -> None:
    _one_error_line(_run(simulate_margin, document), *words)


def test_simulate_margin_exits_2_when_the_file_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate_margin, ["--json", str(tmp_path / "nope.json")], env={"ARBFLOW_CONFIG": ""})
    assert result.exit_code == 2 and "nope.json" in result.stderr


def test_simulate_margin_prints_both_schemas_when_asked() -> None:
    result = CliRunner().invoke(simulate_margin, ["--schema"])
    schemas = json.loads(result.stdout)
    assert schemas["input"]["title"] == "MarginRequest" and schemas["output"]["title"] == "MarginAnswer"
    assert "account" in schemas["input"]["required"]


# -- allocate -----------------------------------------------------------------------------


def test_allocate_answers_targets_and_adjustments_when_the_request_is_valid() -> None:
    result = _run(allocate, ALLOCATION_REQUEST)
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert [(e["pair_id"], e["reason"]) for e in answer["excluded"]] == [("sol-okx", reasons.CARRY_NOT_POSITIVE)]
    kinds = [(a["pair_id"], a["kind"], a["priority"]) for a in answer["adjustments"]]
    assert kinds[0] == ("sol-okx", "exit", 1) and {k[1] for k in kinds[1:]} == {"enter"}
    assert all(D(s["notional"]) <= D(s["cap"]) for s in answer["sectors"])  # max(15 %, 1 / sectors) of equity
    assert sum(t["weight"] for t in answer["targets"]) <= 1


def test_allocate_says_no_candidates_when_the_list_is_empty() -> None:
    result = _run(allocate, {**ALLOCATION_REQUEST, "candidates": []})
    assert result.exit_code == 0 and json.loads(result.stdout)["reason"] == reasons.NO_CANDIDATES


@pytest.mark.parametrize(("document", "words"), [
    ("not json", ("not valid JSON",)),
    ({**ALLOCATION_REQUEST, "equity": "0"}, ("equity",)),
    ({**ALLOCATION_REQUEST, "ts": "now"}, ("ts", reasons.WRONG_TYPE)),
    ({**ALLOCATION_REQUEST, "candidates": [{**ALLOCATION_REQUEST["candidates"][0], "carry_8h": 0.0001}]},
     ("candidates[0].carry_8h", reasons.WRONG_TYPE)),
    ({**ALLOCATION_REQUEST, "candidates": [ALLOCATION_REQUEST["candidates"][0]] * 2}, ("candidates[1].pair_id",)),
    ({**ALLOCATION_REQUEST, "candidates": [{**ALLOCATION_REQUEST["candidates"][0], "history": [{"ts": 1}]}]},
     ("candidates[0].history[0].carry_8h", reasons.MISSING_FIELD)),
])
def test_allocate_exits_2_naming_the_field_when_the_request_is_invalid(document: Any, words: tuple[str, ...]) -> None:
    _one_error_line(_run(allocate, document), *words)


def test_allocate_exits_2_when_the_configuration_is_invalid(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[allocation]\nsector_cap = \"2\"\n")
    result = CliRunner().invoke(allocate, ["--json"], input=json.dumps(ALLOCATION_REQUEST),
                                env={"ARBFLOW_CONFIG": str(bad)})
    assert result.exit_code == 2 and "allocation.sector_cap" in result.stderr
