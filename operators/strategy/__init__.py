"""The one fee-aware carry strategy (docs/architecture.md §3.6): pure decision functions that
the scanner, the execution exits and the study all call — `holding` estimates how long a
pair's carry keeps its sign, `carry_rule` decides entry and hold/exit from it."""
