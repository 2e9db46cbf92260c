"""Live exchange feeds through ccxt.pro: per venue × stream watch loops that normalise
ccxt's unified structures into the md.* records, with reconnects, staleness alerts,
funding polling and Prometheus metrics (docs/ingest.md).

`spec` (what a venue module declares in `LIVE`), `exchange` (creating ccxt exchanges,
endpoint overrides, markets, `--symbols` resolution), `normalise` (ccxt dicts → records,
pure), `funding` (interval rules), `settings` (knobs, status, alert codes), `metrics`,
`ccxt_feed` (one venue's loops), `runner` (all venues → Kafka, clock ticks, shutdown).
This `__init__` imports nothing, so venue modules may import `connectors.feeds.spec`
without a cycle.
"""
