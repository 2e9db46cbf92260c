"""The peer normalisation harness (`make bench-peers`): arbflow's Binance normaliser next to
cryptofeed (and NautilusTrader when installed) on the same real frames, as a multiple of
`orjson.loads` on those frames in the same process. Runs in `.peers-venv`, never in `.venv`;
see `__main__.py`."""
