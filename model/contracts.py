"""How a converted file's instruments are described: spot, linear or inverse, quote and
settle currency, contract size and its unit — and from that the project's unified symbol
(ccxt's: `BTC/USDT`, `BTC/USDT:USDT`, `BTC/USDC:USDC`, `BTC/USD:USDC`, inverse `BTC/USD:BTC`)
and quantities in base units.

`Contract` comes from `arbflow convert … --contract/--quote/--settle/--contract-size` or a
mapping file, falling back to the venue table (`VenueConfig.contract`, `quote`, `settle`,
`contract_size`). Rules:
- linear: quote = `quote` or `settle` or USDT, settle = `settle` or the quote → `B/Q:S`
  (`settle` USDT, USDC or USD, or the dYdX/Paradex form quote USD settled USDC);
- inverse: quoted in USD (or `quote`), settled in the base asset → `B/USD:B`; a `settle`
  other than the base is refused (an inverse perp is margined in its coin);
- spot: `B/Q`, Q = `quote` or `settle` or USDT.
Contract size "<n> [unit]": `n` base units per contract (unit `base`, the default, or the
base asset's code), or `n` quote units (USD, USDT, USDC, `quote`) — then a quantity of q
contracts at price p is q × n / p base units, converted at the record's own price. Exact
Decimal in the money context.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.money import MONEY, DecimalTextError, parse_decimal
from arbflow.model.symbols import parse_symbol, unified

ContractKind = Literal["spot", "linear", "inverse"]
CONTRACT_KINDS: Final = ("spot", "linear", "inverse")
QUOTE_UNITS: Final = frozenset({"USD", "USDT", "USDC", "QUOTE"})
CONTRACT_SIZE_ALLOWED: Final = ('"<number> [unit]" with the number > 0 and the unit base (default), the base '
                                'asset, or a quote unit (USD, USDT, USDC, quote), e.g. "10 USD" or "0.001"')


class ContractError(ValueError):
    """A contract description that does not fit together (one line, for the user)."""


@dataclass(frozen=True, slots=True)
class ContractSize:
    """`amount` per contract, in base units (`in_quote` False) or in quote units."""

    amount: Decimal
    in_quote: bool = False
    unit: str = "base"

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


ONE_BASE: Final = ContractSize(Decimal(1))


def parse_contract_size(text: str) -> ContractSize:
    """"10 USD" → 10 quote units; "0.001", "0.001 base", "0.001 BTC" → base units. ValueError."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"contract size {text!r}: allowed {CONTRACT_SIZE_ALLOWED}")
    try:
        amount = parse_decimal(parts[0])
    except DecimalTextError:
        raise ValueError(f"contract size {text!r}: {parts[0]!r} is not a number") from None
    if amount <= 0:
        raise ValueError(f"contract size {text!r}: must be > 0")
    unit = parts[1] if len(parts) == 2 else "base"
    if unit.upper() in QUOTE_UNITS:
        return ContractSize(amount, in_quote=True, unit=unit.upper() if unit.upper() != "QUOTE" else "quote")
    if unit == "base" or (unit.isascii() and unit.isalnum() and unit.upper() == unit):
        return ContractSize(amount, in_quote=False, unit=unit)
    raise ValueError(f"contract size {text!r}: unit {unit!r} is neither base nor a quote unit")


@dataclass(frozen=True, slots=True)
class Contract:
    """What the instruments of one converted file are (see the module docstring)."""

    kind: ContractKind = "linear"
    quote: str | None = None
    settle: str | None = None
    size: ContractSize = ONE_BASE

    def symbol(self, asset: str) -> str:
        """The unified symbol of `asset` under this description; ContractError if it does not fit."""
        if self.kind == "inverse":
            if self.settle not in (None, asset):
                raise ContractError(f"an inverse perp settles in its base asset ({asset}/USD:{asset}), not in "
                                    f"{self.settle}; leave --settle out or use --contract linear")
            symbol = unified(asset, self.quote or "USD", "perp", settle=asset)
        elif self.kind == "linear":
            quote = self.quote or self.settle or "USDT"
            symbol = unified(asset, quote, "perp", settle=self.settle or quote)
        else:
            symbol = unified(asset, self.quote or self.settle or "USDT", "spot")
        if self.size.in_quote is False and self.size.unit not in ("base", asset):
            raise ContractError(f"contract size {self.size} is in {self.size.unit}, but the base asset is {asset}")
        try:
            parse_symbol(symbol)
        except ValueError as error:
            raise ContractError(str(error)) from None
        return symbol

    def base_quantity(self, contracts: Decimal, price: Decimal) -> Decimal:
        """`contracts` of this instrument in base units at `price` (quote per base unit)."""
        if self.size.in_quote:
            return MONEY.divide(MONEY.multiply(contracts, self.size.amount), price)
        return MONEY.multiply(contracts, self.size.amount)

    def describe(self, asset: str) -> str:
        """One phrase for the output: `BTC/USD:BTC (inverse, 10 USD per contract)`."""
        return f"{self.symbol(asset)} ({self.kind}, {self.size} per contract)"
