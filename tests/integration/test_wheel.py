"""The package as a user gets it: the wheel built from this checkout holds every module of
the `arbflow` namespace, and installed into a fresh venv (dependencies from the index,
pinned by requirements.lock) it imports and runs the `arbflow` command — away from the
checkout, so nothing is found through the source tree."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOPS = ("model", "connectors", "operators", "sinks", "flows", "cli", "reports")

pytestmark = pytest.mark.integration


def _modules_in_tree() -> set[str]:
    found = {"arbflow/__init__.py", "arbflow/__main__.py"}
    for top in TOPS:
        found |= {f"arbflow/{p.relative_to(REPO).as_posix()}" for p in (REPO / top).rglob("*.py")}
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of what the package is made of, so the build writes nothing here."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    skip = shutil.ignore_patterns("__pycache__")
    for top in TOPS:
        shutil.copytree(REPO / top, source / top, ignore=skip)
    shutil.copytree(REPO / "arbflow", source / "arbflow", symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("arbflow-*.whl")
    return built


def test_the_wheel_holds_every_module_of_the_tree_under_arbflow(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {n for n in names if n.endswith(".py")}
    assert modules == _modules_in_tree()
    assert not {n for n in names if n.split("/", 1)[0] in TOPS}  # no generic top-level package


def test_the_wheel_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                                "-c", str(REPO / "requirements.lock"), str(wheel)],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-2000:]
    imported = subprocess.run([str(venv / "bin" / "python"), "-c",
                               "import arbflow, arbflow.operators.execution, arbflow.model.config; "
                               "print(arbflow.__file__)"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(venv)
    helped = subprocess.run([str(venv / "bin" / "arbflow"), "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert helped.returncode == 0 and "Usage: arbflow" in helped.stdout
    as_module = subprocess.run([str(venv / "bin" / "python"), "-m", "arbflow", "--help"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert as_module.returncode == 0 and "Usage: arbflow" in as_module.stdout
