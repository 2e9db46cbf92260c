"""Side effects out: Redis feed and state, dead letters, Prometheus metrics (and later
order placement). Sinks import `model` only, never `connectors` or `operators`."""
