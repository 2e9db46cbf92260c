"""Prometheus metrics of the live feeds. Labels are only `venue`, `market`, `reason`.

- `arbflow_feed_messages_total{venue, market}`: updates received from ccxt (a burst that
  ccxt conflates counts once);
- `arbflow_feed_reconnects_total{venue, reason}`: stream reconnections (`NETWORK_ERROR`,
  `TIMEOUT`, `STALE`);
- `arbflow_feed_resyncs_total{venue, market, reason}`: books rebuilt from a new snapshot
  (`SEQUENCE_GAP` reported by ccxt, `SNAPSHOT_SYNC` ccxt's snapshot sync gave up,
  `RECONNECT`);
- `arbflow_feed_rejects_total{venue, market, reason}`: payloads sent to a dead-letter
  topic, by `model.reasons` code;
- `arbflow_feed_poll_failures_total{venue, reason}`: funding polls failed after retries;
- `arbflow_feed_funding_fallbacks_total{venue, reason}`: perps whose funding the REST poll
  fetched instead of their websocket stream, per poll: `MISSING` (the stream has delivered
  nothing for a poll period since it started), `STALE` (its last update is older than a
  poll period), `FAILED` (it stopped on a non-retryable error);
- `arbflow_feed_oi_poll_failures_total{venue, reason}`: open-interest polls failed after
  retries (`NETWORK_ERROR`, `TIMEOUT`, or `UNSUPPORTED` when ccxt has no
  `fetchOpenInterest` for the venue);
- `arbflow_feed_last_message_age_seconds{venue}` (gauge): seconds since the venue's last
  streamed update;
- `arbflow_feed_stale{venue}` (gauge): 1 while the venue is stale.

Every `FeedMetrics` registers into its own `CollectorRegistry` unless one is given, so
tests and several runners in one process never collide; `registry` is what a
`prometheus_client.start_http_server(port, registry=…)` serves.
"""

from prometheus_client import CollectorRegistry, Counter, Gauge


class FeedMetrics:
    """The feed counters and gauges (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages = Counter("arbflow_feed_messages", "Updates received from a venue.", ["venue", "market"],
                                registry=r)
        self.reconnects = Counter("arbflow_feed_reconnects", "Stream reconnections.", ["venue", "reason"], registry=r)
        self.resyncs = Counter("arbflow_feed_resyncs", "Order books rebuilt from a new snapshot.",
                               ["venue", "market", "reason"], registry=r)
        self.rejects = Counter("arbflow_feed_rejects", "Payloads sent to a dead-letter topic.",
                               ["venue", "market", "reason"], registry=r)
        self.poll_failures = Counter("arbflow_feed_poll_failures", "Funding polls failed after retries.",
                                     ["venue", "reason"], registry=r)
        self.funding_fallbacks = Counter("arbflow_feed_funding_fallbacks",
                                         "Perps whose funding the REST poll fetched for a missing, stale or stopped "
                                         "websocket stream.", ["venue", "reason"], registry=r)
        self.oi_poll_failures = Counter("arbflow_feed_oi_poll_failures", "Open-interest polls failed after retries.",
                                        ["venue", "reason"], registry=r)
        self.last_message_age = Gauge("arbflow_feed_last_message_age_seconds", "Seconds since the last update.",
                                      ["venue"], registry=r)
        self.stale = Gauge("arbflow_feed_stale", "1 while the venue sends nothing for stale_after_s.", ["venue"],
                           registry=r)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when it was never touched), e.g.
        `value("arbflow_feed_reconnects_total", venue="okx", reason="NETWORK_ERROR")`."""
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found
