"""Bytewax dataflow builders and the `arbflow` CLI: wiring only (connectors → operators →
sinks). The only package allowed to import all the others."""
