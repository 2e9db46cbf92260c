"""A Bytewax cluster process whose peer stops panics in Rust; pyo3 raises that as
`PanicException`, a BaseException that is not an Exception. It must end as one line, never
a traceback: `ClusterLost` naming the process in a cluster, the unexpected-error line
otherwise. (tests/integration/test_cluster_peer_lost.py kills a real peer.)"""

from pathlib import Path

import pytest

from arbflow.cli.support import guard
from arbflow.cli.trading import peers_lost
from arbflow.model.errors import ClusterLost, DeliveryFailed


class PanicException(BaseException):
    """Stands for pyo3_runtime.PanicException (created by pyo3 at run time, not importable)."""


CLUSTER = {"process_id": 1, "addresses": ["a:2101", "b:2101"]}


def test_a_panic_in_a_cluster_becomes_cluster_lost_naming_the_process_when_a_peer_is_gone() -> None:
    panic = PanicException("Send thread panic: Any { .. }")
    with pytest.raises(ClusterLost) as raised, peers_lost(CLUSTER):
        raise panic
    assert str(raised.value).startswith("process 1 of the Bytewax cluster lost its peers (Send thread panic: Any")
    assert raised.value.__cause__ is panic


def test_a_panic_outside_a_cluster_passes_unchanged_when_no_addresses_are_given() -> None:
    with pytest.raises(PanicException), peers_lost({}):
        raise PanicException("boom")


def test_a_panic_carrying_our_own_error_passes_unchanged_when_its_cause_is_known() -> None:
    panic = PanicException("sink failed")
    panic.__cause__ = DeliveryFailed("redis refused a write")
    with pytest.raises(PanicException), peers_lost(CLUSTER):
        raise panic


def test_guard_ends_a_panic_in_one_line_without_a_traceback_when_it_is_not_an_exception(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARBFLOW_INFRA__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("ARBFLOW_DEBUG", raising=False)

    @guard
    def command() -> None:
        raise PanicException("Send thread panic: Any { .. }")

    with pytest.raises(SystemExit) as exited:
        command()
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("arbflow: unexpected error: PanicException: Send thread panic")
    assert list((tmp_path / "state" / "logs").glob("crash-*.log"))


def test_guard_says_cluster_lost_in_one_line_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    @guard
    def command() -> None:
        with peers_lost(CLUSTER):
            raise PanicException("Send thread panic: Any { .. }")

    with pytest.raises(SystemExit) as exited:
        command()
    err = capsys.readouterr().err
    assert exited.value.code == 1 and len(err.strip().splitlines()) == 1, err
    assert err.startswith("arbflow: process 1 of the Bytewax cluster lost its peers")


def test_guard_lets_system_exit_through_unchanged() -> None:
    @guard
    def command() -> None:
        raise SystemExit(3)

    with pytest.raises(SystemExit) as exited:
        command()
    assert exited.value.code == 3
