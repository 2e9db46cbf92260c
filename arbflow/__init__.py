"""arbflow: spot–perp and cross-venue crypto arbitrage on Kafka and Bytewax.

The package's parts live in the repository's top-level folders and install as
subpackages of this one (see `[tool.setuptools]` in pyproject.toml):

- `arbflow.model` — records, reason codes, the codec, money, the configuration;
- `arbflow.connectors` — data in: venue parsers, ccxt feeds, replay files, Kafka, services;
- `arbflow.operators` — pure stream logic: signals, execution, portfolio, study;
- `arbflow.sinks` — data out: Redis, metrics, dead letters, the live order gateway;
- `arbflow.flows` — the Bytewax dataflows, wiring only;
- `arbflow.cli` — the `arbflow` command; `arbflow.reports` — tables, charts and pages.

docs/architecture.md walks through them.
"""

__version__ = "0.1.0"
