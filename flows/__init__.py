"""Bytewax dataflow builders and the runs that drive them (replay, the live gateway): wiring
only (connectors → operators → sinks). `cli` and `reports` stand above them."""
