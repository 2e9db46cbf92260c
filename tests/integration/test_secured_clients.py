"""`kafka.client` against the real embedded broker: with `security.protocol=PLAINTEXT` set
explicitly (what a secured deployment's table looks like, minus the secrets) a replay still
publishes, runs the Bytewax flow and reads its outputs back, and every client it built — admin,
producers, the flow's consumers and sink — was handed the configured properties."""

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.connectors import kafka
from arbflow.flows.replay import run_replay
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.signals import BasisPoint
from tests.conftest import slice_of_bundled

pytestmark = pytest.mark.integration
PROPERTIES = {"security.protocol": "PLAINTEXT", "client.id": "arbflow-secured-test"}


def test_a_replay_works_with_plaintext_set_explicitly_and_every_client_gets_the_properties(
        config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[tuple[str, dict[str, Any]]] = []

    def recording(cls: Any) -> Callable[[dict[str, Any]], Any]:
        def build(conf: dict[str, Any]) -> Any:
            built.append((cls.__name__, dict(conf)))
            return cls(conf)  # the real client, against the real broker
        return build

    for name in ("Producer", "Consumer", "AdminClient"):
        monkeypatch.setattr(kafka, name, recording(getattr(kafka, name)))
    secured = dataclasses.replace(config, kafka=dataclasses.replace(config.kafka, client=dict(PROPERTIES)))

    summary = run_replay(secured, [slice_of_bundled(tmp_path / "head.jsonl", 600)])

    assert summary.published[topics.MD_TICKER] == 600
    assert not summary.rejects
    messages = kafka.read_topic(secured.kafka.bootstrap or "", kafka.topic_name(secured, topics.SIGNAL_BASIS),
                                client=secured.kafka.client)
    points = [codec.decode(BasisPoint, m.value, source="t") for m in messages]
    first = min((p for p in points if isinstance(p, BasisPoint) and p.asset == "BTC"), key=lambda p: p.ts)
    assert (first.ts, first.spot_mid, first.perp_mid) == (1723161255088, Decimal("61824.005"), Decimal("61800.25"))
    assert {kind for kind, _ in built} == {"Producer", "Consumer", "AdminClient"}
    assert all({k: conf.get(k) for k in PROPERTIES} == PROPERTIES for _, conf in built), built
