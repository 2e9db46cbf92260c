"""Inverse (coin-margined) perpetuals — Binance COIN-M `BTCUSD_PERP`, Bybit `BTCUSD`: one formula
per function, pure, exact `Decimal` in the `MONEY` context (docs/risk.md "Inverse perps").

An inverse contract is worth a fixed amount of USD (`size`, e.g. 100 USD) and is margined and
settled in its base coin. With `n` signed contracts (+ long), entry price `e` and mark `m` (USD
per coin):
- notional (USD) `F = |n| × size` — fixed, it does not move with the price;
- PnL (coin) `n × size × (1/e − 1/m)`; valued at the mark it is `n × size × (m/e − 1)` USD;
- margin (coin) at a tier rate `r`: `F × r / m` — worth `F × r` USD whatever the mark;
- the position in base units at a price `p`: `F / p` (how arbflow's records carry an inverse
  quantity: contracts converted at the record's own price, model/contracts.py).

The margin simulator keeps an inverse position as `q` base units at its entry, `q = n × size / e`
(so `F = q × e`), and then the USD PnL is `q × (m − e)` — the linear formula, exactly: a
size-weighted mean entry in base units is the contract-weighted harmonic mean Binance reports
(`Σ n_i / Σ (n_i / e_i)`), so netting and averaging need no inverse case. What differs from a
linear perp: the notional and the maintenance stay fixed in USD, the PnL lands in the coin, and
the margin is held in the coin (`docs/risk.md`).
"""

from decimal import ROUND_DOWN, Decimal
from typing import Final

from arbflow.model.money import MONEY

ONE: Final = Decimal(1)


def notional_usd(contracts: Decimal, size_usd: Decimal) -> Decimal:
    """`|contracts| × size` (USD): the fixed face of an inverse position."""
    return MONEY.multiply(abs(contracts), size_usd)


def pnl_coin(contracts: Decimal, size_usd: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    """`contracts × size × (1/entry − 1/mark)` in the base coin; contracts signed (+ long)."""
    face = MONEY.multiply(contracts, size_usd)
    return MONEY.multiply(face, MONEY.subtract(MONEY.divide(ONE, entry), MONEY.divide(ONE, mark)))


def margin_coin(notional: Decimal, rate: Decimal, mark: Decimal) -> Decimal:
    """`notional × rate / mark`: an initial or maintenance margin (USD `notional`, a tier
    `rate` as a fraction) in the base coin at `mark` USD per coin."""
    return MONEY.divide(MONEY.multiply(notional, rate), mark)


def base_qty(contracts: Decimal, size_usd: Decimal, px: Decimal) -> Decimal:
    """`contracts × size / px`: the position in base units at `px` (entry: arbflow's unit)."""
    return MONEY.divide(MONEY.multiply(contracts, size_usd), px)


def whole_contracts(qty: Decimal, px: Decimal, size_usd: Decimal) -> Decimal:
    """`qty × px / size` rounded down to whole contracts: the contracts a base-unit quantity
    at `px` buys (never more than asked)."""
    return MONEY.divide(MONEY.multiply(qty, px), size_usd).to_integral_value(rounding=ROUND_DOWN)
