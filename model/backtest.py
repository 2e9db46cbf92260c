"""The configuration a backtest runs with (`arbflow backtest`, the study's engine row, the
benches): the loaded configuration with the settings a settlement history needs — see
`backtest_settings` — and the universe cut to the assets the file quotes.

Pure: configuration in, configuration out."""

import dataclasses

from arbflow.model.config import Config

__all__ = ["backtest_settings", "traded_universe"]


def traded_universe(config: Config, assets: set[str]) -> Config:
    """`config` with `universe.assets` cut to the configured ones in `assets` (in their
    configured order); unchanged when the file quotes none of them (the replay then says so)."""
    kept = tuple(asset for asset in config.universe.assets if asset in assets)
    if not kept or kept == config.universe.assets:
        return config
    return dataclasses.replace(config, universe=dataclasses.replace(config.universe, assets=kept))


def backtest_settings(config: Config) -> Config:
    """`config` with `signals.funding_silent_after_s = 0` (funding arrives once per 8 h by
    nature: the live "silent stream" rule would call every leg stale), `strategy.order_style`
    = `backtest.order_style` (default taker: bars carry no trade prints, so a resting maker
    leg would never fill) and `signals.scan_on = "timestamp_complete"` (each close is judged
    once, after all its quotes and settlements)."""
    return dataclasses.replace(config, signals=dataclasses.replace(config.signals, funding_silent_after_s=0,
                                                                   scan_on="timestamp_complete"),
                               strategy=dataclasses.replace(config.strategy, order_style=config.backtest.order_style))
