"""Fuzzing of the codec and every normaliser (`make fuzz`, `python -m bench.fuzz --help`).

`mutate` holds the mutations, `targets` what is fuzzed and its seeds (hypothesis records
for the codec, the real recorded payloads in fixtures/ for the normalisers), `watchdog`
the per-message time limit, `__main__` the runner, table and reproducers.
"""
