"""Pure stream logic: state in, records out. No I/O, no clock, no globals; time comes only
from record timestamps. Imports `model` only (import-linter also forbids time, socket,
random, os and the I/O libraries here)."""
