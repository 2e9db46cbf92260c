"""`[kafka.client]` in the configuration: librdkafka properties as a flat string map, from the
file (quoted or dotted keys), the environment (`ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD`) or a
file (`sasl.password_file`); never printed: `arbflow config` masks them, as it masks the
password of a `rediss://` URL."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from arbflow.cli.config_file import load_config
from arbflow.cli.logs import Redactor, config_secrets
from arbflow.cli.main import main
from arbflow.model.config import parse_config
from arbflow.model.errors import ConfigError
from arbflow.reports.configuration import plain, redacted

SECURED_TOML = """
[kafka]
bootstrap = "broker.example:9093"

[kafka.client]
"security.protocol" = "SASL_SSL"
sasl.mechanism = "SCRAM-SHA-512"
"sasl.username" = "arbflow"
"enable.ssl.certificate.verification" = false
"socket.timeout.ms" = 30000
"""


def test_quoted_and_dotted_keys_become_librdkafka_property_names() -> None:
    import tomllib

    config = parse_config(tomllib.loads(SECURED_TOML), {})
    assert config.kafka.client == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                   "sasl.username": "arbflow", "enable.ssl.certificate.verification": "false",
                                   "socket.timeout.ms": "30000"}


def test_an_environment_variable_sets_a_property_with_underscores_read_as_dots() -> None:
    config = parse_config({}, {"ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD": "s3cret-pw",
                               "ARBFLOW_KAFKA__CLIENT__SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert config.kafka.client == {"sasl.password": "s3cret-pw", "security.protocol": "SASL_PLAINTEXT"}


def test_the_environment_overrides_a_property_the_file_sets_with_a_dotted_key() -> None:
    config = parse_config({"kafka": {"client": {"sasl": {"mechanism": "PLAIN"}, "sasl.username": "a"}}},
                          {"ARBFLOW_KAFKA__CLIENT__SASL_MECHANISM": "SCRAM-SHA-256"})
    assert config.kafka.client == {"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "a"}


def test_one_property_spelt_twice_in_the_file_is_an_error() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"kafka": {"client": {"sasl": {"mechanism": "PLAIN"}, "sasl.mechanism": "PLAIN"}}}, {})
    assert error.value.key == "kafka.client.sasl.mechanism"


def test_no_properties_by_default() -> None:
    assert parse_config({}, {}).kafka.client == {}


@pytest.mark.parametrize(("client", "key"), [
    ({"bootstrap.servers": "elsewhere:9092"}, "kafka.client.bootstrap.servers"),
    ({"Security.Protocol": "SSL"}, "kafka.client.Security.Protocol"),
    ({"sasl.password": 1.5}, "kafka.client.sasl.password"),
])
def test_a_bad_property_is_an_error_naming_the_key(client: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"kafka": {"client": client}}, {})
    assert error.value.key == key


def test_the_error_for_a_bad_name_never_shows_the_values() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"kafka": {"client": {"sasl.password": "hunter2-secret", "Bad Name": "x"}}}, {})
    assert "hunter2-secret" not in str(error.value)


def test_a_password_file_becomes_the_property_without_its_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "kafka_password"
    secret.write_text("from-a-file-9c1\n")
    config = load_config(None, {"ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD_FILE": str(secret),
                                "ARBFLOW_KAFKA__CLIENT__SASL_USERNAME": "arb"})
    assert config.kafka.client == {"sasl.username": "arb", "sasl.password": "from-a-file-9c1"}


def test_a_password_file_named_in_the_toml_file_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("toml-file-pw")
    path = tmp_path / "arbflow.toml"
    path.write_text(f'[kafka.client]\n"sasl.password_file" = "{secret}"\n')
    assert load_config(path, {}).kafka.client == {"sasl.password": "toml-file-pw"}


def test_a_missing_password_file_is_an_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, {"ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD_FILE": str(tmp_path / "absent")})
    assert error.value.key == "kafka.client.sasl.password_file"


def test_a_property_given_directly_and_as_a_file_is_an_error(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x")
    with pytest.raises(ConfigError) as error:
        load_config(None, {"ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD_FILE": str(secret),
                           "ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD": "y"})
    assert error.value.key == "kafka.client.sasl.password_file"


def test_arbflow_config_masks_the_kafka_secrets_and_the_redis_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("file-pw-51d0\n")
    env = {"ARBFLOW_CONFIG": "", "KAFKA_BOOTSTRAP": "broker.example:9093",
           "ARBFLOW_KAFKA__CLIENT__SASL_PASSWORD_FILE": str(secret),
           "ARBFLOW_KAFKA__CLIENT__SSL_KEY_PASSWORD": "key-pw-77ab",
           "ARBFLOW_KAFKA__CLIENT__SASL_USERNAME": "arb",
           "REDIS_URL": "rediss://default:redis-pw-3e9f@cache.example:6380/0"}
    result = CliRunner().invoke(main, ["config"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["kafka"]["client"] == {"sasl.password": "***", "ssl.key.password": "***", "sasl.username": "arb"}
    assert shown["redis"]["url"] == "rediss://default:***@cache.example:6380/0"
    for secret_text in ("file-pw-51d0", "key-pw-77ab", "redis-pw-3e9f"):
        assert secret_text not in result.output


def test_the_configured_secrets_are_masked_in_log_lines() -> None:
    config = parse_config({"kafka": {"client": {"sasl.password": "log-pw-0a1b", "ssl.key.pem": "PEM-BODY-xyz"}}},
                          {"REDIS_URL": "redis://:redis-pw-9f9f@h:6379/0"})
    redact = Redactor(config_secrets(plain(config)))
    line = redact("SASL authentication with log-pw-0a1b failed; key PEM-BODY-xyz; redis-pw-9f9f")
    assert line == "SASL authentication with *** failed; key ***; ***"


def test_redacted_keeps_the_shape_and_masks_only_secrets() -> None:
    tree = {"kafka": {"client": {"sasl.password": "p", "security.protocol": "SSL"}, "partitions": 4},
            "redis": {"url": "redis://127.0.0.1:6379/0"}}
    assert redacted(tree) == {"kafka": {"client": {"sasl.password": "***", "security.protocol": "SSL"},
                                        "partitions": 4}, "redis": {"url": "redis://127.0.0.1:6379/0"}}


def test_an_unreachable_redis_with_a_password_is_reported_without_it() -> None:
    from arbflow.connectors.infra import services
    from arbflow.model.errors import ServiceUnavailable

    config = parse_config({"redis": {"connect_timeout_s": 0.5}}, {"REDIS_URL": "rediss://:redis-pw-4c4c@127.0.0.1:1/0"})
    with pytest.raises(ServiceUnavailable) as error:
        services._redis_up(config)  # the external-Redis check of `infra up` and every command
    assert "redis-pw-4c4c" not in str(error.value) and "rediss://:***@127.0.0.1:1/0" in str(error.value)
