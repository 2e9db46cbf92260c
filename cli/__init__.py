"""The `arbflow` command: the root group and its registry in `main`, one module per topic
of commands (infra, replay, trading, feed, record, convert, ingest, study, risk, describe)
and what they share in `support`."""
