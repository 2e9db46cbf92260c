"""`kafka.client`: the librdkafka properties of a secured cluster reach every client arbflow builds.

Each place that builds a producer, consumer or admin client is run with a configuration holding
marker properties, and the dict handed to confluent-kafka is captured (the constructors are
replaced by a recorder that stops there — this tests our wiring, no service is mocked). The
embedded broker with `security.protocol=PLAINTEXT` set explicitly is tested for real in
tests/integration/test_secured_clients.py."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arbflow.connectors import kafka, kafka_flow, kafka_merge, recorder
from arbflow.connectors import replay as replay_connector
from arbflow.connectors.feeds import runner
from arbflow.connectors.infra import services, tansu
from arbflow.flows import live_gateway, signal_flow
from arbflow.model.config import Config, parse_config
from arbflow.model.validation import Universe

MARKER = {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "arb",
          "sasl.password": "marker-password-7f3a", "ssl.ca.location": "/etc/ca.pem"}
BOOTSTRAP = "broker.example:9093"


class Built(Exception):
    """Raised by the recording constructor: the client's configuration has been captured."""


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """(client kind, the configuration dict) of every client constructed, in order."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def recording(kind: str) -> Callable[[dict[str, Any]], Any]:
        def build(conf: dict[str, Any]) -> Any:
            seen.append((kind, dict(conf)))
            raise Built(kind)
        return build

    monkeypatch.setattr(kafka, "Producer", recording("Producer"))
    monkeypatch.setattr(kafka, "Consumer", recording("Consumer"))
    monkeypatch.setattr(kafka, "AdminClient", recording("AdminClient"))
    monkeypatch.setattr(tansu, "AdminClient", recording("AdminClient"))
    return seen


def _config(**kafka_keys: Any) -> Config:
    return parse_config({"kafka": {"bootstrap": BOOTSTRAP, "client": dict(MARKER), **kafka_keys}}, {})


CONFIG = _config()
CLIENT = CONFIG.kafka.client
PARTS = {("md.ticker", 0): (0, 10)}

# Every place that builds a client, by name: each call builds (at least) that client first.
SITES: dict[str, tuple[str, Callable[[], Any]]] = {
    "kafka.admin": ("AdminClient", lambda: kafka.admin(BOOTSTRAP, 1.0, CLIENT)),
    "kafka.ensure_topics": ("AdminClient", lambda: kafka.ensure_topics(BOOTSTRAP, ["a"], 4, 1.0, CLIENT)),
    "kafka.partition_counts": ("AdminClient", lambda: kafka.partition_counts(BOOTSTRAP, ["a"], 1.0, CLIENT)),
    "kafka.KeyedProducer": ("Producer", lambda: kafka.KeyedProducer(BOOTSTRAP, None, delivery_timeout_ms=1000,
                                                                    client=CLIENT)),
    "kafka.consumer": ("Consumer", lambda: kafka.consumer(BOOTSTRAP, eof=True, client=CLIENT)),
    "kafka.end_offsets": ("Consumer", lambda: kafka.end_offsets(BOOTSTRAP, [("a", 0)], 1.0, CLIENT)),
    "kafka.read_topic": ("Consumer", lambda: list(kafka.read_topic(BOOTSTRAP, "a", client=CLIENT))),
    "OrderReader.history": ("Consumer", lambda: kafka.OrderReader(CONFIG, BOOTSTRAP).history()),
    "OrderReader.open": ("Consumer", lambda: kafka.OrderReader(CONFIG, BOOTSTRAP).open()),
    "KafkaInput.list_parts": ("AdminClient", lambda: kafka_flow.KafkaInput(BOOTSTRAP, ["a"], client=CLIENT)
                              .list_parts()),
    "KafkaInput partition": ("Consumer", lambda: kafka_flow.KafkaInput(BOOTSTRAP, ["md.ticker"], ranges=PARTS,
                                                                       client=CLIENT).build_part("s", "0#md.ticker",
                                                                                                 None)),
    "KafkaInput at the end": ("Consumer", lambda: kafka_flow.KafkaInput(BOOTSTRAP, ["a"], start="end", client=CLIENT)
                              .build_part("s", "0#a", None)),
    "KafkaOutput": ("Producer", lambda: kafka_flow.KafkaOutput(
        BOOTSTRAP, topic_prefix="", partitioner=kafka.Partitioner(("BTC",), 4), delivery_timeout_ms=1000,
        client=CLIENT).build("s", 0, 1)),
    "MergedKafkaInput.list_parts": ("AdminClient", lambda: kafka_merge.MergedKafkaInput(
        BOOTSTRAP, ["a"], client=CLIENT).list_parts()),
    "MergedKafkaInput partition": ("Consumer", lambda: kafka_merge.MergedKafkaInput(
        BOOTSTRAP, ["md.ticker"], ranges=PARTS, client=CLIENT).build_part("s", "0", None)),
    "MergedKafkaInput at the end": ("Consumer", lambda: kafka_merge.MergedKafkaInput(
        BOOTSTRAP, ["a"], start="end", client=CLIENT).build_part("s", "0", None)),
    "recorder.record": ("Consumer", lambda: recorder.record(
        BOOTSTRAP, ["md.ticker"], Path("/nonexistent/out.jsonl"), prefix="", universe=Universe.from_config(CONFIG),
        client=CLIENT)),
    "replay.publish_files": ("Producer", lambda: replay_connector.publish_files(
        CONFIG, BOOTSTRAP, [], speed=0, partitions={}, published=replay_connector.Published())),
    "live gateway producer": ("Producer", lambda: live_gateway.Gateway(CONFIG, BOOTSTRAP, {}, stop=threading.Event(),
                                                                       partitions={})),
    "ingest (topics first)": ("AdminClient", lambda: runner.kafka_producer(CONFIG, BOOTSTRAP)),
    "infra probe of an external broker": ("AdminClient", lambda: services.up(CONFIG)),
    "tansu.answers_kafka": ("AdminClient", lambda: tansu.answers_kafka(BOOTSTRAP, 0.1, CLIENT)),
}


@pytest.mark.parametrize("site", sorted(SITES))
def test_every_client_gets_the_configured_properties_and_the_bootstrap(
        site: str, built: list[tuple[str, dict[str, Any]]]) -> None:
    kind, call = SITES[site]
    with pytest.raises(Built):
        call()
    first_kind, conf = built[0]
    assert first_kind == kind
    assert {k: conf[k] for k in MARKER} == MARKER
    assert conf["bootstrap.servers"] == BOOTSTRAP


def test_ingest_producer_gets_the_properties_after_its_topics(
        monkeypatch: pytest.MonkeyPatch, built: list[tuple[str, dict[str, Any]]]) -> None:
    monkeypatch.setattr(runner, "ensure_topics", lambda *args: {})
    with pytest.raises(Built):
        runner.kafka_producer(CONFIG, BOOTSTRAP)
    assert [(kind, conf["sasl.password"]) for kind, conf in built] == [("Producer", MARKER["sasl.password"])]


def test_the_signal_flow_hands_the_properties_to_its_bytewax_source_and_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}

    def spy(name: str, cls: Any) -> Callable[..., Any]:
        def make(*args: Any, **kwargs: Any) -> Any:
            given[name] = kwargs.get("client")
            return cls(*args, **kwargs)
        return make

    monkeypatch.setattr(signal_flow, "MergedKafkaInput", spy("source", kafka_merge.MergedKafkaInput))
    monkeypatch.setattr(signal_flow, "KafkaOutput", spy("sink", kafka_flow.KafkaOutput))
    signal_flow.build_signal_flow(CONFIG, BOOTSTRAP, "redis://127.0.0.1:1/0", trade=True)
    assert given == {"source": CLIENT, "sink": CLIENT}


def test_the_configured_properties_override_arbflow_tuning_but_never_the_bootstrap() -> None:
    conf = kafka.client_config("a:1", {"fetch.wait.max.ms": 10, "linger.ms": 5},
                               {"fetch.wait.max.ms": "100", "client.id": "x"})
    assert conf == {"fetch.wait.max.ms": "100", "linger.ms": 5, "client.id": "x", "bootstrap.servers": "a:1",
                    **kafka.CLIENT_LOG}  # librdkafka's own log lines go to the arbflow.kafka.librdkafka logger


def test_the_bundled_librdkafka_accepts_a_sasl_ssl_configuration_as_the_readme_shows_it() -> None:
    """The README's example (SCRAM over TLS) builds a real client: the wheel has SASL and TLS
    support and the names are librdkafka's. Nothing connects (the address is refused)."""
    from confluent_kafka import Producer

    conf = kafka.client_config("127.0.0.1:1", {"linger.ms": 5}, {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "arbflow",
        "sasl.password": "pw", "ssl.ca.location": "probe"})
    producer = Producer(conf)
    assert producer.flush(0) == 0  # built, nothing queued


@pytest.mark.parametrize(("client", "words"), [
    ({"sasl.pasword": "x"}, "No such configuration property"),
    ({"security.protocol": "SASL_SSL", "sasl.mechanism": "GSSAPI"}, "GSSAPI"),
])
def test_a_property_librdkafka_refuses_is_a_config_error_on_kafka_client(client: dict[str, str], words: str) -> None:
    from arbflow.model.errors import ConfigError

    for build in (lambda: kafka.consumer("127.0.0.1:1", eof=False, client=client),
                  lambda: kafka.KeyedProducer("127.0.0.1:1", None, delivery_timeout_ms=1000, client=client),
                  lambda: kafka.admin("127.0.0.1:1", 0.1, client),
                  lambda: tansu.answers_kafka("127.0.0.1:1", 0.1, client)):
        with pytest.raises(ConfigError) as error:
            build()
        assert error.value.key == "kafka.client" and words in error.value.message
