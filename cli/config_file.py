"""Loading the configuration: the TOML file named by `--config` or `$ARBFLOW_CONFIG`
(none = built-in defaults; a named file that is missing is an error), then the
environment. Parsing and validation live in `model.config`."""

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from arbflow.model.config import Config, parse_config
from arbflow.model.errors import ConfigError

# Environment variables of the command line itself, not configuration keys.
COMMAND_ENV = frozenset({"ARBFLOW_CONFIG", "ARBFLOW_LOG_LEVEL", "ARBFLOW_LOG_FORMAT"})


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The validated configuration; raises `ConfigError` naming the bad key."""
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
    return parse_config(document, {k: v for k, v in env.items() if k not in COMMAND_ENV})
