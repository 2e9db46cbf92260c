"""The README's configuration table against `model/config.py`: every section of `Config` has
rows, one row for every key of every section and no row for a key that does not exist, each
row's default the parsed default — so a new section or knob cannot ship undocumented and a
changed default cannot leave the README behind."""

import dataclasses
import itertools
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.model.config import Config

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = "| section | key | default | unit | meaning |"
NAMED = object()  # the default of a key inside a table of named entries (`venues.<name>`): not compared


def _keys(cls: Any, prefix: str, default: Any) -> Iterator[tuple[str, Any]]:
    """(dotted key, default) of every leaf of a section, sub-sections walked; a table of named
    entries (`venues`, `margin.venues`) is walked once, `<name>` standing for the entry."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, value = hints[f.name], NAMED if default is NAMED else getattr(default, f.name)
        if typing.get_origin(tp) in (types.UnionType, typing.Union):
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = inner[0] if len(inner) == 1 and dataclasses.is_dataclass(inner[0]) else tp
        args = typing.get_args(tp)
        if dataclasses.is_dataclass(tp):
            yield from _keys(tp, f"{prefix}{f.name}.", value)
        elif typing.get_origin(tp) in (Mapping, dict) and dataclasses.is_dataclass(args[1]):
            yield from _keys(args[1], f"{prefix}{f.name}.<name>.", NAMED)
        else:
            yield f"{prefix}{f.name}", value


def _rows(text: str | None = None) -> dict[str, str]:
    """Dotted key → its default cell, from the table under the README's configuration heading."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    start = lines.index(HEADER) + 2  # after the header and its |---| line
    rows: dict[str, str] = {}
    for line in itertools.takewhile(lambda text: text.startswith("|"), lines[start:]):
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]  # `\|` is text
        key = f"{cells[0].strip('`')}.{cells[1].strip('`')}"
        assert key not in rows, f"two README rows for {key}"
        rows[key] = cells[2]
    return rows


def _shown(value: Any) -> str | None:
    """A default as the README writes it (TOML-like); None = described in words, not compared."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str | tuple):
        return json.dumps(value if isinstance(value, str) else list(value), separators=(",", ":"))
    return None


KEYS = dict(_keys(Config, "", Config()))
ROWS = _rows()
SECTIONS = [f.name for f in dataclasses.fields(Config)]


def _missing_sections(rows: Mapping[str, str]) -> list[str]:
    """The sections of `Config` without a single row in the table."""
    return [section for section in SECTIONS if not any(key.split(".", 1)[0] == section for key in rows)]


def test_every_config_section_has_rows_when_the_table_is_parsed() -> None:
    assert "margin" in SECTIONS and "allocation" in SECTIONS and "metrics" in SECTIONS
    assert _missing_sections(ROWS) == []


def test_a_section_left_out_of_the_table_fails_when_its_rows_are_removed() -> None:
    text = README.read_text(encoding="utf-8")
    without = "\n".join(line for line in text.splitlines()
                        if not line.startswith(("| `margin", "| `allocation`")))
    assert _missing_sections(_rows(without)) == ["margin", "allocation"]


def test_every_config_key_has_a_readme_row_when_the_table_is_parsed() -> None:
    assert sorted(set(KEYS) - set(ROWS)) == []


def test_every_readme_row_is_a_config_key_when_the_table_is_parsed() -> None:
    assert sorted(set(ROWS) - set(KEYS)) == []


@pytest.mark.parametrize("key", [k for k, v in KEYS.items() if v is not NAMED and k in ROWS])
def test_the_readme_default_is_the_parsed_default_when_a_key_has_a_row(key: str) -> None:
    default, cell = KEYS[key], ROWS[key]
    if default is None:
        assert cell.startswith("unset")
        return
    shown = _shown(default)
    if shown is not None:
        code = re.match(r"`([^`]*)`", cell)
        assert code is not None and code.group(1) == shown, f"{key}: README says {cell}, the default is {shown}"


def test_the_walk_sees_sub_sections_and_named_tables_when_config_is_walked() -> None:
    assert KEYS["execution.paper.latency_ms"] == 0
    assert KEYS["signals.funding_silent_after_s"] == 600
    assert KEYS["venues.<name>.perp.taker_bps"] is NAMED and KEYS["margin.venues.<name>.haircuts"] is NAMED
