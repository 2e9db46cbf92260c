"""The one fee-aware decision rule (docs/architecture.md §3.6): entry, hold and exit of a
"long A, short B" pair, for cash-and-carry (spot long, perp short) and cross-venue perp
spreads alike. Pure and exact: Decimal throughout.

Units: `carry_8h` a fraction per 8 h (short's rate − long's rate, spot = 0); spreads, fees,
slippage, cost, edge and margin in bps of notional; H in 8 h intervals; money in USD.
Formulas (one place each):
- round-trip fees of the four fills (two legs, entry and exit): `maker_first` =
  `2 × (maker_hard + taker_easy)` (the harder leg rests as maker, the other crosses as
  taker); `taker` = `2 × (taker_hard + taker_easy)`;
- `cost_bps = fees_bps + exit_slippage_bps` (entry slippage is already in the VWAP entry
  prices, hence inside `entry_spread_bps`);
- `edge_bps = carry_8h × H × 10⁴ + entry_spread_bps − cost_bps`; projected profit over H =
  `N × edge_bps / 10⁴`;
- `carry_8h` is the pair's *expected* carry μ̂ (operators/strategy/holding.py: the mean of
  its last `carry_window_intervals` settled carries, the live rate counted as the newest);
- enter iff `carry_8h > exit_carry_8h` and `edge_bps > entry_margin_bps`; else
  FUNDING_DELTA_TOO_LOW (the expected carry at or below the exit bar: the hold rule would
  exit at once) or NOT_PROFITABLE (the edge does not beat the margin) — the carry's only
  test: no fixed carry floor elsewhere decides an entry;
- a *spread trade* earns more from `entry_spread_bps` than from `carry_8h × H × 10⁴`; only
  spread trades are gated by the confluence score and `min_spread_bps` (scanner and desks);
- hold while `carry_8h > exit_carry_8h`, exit at or below it (hysteresis: entering needs the whole
  round trip plus the margin, holding only the carry's sign — the fees are sunk and the exit
  fees are paid whenever one exits — and never a fixed horizon).
Not supported: reverse carry (negative funding on a spot–perp pair would need a short spot
leg, i.e. spot borrow, which arbflow does not model); the scanner only builds spot-long
pairs, and a carry below `exit_carry_8h` is refused at entry with that said in the detail.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.config import FeeSchedule, OrderStyle, StrategyConfig
from arbflow.model.money import BPS_PER_UNIT
from arbflow.operators.strategy.holding import Holding

_TWO: Final = Decimal(2)


def round_trip_fees_bps(style: OrderStyle, hard: FeeSchedule, easy: FeeSchedule) -> Decimal:
    """Fees of the four fills of a pair in bps: the harder leg (lower liquidity rank) is
    maker under `maker_first`, every fill taker under `taker`; the easier leg always takes."""
    hard_bps = hard.maker_bps if style == "maker_first" else hard.taker_bps
    return _TWO * (hard_bps + easy.taker_bps)


def edge_bps(carry_8h: Decimal, holding_intervals: int, entry_spread_bps: Decimal, cost_bps: Decimal) -> Decimal:
    """`carry_8h × H × 10⁴ + entry_spread_bps − cost_bps` (bps of notional over H)."""
    return carry_8h * holding_intervals * BPS_PER_UNIT + entry_spread_bps - cost_bps


def projected_profit(notional: Decimal, edge: Decimal) -> Decimal:
    """The projected profit over H in USD: `N × edge_bps / 10⁴`."""
    return notional * edge / BPS_PER_UNIT


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDecision:
    """The rule's verdict on one pair and every number behind it (for the opportunity's detail)."""

    accepted: bool
    reason: str | None
    carry_8h: Decimal
    holding: Holding
    entry_spread_bps: Decimal
    fees_bps: Decimal
    exit_slippage_bps: Decimal
    edge_bps: Decimal
    margin_bps: Decimal
    note: str = ""

    @property
    def cost_bps(self) -> Decimal:
        """Round-trip fees plus the expected exit slippage, bps."""
        return self.fees_bps + self.exit_slippage_bps

    @property
    def carry_bps(self) -> Decimal:
        """The carry over H in bps: `carry_8h × H × 10⁴`."""
        return self.carry_8h * self.holding.intervals * BPS_PER_UNIT

    def detail(self) -> str:
        """One line: carry × H + spread − cost = edge vs margin (bps), and why if refused."""
        verdict = ">" if self.accepted else "≤"
        text = (f"carry {self.carry_8h * BPS_PER_UNIT:.2f} bp/8h × {self.holding.text()} = {self.carry_bps:.2f} bps"
                f" + spread {self.entry_spread_bps:.2f} − cost {self.cost_bps:.2f} (fees {self.fees_bps:.2f}"
                f" + exit slippage {self.exit_slippage_bps:.2f}) = edge {self.edge_bps:.2f} bps {verdict}"
                f" margin {self.margin_bps} bps")
        return f"{text}; {self.note}" if self.note else text


def decide_entry(*, carry_8h: Decimal, holding: Holding, entry_spread_bps: Decimal, fees_bps: Decimal,
                 exit_slippage_bps: Decimal, cfg: StrategyConfig) -> EntryDecision:
    """Enter iff the carry is above the exit threshold (else FUNDING_DELTA_TOO_LOW) and the
    edge over H beats the margin (else NOT_PROFITABLE)."""
    edge = edge_bps(carry_8h, holding.intervals, entry_spread_bps, fees_bps + exit_slippage_bps)
    note = ""
    if carry_8h <= cfg.exit_carry_8h:
        note = (f"carry at or below the exit threshold {cfg.exit_carry_8h * BPS_PER_UNIT} bp/8h: the hold rule would"
                " exit at once (reverse carry, short spot, needs spot borrow: not supported)")
    accepted = not note and edge > cfg.entry_margin_bps
    reason = None if accepted else reasons.FUNDING_DELTA_TOO_LOW if note else reasons.NOT_PROFITABLE
    return EntryDecision(accepted=accepted, reason=reason, carry_8h=carry_8h,
                         holding=holding, entry_spread_bps=entry_spread_bps, fees_bps=fees_bps,
                         exit_slippage_bps=exit_slippage_bps, edge_bps=edge, margin_bps=cfg.entry_margin_bps,
                         note=note)


def spread_trade(entry_spread_bps: Decimal, carry_8h: Decimal | None, holding_intervals: int | None) -> bool:
    """A spread trade (gated by the confluence score and the minimum spread) earns more from its
    entry spread than from its carry over H; otherwise it is a carry trade. Without a carry or
    an H (a record priced before the rule) it counts as a spread trade."""
    if carry_8h is None or holding_intervals is None:
        return True
    return entry_spread_bps > carry_8h * holding_intervals * BPS_PER_UNIT


def should_exit(carry_8h: Decimal, cfg: StrategyConfig) -> bool:
    """The hold/exit decision on the expected carry: hold while it stays above `exit_carry_8h`
    (fraction per 8 h), exit at or below it (a pair earning exactly nothing frees its capital)."""
    return carry_8h <= cfg.exit_carry_8h


def pair_kind(long_market: str, long_venue: str, short_market: str, short_venue: str) -> str:
    """The kind of a "long A, short B" pair (`StrategyConfig.pair_kinds`): "carry" (spot long,
    perp short, one venue), "cross_carry" (spot long, perp short, two venues), "spread" (perp
    long, perp short, two venues)."""
    if long_market == "spot":
        return "carry" if long_venue == short_venue else "cross_carry"
    return "spread"
