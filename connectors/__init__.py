"""Where data enters and leaves: exchange feeds, replay files, Kafka, embedded services.

Connectors import `model` only (never `operators`, `sinks` or `flows`); venue modules in
`connectors.venues` never import each other. Third-party errors are translated here into
`model.errors` types.
"""
