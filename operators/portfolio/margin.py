"""Unified-margin simulator (docs/architecture.md §3.8, §3.9 Margin) — pure, exact `Decimal`.

For one account on one venue (USD; the tables and formulas are in operators.portfolio.margin_tiers):
- effective collateral `EC = Σ_assets value − tiered_haircut(value)`, value = balance ×
  price; an asset without a price or a haircut table counts 0 (conservative, flagged);
- unrealised PnL `U = Σ signed qty × (mark − entry)`; PnL realised by simulated orders `R`
  stays cash at face value; adjusted equity `AE = EC + U + R`;
- notional: a linear perp's `|qty| × mark`, an inverse perp's fixed face `|qty| × entry`;
- maintenance `TMM = Σ tiered_mmr(notional)` (no table for an asset: the whole
  notional, flagged); `health = 1 − TMM × (1 + buffer) / AE`; margin use `TMM / AE`;
  leverage `Σ notional / AE`;
- liquidation move of a position: the relative change of its mark, all else fixed, that
  takes health to 0; `asset_liquidation_move` moves every position and collateral of the
  same base asset together (a spot-hedged short barely moves equity).
Inverse (coin-margined) perps, `BTC/USD:BTC` (operators.portfolio.inverse): `qty` is base units
at the entry or fill price (contracts × contract size / price, as arbflow's records carry them),
so the face `F = |qty| × entry` USD is fixed; U = qty × (mark − entry) is the coin PnL
`F × (1/entry − 1/mark)` (signed) valued at the mark; the maintenance `tiered_mmr(F)` USD is the
coin margin `F × rate / mark` valued at the mark — it does not move with the price, so a
liquidation move sees only the PnL; PnL realised on an inverse perp is credited to (or taken
from) the coin's balance, valued at the coin's price with its haircut (at the fill if the
account has no price for it; a negative coin balance counts at full value, no haircut).
Dust: positions and orders below the venue's `min_qty` count as zero (docs/architecture.md §3.1).
Invalid input raises `RiskInputError` naming the field. Fees are not modelled (put them in
an order's px); the settlement currency of PnL is taken at 1 USD.

`MarginBook` is a working copy for one decision (orders applied, rolled back); it is never
stream state — callers keep the `MarginAccount` record and build a book per decision.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from typing import Final

from arbflow.model import reasons
from arbflow.model.config import MarginConfig, Tier, VenueConfig
from arbflow.model.errors import RiskInputError
from arbflow.model.money import MONEY, is_dust
from arbflow.model.risk import MarginAccount, PerpPosition, ProposedOrder
from arbflow.model.risk_results import (
    CollateralValue,
    Effect,
    Finding,
    MarginState,
    OrderOutcome,
    PositionRisk,
    Projection,
)
from arbflow.model.symbols import Instrument, SymbolError, parse_symbol
from arbflow.operators.portfolio.margin_tiers import Mover, health_of, nearest_root, ratio_of, tiered

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
_SHOWN: Final = Decimal("0.00000001")
STABLE: Final = "USDT"  # the collateral a linear leg's cash arrives as
_NO_TIERS: Final = (Tier(floor=ZERO, rate=ZERO),)  # an inverse mover: its maintenance does not move


def shown_health(health: Decimal) -> Decimal:
    """Health to 8 places, rounded down (never shown healthier than it is)."""
    return health.quantize(_SHOWN, rounding=ROUND_FLOOR)


def shown_ratio(value: Decimal) -> Decimal:
    """Margin use or leverage to 8 places, rounded up (never shown safer than it is)."""
    return value.quantize(_SHOWN, rounding=ROUND_CEILING)


def _toward_zero(move: Decimal | None) -> Decimal | None:
    """A move shown to 8 places, rounded towards 0 (a distance is never overstated)."""
    if move is None:
        return None
    return move.quantize(_SHOWN, rounding=ROUND_CEILING if move < 0 else ROUND_FLOOR)



@dataclass(frozen=True, slots=True)
class Part:
    """One holding to net into a venue's position of a symbol: signed `qty` (+ long), its
    `entry` and the symbol's `mark`, the holder's `quality` and `pair_id`."""

    qty: Decimal
    entry: Decimal
    mark: Decimal
    quality: float | None
    pair_id: str


def net_parts(venue: str, symbol: str, parts: Sequence[Part]) -> tuple[PerpPosition | None, Decimal]:
    """Net mode, as a venue nets a long and a short of one symbol: (the position, cash).

    The longs and the shorts each sit at the size-weighted mean entry of their parts (kept
    within the entries that built it, so rounding never takes it outside). The larger side
    survives with its own entry and the net quantity Σ signed qty, marked at the latest
    part's mark; the matched quantity m = min(Σ long, Σ short) is closed, and the P&L that
    locks in, m × (short entry − long entry) whatever the mark, is returned as cash (0 when
    only one side is held). An exactly flat net is no position: all the parts' P&L is cash.
    So at any mark the position's unrealised P&L plus the cash is the sum of the parts' (to
    the 34 digits of `MONEY`), and the entry is > 0 whenever the parts' are — even when the
    sides nearly cancel, where an entry chosen to carry the locked-in P&L would come out
    absurd or negative. The lowest known quality; the pair ids joined by "+"."""
    with localcontext(MONEY):
        return _net(venue, symbol, parts)


def _net(venue: str, symbol: str, parts: Sequence[Part]) -> tuple[PerpPosition | None, Decimal]:
    mark = parts[-1].mark
    net = sum((p.qty for p in parts), ZERO)
    upnl = sum((MONEY.multiply(p.qty, mark - p.entry) for p in parts), ZERO)
    if net == 0:
        return None, upnl
    long = net > 0
    entry = _mean_entry([p for p in parts if p.qty != 0 and (p.qty > 0) == long])
    one_sided = all(p.qty == 0 or (p.qty > 0) == long for p in parts)
    cash = ZERO if one_sided else upnl - MONEY.multiply(net, mark - entry)
    qualities = [p.quality for p in parts if p.quality is not None]
    return PerpPosition(venue=venue, symbol=symbol, side="long" if long else "short", qty=abs(net),
                        entry_px=entry, mark_px=mark, quality=min(qualities) if qualities else None,
                        pair_id="+".join(sorted({p.pair_id for p in parts}))), cash


def _mean_entry(side: Sequence[Part]) -> Decimal:
    """Size-weighted mean entry of same-side parts, clamped to their lowest and highest."""
    entries = [p.entry for p in side]
    size = sum((abs(p.qty) for p in side), ZERO)
    mean = MONEY.divide(sum((MONEY.multiply(abs(p.qty), p.entry) for p in side), ZERO), size)
    return min(max(mean, min(entries)), max(entries))


@dataclass(slots=True)
class BookPosition:
    """A position inside a `MarginBook` (mutable working copy; `qty` signed: + long, − short)."""

    qty: Decimal
    entry: Decimal
    mark: Decimal
    asset: str
    quality: float | None
    pair_id: str | None
    maintenance: Decimal = ZERO
    upnl: Decimal = ZERO
    inverse: bool = False  # coin-margined: the notional is the fixed face |qty| × entry

    @property
    def notional(self) -> Decimal:
        """USD: `|qty| × mark` (linear), `|qty| × entry` (inverse: the contracts' face)."""
        return MONEY.multiply(abs(self.qty), self.entry if self.inverse else self.mark)


def _instrument(symbol: str, path: str) -> Instrument:
    try:
        return parse_symbol(symbol)
    except SymbolError as error:
        raise RiskInputError(path, str(error)) from None


def coin_margined(symbol: str) -> str | None:
    """The coin an inverse perp is margined and settled in (`BTC/USD:BTC` → BTC); None for a
    linear perp or spot (margined in USD stablecoins). Raises `RiskInputError` on a bad symbol."""
    instrument = _instrument(symbol, "symbol")
    return instrument.base if instrument.inverse else None


def collateral_for(symbol: str, usd: Decimal, mark: Decimal) -> tuple[str, Decimal, Decimal]:
    """(asset, balance, price) of `usd` brought to margin a perp leg in `symbol`: USDT at 1, or
    for an inverse perp `usd / mark` of its coin at `mark` (a COIN-M wallet holds the coin)."""
    coin = coin_margined(symbol)
    if coin is None:
        return STABLE, usd, ONE
    return coin, MONEY.divide(usd, mark), mark


def _positive(value: Decimal, path: str) -> Decimal:
    if not value > 0:
        raise RiskInputError(path, f"must be > 0, got {value}")
    return value


class MarginBook:
    """The account as a working copy: apply orders, read the metrics, roll back. Totals are
    kept incrementally, so checking one order costs O(1) plus its position."""

    def __init__(self, account: MarginAccount, margin: MarginConfig, venues: Mapping[str, VenueConfig]) -> None:
        tables = margin.venues.get(account.venue)
        venue = venues.get(account.venue)
        if tables is None or venue is None:
            raise RiskInputError("account.venue", f"no margin tables or venue config for {account.venue!r}; "
                                 f"known: {', '.join(sorted(set(margin.venues) & set(venues)))}")
        self.venue, self.margin, self.tables = account.venue, margin, tables
        self.min_qty, self.lot_size = venue.min_qty, venue.lot_size
        self.k = ONE + margin.shadow_buffer
        self.balances: dict[str, Decimal] = {}
        self.prices: dict[str, Decimal | None] = {}
        self.effective: dict[str, Decimal] = {}
        self.positions: dict[str, BookPosition] = {}
        self.ec = self.upnl = self.realised = self.tmm = self.gross = ZERO
        self.warnings: dict[tuple[str, str], Finding] = {}
        self._journal: list[Callable[[], None]] = []
        for i, item in enumerate(account.collateral):
            path = f"account.collateral[{i}]"
            if item.asset in self.balances:
                raise RiskInputError(f"{path}.asset", f"{item.asset} is listed twice")
            if item.balance < 0:
                raise RiskInputError(f"{path}.balance", f"negative balance {item.balance} (loans are not simulated)")
            price = None if item.price is None else _positive(item.price, f"{path}.price")
            self.prices[item.asset] = price
            self._set_balance(item.asset, item.balance)
        for i, p in enumerate(account.positions):
            self._add_position(p, f"account.positions[{i}]")
        self._journal.clear()

    # -- building blocks --------------------------------------------------------------

    def _warn(self, code: str, subject: str, detail: str) -> None:
        self.warnings.setdefault((code, subject), Finding(code=code, detail=detail, subject=subject))

    def _effective(self, asset: str, balance: Decimal) -> Decimal:
        price = self.prices.get(asset)
        if balance == 0:
            return ZERO
        if price is None:
            self._warn(reasons.MISSING_PRICE, asset, f"{asset} has no price: counted as 0")
            return ZERO
        value = MONEY.multiply(balance, price)
        if balance < 0:  # a coin owed after an inverse loss: the whole debt, no haircut
            return value
        tiers = self.tables.haircuts.get(asset) or self.tables.haircuts.get("*")
        if tiers is None:
            self._warn(reasons.UNKNOWN_HAIRCUT, asset, f"no haircut for {asset} on {self.venue}: counted as 0")
            return ZERO
        return value - tiered(tiers, "progressive", value)

    def _set_balance(self, asset: str, balance: Decimal) -> None:
        old_balance, old_effective = self.balances.get(asset), self.effective.get(asset, ZERO)
        effective = self._effective(asset, balance)
        self.balances[asset], self.effective[asset] = balance, effective
        self.ec += effective - old_effective

        def undo() -> None:
            if old_balance is None:
                del self.balances[asset], self.effective[asset]
            else:
                self.balances[asset], self.effective[asset] = old_balance, old_effective
            self.ec -= effective - old_effective

        self._journal.append(undo)

    def maintenance_table(self, asset: str) -> tuple[tuple[Tier, ...], str]:
        tiers = self.tables.maintenance.get(asset) or self.tables.maintenance.get("*")
        if tiers is None:
            self._warn(reasons.UNKNOWN_MAINTENANCE_TABLE, asset,
                       f"no maintenance tiers for {asset} on {self.venue}: the whole notional is due")
            return (Tier(floor=ZERO, rate=ONE),), "whole"
        return tiers, self.tables.maintenance_method

    def _set_position(self, symbol: str, new: BookPosition | None) -> None:
        if new is not None and is_dust(new.qty, self.min_qty):
            self._warn(reasons.DUST_POSITION, symbol, f"{symbol} {abs(new.qty)} is below min_qty {self.min_qty}: zero")
            new = None
        if new is not None:
            new.maintenance = tiered(*self.maintenance_table(new.asset), new.notional)
            new.upnl = MONEY.multiply(new.qty, new.mark - new.entry)
        old = self.positions.get(symbol)
        delta = [(new.maintenance if new else ZERO) - (old.maintenance if old else ZERO),
                 (new.upnl if new else ZERO) - (old.upnl if old else ZERO),
                 (new.notional if new else ZERO) - (old.notional if old else ZERO)]
        if new is None:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = new
        self.tmm, self.upnl, self.gross = self.tmm + delta[0], self.upnl + delta[1], self.gross + delta[2]

        def undo() -> None:
            if old is None:
                self.positions.pop(symbol, None)
            else:
                self.positions[symbol] = old
            self.tmm, self.upnl, self.gross = self.tmm - delta[0], self.upnl - delta[1], self.gross - delta[2]

        self._journal.append(undo)

    def _add_position(self, p: PerpPosition, path: str) -> None:
        if p.venue != self.venue:
            raise RiskInputError(f"{path}.venue", f"{p.venue} is not the account's venue {self.venue}")
        instrument = _instrument(p.symbol, f"{path}.symbol")
        if instrument.market != "perp":
            raise RiskInputError(f"{path}.symbol", f"{p.symbol} is not a perp")
        if p.symbol in self.positions:
            raise RiskInputError(f"{path}.symbol", f"{p.symbol} is listed twice (net mode: one position per symbol)")
        _positive(p.qty, f"{path}.qty")
        entry, mark = _positive(p.entry_px, f"{path}.entry_px"), _positive(p.mark_px, f"{path}.mark_px")
        qty = p.qty if p.side == "long" else -p.qty
        self._set_position(p.symbol, BookPosition(qty=qty, entry=entry, mark=mark, asset=instrument.base,
                                               quality=p.quality, pair_id=p.pair_id, inverse=instrument.inverse))

    # -- metrics --------------------------------------------------------------------------

    @property
    def adjusted_equity(self) -> Decimal:
        return self.ec + self.upnl + self.realised

    def health(self) -> Decimal:
        return health_of(self.adjusted_equity, self.tmm, self.margin.shadow_buffer)

    def margin_use(self) -> Decimal:
        return ratio_of(self.tmm, self.adjusted_equity)

    def leverage(self) -> Decimal:
        return ratio_of(self.gross, self.adjusted_equity)

    def checkpoint(self) -> int:
        return len(self._journal)

    def rollback(self, checkpoint: int) -> None:
        while len(self._journal) > checkpoint:
            self._journal.pop()()

    # -- orders ----------------------------------------------------------------------------

    def apply(self, order: ProposedOrder, path: str = "order") -> OrderOutcome:
        """Fill `order` in full at its px; refused orders (dust, not enough to sell or pay)
        leave the book unchanged. Invalid orders raise `RiskInputError`."""
        if order.venue != self.venue:
            raise RiskInputError(f"{path}.venue", f"{order.venue} is not the account's venue {self.venue}")
        instrument = _instrument(order.symbol, f"{path}.symbol")
        qty, px = _positive(order.qty, f"{path}.qty"), _positive(order.px, f"{path}.px")
        if is_dust(qty, self.min_qty):
            return self._outcome(order, False, "none", reasons.BELOW_MIN_SIZE,
                                 f"qty {qty} is below the venue's min_qty {self.min_qty}")
        before = self.health()
        if instrument.market == "spot":
            refusal = self._spot(instrument, order.side, qty, px)
            if refusal is not None:
                return self._outcome(order, False, "none", reasons.INSUFFICIENT_COLLATERAL, refusal)
            return self._outcome(order, True, "entry" if self.health() < before else "reduce")
        signed = qty if order.side == "buy" else -qty
        held = self.positions.get(order.symbol)
        if held is None:
            self._set_position(order.symbol, BookPosition(qty=signed, entry=px, mark=px, asset=instrument.base,
                                                       quality=order.quality, pair_id=order.pair_id,
                                                       inverse=instrument.inverse))
            return self._outcome(order, True, "entry")
        return self._outcome(order, True, self._trade_perp(order.symbol, held, signed, px))

    def _spot(self, instrument: Instrument, side: str, qty: Decimal, px: Decimal) -> str | None:
        base, quote = instrument.base, instrument.quote
        cost = MONEY.multiply(qty, px)
        if self.prices.get(quote) is None:
            return f"{quote} has no price: the trade cannot be valued"
        if side == "buy" and self.balances.get(quote, ZERO) < cost:
            return f"buying {qty} {base} needs {cost} {quote}, the account holds {self.balances.get(quote, ZERO)}"
        if side == "sell" and self.balances.get(base, ZERO) < qty:
            return f"selling {qty} {base}, the account holds {self.balances.get(base, ZERO)} (no short spot)"
        if self.prices.get(base) is None:
            old_price = self.prices.get(base)
            self.prices[base] = px  # an asset bought without a quoted price is valued at the fill

            def undo() -> None:
                self.prices[base] = old_price

            self._journal.append(undo)
            if base in self.balances:
                self._set_balance(base, self.balances[base])
        sign = ONE if side == "buy" else -ONE
        self._set_balance(base, self.balances.get(base, ZERO) + sign * qty)
        self._set_balance(quote, self.balances.get(quote, ZERO) - sign * cost)
        return None

    def _trade_perp(self, symbol: str, held: BookPosition, signed: Decimal, px: Decimal) -> Effect:
        new_qty = held.qty + signed
        if held.qty * signed > 0:  # growing: the entry price becomes the size-weighted mean
            entry = MONEY.divide(MONEY.multiply(abs(held.qty), held.entry) + MONEY.multiply(abs(signed), px),
                                 abs(new_qty))
            self._set_position(symbol, replace(held, qty=new_qty, entry=entry))
            return "entry"
        closed = min(abs(signed), abs(held.qty))
        pnl = MONEY.multiply(closed, px - held.entry) * (1 if held.qty > 0 else -1)
        if held.inverse:
            self._settle_coin(held.asset, MONEY.divide(pnl, px), px)
        else:
            self.realised += pnl

            def undo() -> None:
                self.realised -= pnl

            self._journal.append(undo)
        if new_qty == 0:
            self._set_position(symbol, None)
            return "reduce"
        if new_qty * held.qty > 0:
            self._set_position(symbol, replace(held, qty=new_qty))
            return "reduce"
        self._set_position(symbol, replace(held, qty=new_qty, entry=px))  # flipped: the rest opens at px
        return "entry"

    def _settle_coin(self, asset: str, coin: Decimal, px: Decimal) -> None:
        """Credit an inverse perp's realised PnL, `coin` = closed × (px − entry) / px =
        closed face × (1/entry − 1/px), to the coin's balance (valued at `px` if unpriced)."""
        if self.prices.get(asset) is None:
            old_price = self.prices.get(asset)
            self.prices[asset] = px

            def undo() -> None:
                self.prices[asset] = old_price

            self._journal.append(undo)
        self._set_balance(asset, MONEY.add(self.balances.get(asset, ZERO), coin))

    def _outcome(self, order: ProposedOrder, applied: bool, effect: Effect,
                 reason: str | None = None, detail: str | None = None) -> OrderOutcome:
        return OrderOutcome(order_id=order.order_id, applied=applied, effect=effect, reason=reason, detail=detail,
                            health=shown_health(self.health()), margin_use=shown_ratio(self.margin_use()),
                            leverage=shown_ratio(self.leverage()))

    # -- the full picture ------------------------------------------------------------------

    def state(self) -> MarginState:
        """Every number, liquidation moves and breaches included (O(positions × tiers))."""
        by_asset: dict[str, list[str]] = {}
        for symbol, held in sorted(self.positions.items()):
            by_asset.setdefault(held.asset, []).append(symbol)
        asset_moves = {asset: self._liquidation_move(symbols, [asset]) for asset, symbols in by_asset.items()
                       if len(symbols) > 1 or self.balances.get(asset, ZERO) > 0}  # else: the position's own
        positions = tuple(self._position_risk(symbol, held, asset_moves)
                          for symbol, held in sorted(self.positions.items()))
        health, use, leverage = self.health(), self.margin_use(), self.leverage()
        m = self.margin
        breaches = []
        if self.tmm > 0 and self.adjusted_equity <= 0:
            breaches.append(Finding(code=reasons.EQUITY_NON_POSITIVE, detail="adjusted equity <= 0 with margin due",
                                    value=self.adjusted_equity, threshold=ZERO))
        if health < m.critical_health:
            breaches.append(Finding(code=reasons.HEALTH_CRITICAL, detail="health below the critical level",
                                    value=health, threshold=m.critical_health))
        elif health < m.entry_min_health:
            breaches.append(Finding(code=reasons.HEALTH_BELOW_ENTRY_MIN, detail="health below the entry minimum",
                                    value=health, threshold=m.entry_min_health))
        if use > m.max_margin_use:
            breaches.append(Finding(code=reasons.MARGIN_USE_TOO_HIGH, detail="margin use above the limit",
                                    value=use, threshold=m.max_margin_use))
        if leverage > m.max_leverage:
            breaches.append(Finding(code=reasons.LEVERAGE_CAP_EXCEEDED, detail="leverage above the cap",
                                    value=leverage, threshold=m.max_leverage))
        for p in positions:
            if p.liquidation_move is not None and abs(p.liquidation_move) < m.min_liquidation_distance:
                breaches.append(Finding(code=reasons.LIQUIDATION_TOO_CLOSE, subject=p.symbol,
                                        detail=f"health reaches 0 at a {p.liquidation_move:.2%} move of {p.symbol}",
                                        value=abs(p.liquidation_move), threshold=m.min_liquidation_distance))
        collateral = tuple(CollateralValue(asset=a, balance=b, price=(price := self.prices.get(a)),
                                           value=ZERO if price is None else MONEY.multiply(b, price),
                                           effective=self.effective[a]) for a, b in sorted(self.balances.items()))
        return MarginState(
            venue=self.venue, effective_collateral=self.ec, unrealised_pnl=self.upnl, realised_pnl=self.realised,
            adjusted_equity=self.adjusted_equity, maintenance=self.tmm,
            health=shown_health(health), margin_use=shown_ratio(use), leverage=shown_ratio(leverage),
            collateral=collateral, positions=positions, warnings=tuple(self.warnings.values()),
            breaches=tuple(breaches))

    def _position_risk(self, symbol: str, p: BookPosition, asset_moves: dict[str, Decimal | None]) -> PositionRisk:
        exact = self._liquidation_move([symbol], [])
        move, asset_move = _toward_zero(exact), asset_moves.get(p.asset, exact)
        return PositionRisk(
            symbol=symbol, asset=p.asset, side="long" if p.qty > 0 else "short", qty=abs(p.qty), entry_px=p.entry,
            mark_px=p.mark, notional=p.notional, maintenance=p.maintenance,
            unrealised_pnl=p.upnl, liquidation_move=move,
            liquidation_px=None if move is None else MONEY.multiply(p.mark, ONE + move).quantize(_SHOWN),
            asset_liquidation_move=_toward_zero(asset_move),
            quality=p.quality, pair_id=p.pair_id)

    def _liquidation_move(self, symbols: Sequence[str], assets: Sequence[str]) -> Decimal | None:
        """The move of the given positions' marks and assets' prices, together, that takes
        health to 0 (`margin_tiers.nearest_root`); everything else stays fixed."""
        movers = []
        fixed = self.adjusted_equity - self.k * self.tmm
        for symbol in symbols:
            p = self.positions[symbol]
            if p.inverse:  # fixed USD maintenance (stays in `fixed`); only the PnL moves: q·m·x
                movers.append(Mover(base=p.notional, tiers=_NO_TIERS, method="progressive",
                                    pnl_slope=MONEY.multiply(p.qty, p.mark), is_position=True))
                continue
            tiers, method = self.maintenance_table(p.asset)
            movers.append(Mover(base=MONEY.multiply(abs(p.qty), p.mark), tiers=tiers, method=method,
                                pnl_slope=MONEY.multiply(p.qty, p.mark), is_position=True))
            fixed += self.k * p.maintenance
        for asset in assets:
            price, balance = self.prices.get(asset), self.balances.get(asset, ZERO)
            tiers_or_none = self.tables.haircuts.get(asset) or self.tables.haircuts.get("*")
            if price is None or tiers_or_none is None or balance <= 0:
                continue  # counted as 0 (or absent): does not move
            movers.append(Mover(base=MONEY.multiply(balance, price), tiers=tiers_or_none, method="progressive",
                                pnl_slope=ZERO, is_position=False))
            fixed -= self.effective[asset]
        return nearest_root(fixed, movers, self.k)


def simulate(account: MarginAccount, orders: Sequence[ProposedOrder], margin: MarginConfig,
             venues: Mapping[str, VenueConfig]) -> Projection:
    """The account now and after every proposed order filled in turn (none refused for
    risk: that is `risk_gates.gate_orders`). Raises `RiskInputError` on invalid input."""
    book = MarginBook(account, margin, venues)
    before = book.state()
    ids: set[str] = set()
    outcomes = []
    for i, order in enumerate(orders):
        if order.order_id in ids:
            raise RiskInputError(f"orders[{i}].order_id", f"{order.order_id!r} is used twice")
        ids.add(order.order_id)
        outcomes.append(book.apply(order, f"orders[{i}]"))
    return Projection(before=before, after=book.state(), orders=tuple(outcomes))
