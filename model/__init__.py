"""Typed records, symbols, money helpers, the codec and the config schema.

Nothing in this package performs I/O or reads a clock; it imports only the standard
library and orjson (enforced by import-linter, see pyproject.toml).
"""
