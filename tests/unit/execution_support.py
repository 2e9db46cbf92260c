"""Builders for the execution tests: two perp venues with round fees, books, prints,
opportunities, and a driver that feeds records to the execution step and keeps every
output (tests only; not a fixture module of its own)."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arbflow.model.config import AllocationConfig, Config, FeeSchedule, StrategyConfig, UniverseConfig, VenueConfig
from arbflow.model.desk_config import DeskConfig, TradeMode, desk_config
from arbflow.model.execution import Fill, Order, OrderIntent, PairTrade
from arbflow.model.market import ClockTick, FundingRate, MarketTrade, OrderBook, Ticker
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.model.signals import ConfluenceComponents, Opportunity
from arbflow.operators.execution import engine as execution
from arbflow.operators.execution.venue_events import VenueEvent

D = Decimal
PERP = "BTC/USDT:USDT"
T0 = 1_723_161_600_000  # 2024-08-09 00:00:00 UTC


def venue(rank: int, maker: str = "2", taker: str = "5") -> VenueConfig:
    return VenueConfig(kind="cex", liquidity_rank=rank, perp=FeeSchedule(maker_bps=D(maker), taker_bps=D(taker)),
                       tick_size=D("0.1"), lot_size=D("0.001"), min_qty=D("0.001"))


# okx (rank 9) is harder than binance (rank 11): in "long okx, short binance" the long leg goes first.
VENUES = {"okx": venue(9), "binance": venue(11)}


# The carry rule these hand-worked tests use (not the defaults, which were chosen on 2023's data
# and may move): entry margin 5 bps, exit at or below 0, μ̂ over 21 settlements.
WORKED_RULE = StrategyConfig(entry_margin_bps=D(5), exit_carry_8h=D(0), carry_window_intervals=21)


def settings(mode: TradeMode = "paper", **sections: Any) -> DeskConfig:
    """The desk of these tests, from the flows' own builder: BTC alone in the universe (so the
    desk trades the whole $20,000), VENUES, no portfolio controller, WORKED_RULE; `sections`
    replace parts of the configuration (`execution=…`, `margin=…`, `allocation=…`, `venues=…`)."""
    config: dict[str, Any] = {"universe": UniverseConfig(assets=("BTC",)), "venues": VENUES,
                              "allocation": AllocationConfig(desk_controller=False), "strategy": WORKED_RULE,
                              **sections}
    return desk_config(Config(**config), mode)


def book(venue_name: str, bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]], ts: int) -> OrderBook:
    return OrderBook(venue=venue_name, symbol=PERP, market="perp", bids=tuple((D(p), D(q)) for p, q in bids),
                     asks=tuple((D(p), D(q)) for p, q in asks), depth=20, ts_local=ts)


def trade(venue_name: str, side: str, px: str, qty: str, ts: int, n: int = 0) -> MarketTrade:
    return MarketTrade(venue=venue_name, symbol=PERP, market="perp", px=D(px), qty=D(qty), side=side,  # type: ignore[arg-type]
                       trade_id=f"{ts}-{n}", ts_local=ts)


def mark(venue_name: str, bid: str, ask: str, mark_px: str, ts: int) -> Ticker:
    return Ticker(venue=venue_name, symbol=PERP, market="perp", bid=D(bid), ask=D(ask), bid_qty=D(1), ask_qty=D(1),
                  mark=D(mark_px), ts_local=ts)


def funding(venue_name: str, rate: str, next_funding_time: int, ts: int) -> FundingRate:
    return FundingRate(venue=venue_name, symbol=PERP, market="perp", rate=D(rate), interval_ms=8 * 3_600_000,
                       next_funding_time=next_funding_time, ts_local=ts)


def opportunity(ts: int, *, long: str = "okx", short: str = "binance", spread: str = "28", fees: str = "14",
                carry: str = "0.0001", notional: str = "6000", score: int = 80, accepted: bool = True,
                holding: int | None = 3) -> Opportunity:
    """An accepted opportunity as the scanner emits it; `holding` = its H in 8 h intervals."""
    return Opportunity(
        opportunity_id=f"BTC:{long}:{PERP}>{short}:{PERP}@{ts}", asset="BTC", long_venue=long, long_symbol=PERP,
        long_market="perp", short_venue=short, short_symbol=PERP, short_market="perp", long_px=D(60001),
        short_px=D(60150), entry_spread_bps=D(spread), close_spread_bps=D(40), carry_8h=D(carry), slippage_bps=D(0),
        fees_bps=D(fees), notional=D(notional), projected_profit=D(8), holding_intervals=holding,
        depth_long=D(10**6), depth_short=D(10**6),
        score=score, components=ConfluenceComponents(), accepted=accepted, ts=ts)


@dataclass
class Driver:
    """Feeds records to one execution state and keeps every output record."""

    settings: DeskConfig
    state: execution.ExecutionState = field(init=False)
    out: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = execution.new_state(self.settings)

    def feed(self, *records: Any) -> list[Any]:
        produced: list[Any] = []
        for record in records:
            _, records_out = execution.update(self.state, record, self.settings)
            produced += records_out
        self.out += produced
        return produced

    def tick(self, ts: int) -> list[Any]:
        return self.feed(ClockTick(ts=ts))

    def of(self, kind: type, produced: list[Any] | None = None) -> list[Any]:
        return [r for r in (self.out if produced is None else produced) if type(r) is kind]

    def intents(self, produced: list[Any] | None = None) -> list[OrderIntent]:
        return self.of(OrderIntent, produced)

    def fills(self, produced: list[Any] | None = None) -> list[Fill]:
        return self.of(Fill, produced)

    def orders(self, produced: list[Any] | None = None) -> list[Order]:
        return self.of(Order, produced)

    def trades(self, produced: list[Any] | None = None) -> list[PairTrade]:
        return self.of(PairTrade, produced)

    def portfolio(self) -> PortfolioState:
        return self.of(PortfolioState)[-1]

    def alerts(self, produced: list[Any] | None = None) -> list[Alert]:
        return self.of(Alert, produced)

    def denied(self, produced: list[Any] | None = None) -> list[execution.EntryDenied]:
        return self.of(execution.EntryDenied, produced)


SYMBOL_OF_EVENTS = "BTC/USDT:USDT"  # the desk matches events by client id; the symbol only keys them


def ack(client_order_id: str, venue_name: str, ts: int) -> VenueEvent:
    return VenueEvent(kind="accepted", client_order_id=client_order_id, venue=venue_name, symbol=SYMBOL_OF_EVENTS,
                      ts=ts)


def fill(client_order_id: str, venue_name: str, px: str, qty: str, fee: str, ts: int, n: int = 1,
         liquidity: str = "taker") -> VenueEvent:
    return VenueEvent(kind="fill", client_order_id=client_order_id, venue=venue_name, symbol=SYMBOL_OF_EVENTS, ts=ts,
                      fill_id=f"{client_order_id}#{n}", px=D(px), qty=D(qty), fee=D(fee), fee_currency="USDT",
                      liquidity=liquidity)  # type: ignore[arg-type]


def done(kind: str, client_order_id: str, venue_name: str, ts: int, reason: str = "VENUE") -> VenueEvent:
    return VenueEvent(kind=kind, client_order_id=client_order_id, venue=venue_name,  # type: ignore[arg-type]
                      symbol=SYMBOL_OF_EVENTS, ts=ts, reason=reason)
