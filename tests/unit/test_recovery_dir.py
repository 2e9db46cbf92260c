"""The recovery directory belongs to one broker's data: snapshots taken against another
broker (or an embedded one that restarted and lost its topics) are set aside, not resumed."""

from dataclasses import replace
from pathlib import Path

from arbflow.cli.support import recovery
from arbflow.connectors.infra.services import Service
from arbflow.model.config import parse_config


def test_snapshots_of_another_broker_are_set_aside_and_the_command_starts_fresh(tmp_path: Path) -> None:
    config = parse_config({}, {})
    config = replace(config, recovery=replace(config.recovery, dir=str(tmp_path)))
    first = Service(name="kafka", origin="external", address="127.0.0.1:9092", running=True)
    kwargs = recovery(config, "scan", True, first)
    assert Path(kwargs["recovery_config"].db_dir) == tmp_path / "scan"
    assert (tmp_path / "scan" / "part-0.sqlite3").exists()
    (tmp_path / "scan" / "part-0.sqlite3").write_bytes(b"snapshot of the first broker")  # stands for its state
    recovery(config, "scan", True, first)  # the same broker: resumed, nothing set aside
    assert (tmp_path / "scan" / "part-0.sqlite3").read_bytes() == b"snapshot of the first broker"
    assert [p.name for p in tmp_path.iterdir()] == ["scan"]
    other = replace(first, address="127.0.0.1:19092")
    recovery(config, "scan", True, other)
    stale = [p for p in tmp_path.iterdir() if p.name.startswith("scan.stale-")]
    assert len(stale) == 1 and (stale[0] / "part-0.sqlite3").read_bytes() == b"snapshot of the first broker"
    assert (tmp_path / "scan" / "part-0.sqlite3").read_bytes() != b"snapshot of the first broker"  # fresh


def test_recovery_off_gives_no_arguments(tmp_path: Path) -> None:
    config = parse_config({"recovery": {"enabled": False, "dir": str(tmp_path)}}, {})
    assert recovery(config, "trade-paper", True, Service(name="kafka", origin="external", address="x:1",
                                                         running=True)) == {}
    assert not any(tmp_path.iterdir())
