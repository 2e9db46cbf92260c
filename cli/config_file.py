"""Loading the configuration: the TOML file named by `--config` or `$ARBFLOW_CONFIG`
(none = built-in defaults; a named file that is missing is an error), then the
environment. Parsing and validation live in `model.config`."""

import dataclasses
import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path

from arbflow.model.config import Config, parse_config
from arbflow.model.errors import ConfigError

# Environment variables of the command line itself, not configuration keys.
COMMAND_ENV = frozenset({"ARBFLOW_CONFIG", "ARBFLOW_LOG_LEVEL", "ARBFLOW_LOG_FORMAT", "ARBFLOW_DEBUG"})
_WARNED: set[str] = set()


def warn_once(line: str) -> None:
    """Print a configuration warning to stderr, once per process (a command may load twice)."""
    if line not in _WARNED:
        _WARNED.add(line)
        print(f"arbflow: warning: {line}", file=sys.stderr)


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                warn: Callable[[str], None] = warn_once) -> Config:
    """The validated configuration; raises `ConfigError` naming the bad key. A venue configured
    with its kind and fees only is completed with defaults, and `warn` gets one line per such
    venue naming them."""
    env = os.environ if env is None else env
    path = path or env.get("ARBFLOW_CONFIG") or None
    document = {}
    if path is not None:
        file = Path(path)
        try:
            document = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError("config", f"file {file} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError("config", f"{file} is not valid TOML: {error}") from None
        except UnicodeDecodeError:
            raise ConfigError("config", f"{file} is not a text file (not UTF-8); a TOML file is expected") from None
        except IsADirectoryError:
            raise ConfigError("config", f"{file} is a directory, not a TOML file") from None
        except OSError as error:
            raise ConfigError("config", f"{file} cannot be read: {error.strerror or error}") from None
    notes: list[str] = []
    config = parse_config(document, {k: v for k, v in env.items() if k not in COMMAND_ENV}, notes)
    for line in notes:
        warn(line)
    return with_client_files(config)


def with_client_files(config: Config) -> Config:
    """`kafka.client` with each `<name>_file` entry replaced by `<name>` = the file's content
    (one trailing newline dropped); `ConfigError` naming the key when the file cannot be read
    or `<name>` is also given directly."""
    client = dict(config.kafka.client)
    files = [name for name in client if name.endswith("_file")]
    if not files:
        return config
    for name in files:
        target = name.removesuffix("_file")
        if target in client:
            raise ConfigError(f"kafka.client.{name}", f"given together with kafka.client.{target}; use one")
        path = Path(client.pop(name))
        try:
            client[target] = path.read_text().removesuffix("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"kafka.client.{name}", f"cannot read {path}: {error.strerror or error}") from None
    return dataclasses.replace(config, kafka=dataclasses.replace(config.kafka, client=client))
