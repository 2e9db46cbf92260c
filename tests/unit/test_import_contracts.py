"""The import rules (docs/architecture.md §2) are enforced by import-linter (pyproject.toml);
these tests prove the contracts bite, by breaking a copy of the code and running lint-imports."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


PARTS = ("model", "connectors", "operators", "sinks", "flows", "cli", "reports")


def _copy(tmp_path: Path) -> Path:
    """The `arbflow` package as the repository lays it out: the parts, and arbflow/ linking to them."""
    for package in PARTS:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "arbflow", tmp_path / "arbflow", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "300"}  # contract names unwrapped
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_contracts_hold_on_the_code_as_it_is(tmp_path: Path) -> None:
    result = _lint(_copy(tmp_path))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("operators/signals/basis.py", "import time", "operators are pure: model only, no clock, no I/O"),
    ("operators/signals/basis.py", "import arbflow.sinks.redis_state",
     "the layers: cli, reports, flows, then connectors | operators | sinks, then model"),
    ("model/money.py", "import arbflow.operators.signals.basis",
     "the layers: cli, reports, flows, then connectors | operators | sinks, then model"),
    ("model/codec.py", "import redis", "model uses only the standard library and orjson"),
    ("connectors/replay.py", "import arbflow.sinks.dead_letter", "connectors import model only"),
    ("sinks/dead_letter.py", "import arbflow.connectors.kafka", "sinks import model only"),
    ("operators/execution/engine.py", "import arbflow.operators.study.carry", "the hot path never imports the study"),
    ("operators/asset_desk.py", "import arbflow.operators.study.portfolio_eval",
     "the hot path never imports the study"),
    ("operators/signals/scanner.py", "import arbflow.operators.execution.ids",
     "signals do not trade: signals import no execution"),
    ("flows/stateful.py", "import arbflow.reports.html", "the flows wire; they render nothing"),
    ("connectors/venues/okx.py", "import arbflow.connectors.venues.binance", "venue modules are independent"),
    ("sinks/gateway/venues/bybit.py", "import arbflow.sinks.gateway.venues.okx",
     "venue profiles never import each other"),
])
def test_a_forbidden_import_breaks_the_build(tmp_path: Path, module: str, line: str, contract: str) -> None:
    root = _copy(tmp_path)
    target = root / "arbflow" / module
    target.write_text(target.read_text() + f"\n{line}  # injected by the test\n")
    result = _lint(root)
    assert result.returncode != 0
    assert f"{contract} BROKEN" in result.stdout
