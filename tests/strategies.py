"""Hypothesis strategies for arbflow records.

Money is `Decimal` with a fixed number of places and never NaN/infinity; timestamps are
integer milliseconds inside the plausible range of `model.timestamps`; symbols come from
a small set of canonical ones and venues from the default config. Every strategy builds
records that `model.validation.parse_record` accepts under the default universe
(`Universe.from_config(parse_config({}, {}))`), so a test can start from a valid record
and break exactly one thing.
"""

import string
from decimal import ROUND_DOWN, Decimal
from typing import Any

from hypothesis import strategies as st

from arbflow.model import reasons
from arbflow.model.config import DEFAULT_VENUES
from arbflow.model.execution import Fill, LegOut, Order, OrderIntent, PairTrade, VenueEvent
from arbflow.model.market import (
    Candle,
    ClockTick,
    FundingRate,
    Liquidation,
    MarketTrade,
    OpenInterest,
    OrderBook,
    Ticker,
)
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.model.rejected import Rejected
from arbflow.model.signals import BasisPoint, ConfluenceComponents, LatencyReading, Opportunity
from arbflow.model.timestamps import MS_MAX, MS_MIN
from arbflow.model.topics import RECORD_TYPES

# -- scalars ----------------------------------------------------------------------------

PLACES = 8  # satoshi-style precision of venue prices and sizes


def decimals(min_value: str, max_value: str, places: int = PLACES) -> st.SearchStrategy[Decimal]:
    """Finite Decimals with exactly `places` fractional digits in [min_value, max_value]."""
    return st.decimals(min_value=Decimal(min_value), max_value=Decimal(max_value), places=places,
                       allow_nan=False, allow_infinity=False)


prices = decimals("0.00000001", "10000000")
"""Strictly positive prices."""
sizes = decimals("0", "1000000")
"""Non-negative quantities in base units."""
positive_sizes = decimals("0.00000001", "1000000")
"""Strictly positive quantities (trade and liquidation prints)."""
signed_money = decimals("-1000000000", "1000000000")
"""PnL, fees, costs: any sign."""
bps = decimals("-10000", "10000", places=4)
"""Basis points with 4 places."""
fractions = decimals("-1", "1", places=10)
"""Basis, carry and similar fractions."""
funding_rates = decimals("-0.03", "0.03", places=8)
"""8 h funding rates within the plausible cap (±3 % per 8 h, `plausibility.max_funding_rate_8h`)."""


def funding_rates_for(interval_ms: int) -> st.SearchStrategy[Decimal]:
    """Rates per `interval_ms` within the cap scaled to the interval (3 % × interval / 8 h)."""
    limit = (Decimal("0.03") * interval_ms / 28_800_000).quantize(Decimal(1).scaleb(-PLACES), rounding=ROUND_DOWN)
    return decimals(str(-limit), str(limit))

timestamps_ms = st.integers(min_value=MS_MIN, max_value=MS_MAX - 1)
"""Integer milliseconds UTC in 2000-01-01 .. 2100-01-01."""
optional_timestamps_ms = st.none() | timestamps_ms

identifiers = st.text(alphabet=string.ascii_letters + string.digits + "_-:", min_size=1, max_size=24)
"""Order, trade and fill ids."""
free_text = st.text(max_size=40)
"""Human text: any Unicode (no surrogates), empty allowed."""
codes = st.sampled_from(reasons.ALL_REASONS)
"""UPPER_SNAKE reason codes."""
sides = st.sampled_from(["buy", "sell"])
markets = st.sampled_from(["spot", "perp"])
unit_floats = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


# -- instruments ------------------------------------------------------------------------

VENUES = tuple(DEFAULT_VENUES)
"""The seed venues (binance … paradex) and the data venues htx, mexc, dydx."""
SPOT_VENUES = tuple(name for name, venue in DEFAULT_VENUES.items() if venue.spot is not None)
SPOT_SYMBOLS = ("BTC/USDT", "ETH/USDT")
PERP_SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")
SYMBOLS = SPOT_SYMBOLS + PERP_SYMBOLS
ASSETS = ("BTC", "ETH")

venues = st.sampled_from(VENUES)
symbols = st.sampled_from(SYMBOLS)
assets = st.sampled_from(ASSETS)


@st.composite
def instruments(draw: st.DrawFn, market: str | None = None) -> tuple[str, str, str]:
    """(venue, symbol, market) with the market matching the symbol; spot only on venues
    that have a spot market."""
    market = market or draw(markets)
    if market == "spot":
        return draw(st.sampled_from(SPOT_VENUES)), draw(st.sampled_from(SPOT_SYMBOLS)), "spot"
    return draw(venues), draw(st.sampled_from(PERP_SYMBOLS)), "perp"


# -- market data ------------------------------------------------------------------------


@st.composite
def tickers(draw: st.DrawFn) -> Ticker:
    venue, symbol, market = draw(instruments())
    bid = draw(prices)
    ask = bid + draw(prices)  # 0 < bid < ask
    return draw(st.builds(
        Ticker,
        venue=st.just(venue), symbol=st.just(symbol), market=st.just(market),
        bid=st.just(bid), ask=st.just(ask), bid_qty=sizes, ask_qty=sizes,
        last=optional(prices), mark=optional(prices), index=optional(prices),
        ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
    ))


TICK_SIZES = (Decimal("0.00001"), Decimal("0.01"), Decimal("0.5"), Decimal("1"))
MAX_LEVELS = 20


@st.composite
def order_books(draw: st.DrawFn) -> OrderBook:
    """Bids strictly descending, asks strictly ascending, best bid < best ask, depth >=
    the number of levels on each side (a side may be empty)."""
    venue, symbol, market = draw(instruments())
    tick = draw(st.sampled_from(TICK_SIZES))
    depth = draw(st.integers(min_value=1, max_value=MAX_LEVELS))
    best_bid = draw(st.integers(min_value=MAX_LEVELS * 100 + 1, max_value=10**7))
    gaps = st.lists(st.integers(min_value=1, max_value=100), max_size=depth)
    bid_ticks, level = [], best_bid
    for gap in [0, *draw(gaps)][: draw(st.integers(0, depth))]:
        level -= gap
        bid_ticks.append(level)
    ask_ticks, level = [], best_bid + draw(st.integers(min_value=1, max_value=100))
    for gap in [0, *draw(gaps)][: draw(st.integers(0, depth))]:
        level += gap
        ask_ticks.append(level)
    bids = tuple((t * tick, draw(sizes)) for t in bid_ticks)
    asks = tuple((t * tick, draw(sizes)) for t in ask_ticks)
    return draw(st.builds(
        OrderBook,
        venue=st.just(venue), symbol=st.just(symbol), market=st.just(market),
        bids=st.just(bids), asks=st.just(asks), depth=st.just(depth),
        seq=optional(st.integers(min_value=0, max_value=2**63 - 1)),
        ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
    ))


def _with_instrument(cls: type, market: str | None = None, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return instruments(market).flatmap(lambda vsm: st.builds(
        cls, venue=st.just(vsm[0]), symbol=st.just(vsm[1]), market=st.just(vsm[2]), **fields))


market_trades = _with_instrument(
    MarketTrade, px=prices, qty=positive_sizes, side=sides, trade_id=identifiers,
    ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
)

perp_funding_rates = (st.sampled_from([3_600_000, 4 * 3_600_000, 8 * 3_600_000])
                      | st.integers(min_value=60_000, max_value=86_400_000)).flatmap(
    lambda interval_ms: _with_instrument(
        FundingRate, "perp",
        rate=funding_rates_for(interval_ms), predicted_rate=optional(funding_rates_for(interval_ms)),
        interval_ms=st.just(interval_ms),
        next_funding_time=timestamps_ms, ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms))
spot_funding_rates = _with_instrument(
    FundingRate, "spot",
    # the spot sentinel (docs/architecture.md §3.2): rate 0, interval 0, next_funding_time 0, no prediction
    rate=st.sampled_from([Decimal("0"), Decimal("0E-8")]), predicted_rate=st.none(),
    interval_ms=st.just(0), next_funding_time=st.just(0),
    ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
)
funding_rates_records = perp_funding_rates | spot_funding_rates

open_interests = _with_instrument(
    OpenInterest, open_interest=sizes, value=optional(sizes),
    ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
)
liquidations = _with_instrument(
    Liquidation, px=prices, qty=positive_sizes, side=sides,
    ts_exchange=optional_timestamps_ms, ts_local=timestamps_ms,
)
clock_ticks = st.builds(ClockTick, ts=timestamps_ms)

CANDLE_INTERVALS_MS = (60_000, 3_600_000, 8 * 3_600_000, 86_400_000)


@st.composite
def candles(draw: st.DrawFn) -> Candle:
    """0 < low <= min(open, close), high >= max(open, close), ts_close = ts_open +
    interval_ms, ts_local >= ts_close (a bar is published once it has closed)."""
    venue, symbol, market = draw(instruments())
    low = draw(prices)
    open_, close = low + draw(sizes), low + draw(sizes)
    high = max(open_, close) + draw(sizes)
    interval_ms = draw(st.sampled_from(CANDLE_INTERVALS_MS))
    lag_ms = draw(st.integers(min_value=0, max_value=60_000))
    ts_open = draw(st.integers(min_value=MS_MIN, max_value=MS_MAX - 1 - interval_ms - lag_ms))
    return Candle(venue=venue, symbol=symbol, market=market, interval_ms=interval_ms, open=open_, high=high,
                  low=low, close=close, volume=draw(sizes), ts_open=ts_open, ts_close=ts_open + interval_ms,
                  ts_local=ts_open + interval_ms + lag_ms)

# -- signals ----------------------------------------------------------------------------

basis_points = st.builds(
    BasisPoint,
    asset=assets, venue=venues, spot_symbol=st.sampled_from(SPOT_SYMBOLS),
    perp_symbol=st.sampled_from(PERP_SYMBOLS), spot_mid=prices, perp_mid=prices,
    basis=fractions, basis_bps=bps, ts=timestamps_ms,
)
latency_readings = st.builds(
    LatencyReading,
    venue=venues, asset=assets, raw_mean_ms=st.floats(-5_000, 5_000), corrected_mean_ms=st.floats(0, 5_000),
    offset_ms=st.floats(-5_000, 5_000), offset_source=st.sampled_from(["poll", "min"]),
    samples=st.integers(1, 100_000), stale=st.booleans(), ts=timestamps_ms,
)
confluence_components = st.builds(
    ConfluenceComponents,
    funding=optional(unit_floats), imbalance=optional(unit_floats), open_interest=optional(unit_floats),
    vwap=optional(unit_floats), volatility=optional(unit_floats), liquidations=optional(unit_floats),
)

def _opportunity(long: tuple[str, str, str], short: tuple[str, str, str]) -> st.SearchStrategy[Opportunity]:
    return st.builds(
        Opportunity,
        opportunity_id=identifiers, asset=assets,
        long_venue=st.just(long[0]), long_symbol=st.just(long[1]), long_market=st.just(long[2]),
        short_venue=st.just(short[0]), short_symbol=st.just(short[1]), short_market=st.just(short[2]),
        long_px=prices, short_px=prices, entry_spread_bps=bps, close_spread_bps=bps,
        carry_8h=optional(fractions), carry_apr=optional(fractions), basis=optional(fractions),
        slippage_bps=bps, fees_bps=bps, notional=sizes, projected_profit=signed_money,
        depth_long=sizes, depth_short=sizes, score=st.integers(min_value=0, max_value=100),
        components=confluence_components, flags=st.lists(free_text, max_size=4).map(tuple),
        accepted=st.booleans(), reason=optional(codes), detail=optional(free_text), ts=timestamps_ms,
    )


opportunities = st.tuples(instruments(), instruments(market="perp")).flatmap(lambda legs: _opportunity(*legs))

# -- execution --------------------------------------------------------------------------

order_types = st.sampled_from(["limit", "market", "ioc"])

order_intents = st.builds(
    OrderIntent,
    intent_id=identifiers, trade_id=identifiers,
    kind=st.sampled_from(["entry", "exit", "hedge", "unwind", "cancel", "rebalance"]),
    venue=venues, symbol=symbols, side=sides, qty=sizes, order_type=order_types,
    limit_px=optional(prices), priority=st.integers(min_value=0, max_value=2), reason=free_text,
    ts=timestamps_ms,
)
orders = st.builds(
    Order,
    client_order_id=identifiers, venue_client_id=identifiers, trade_id=identifiers,
    venue=venues, symbol=symbols, side=sides, order_type=order_types, qty=sizes,
    limit_px=optional(prices),
    status=st.sampled_from(["new", "open", "partially_filled", "filled", "canceled", "rejected"]),
    filled_qty=sizes, avg_px=optional(prices), reason=optional(codes), ts=timestamps_ms,
)
fills = st.builds(
    Fill,
    fill_id=identifiers, client_order_id=identifiers, trade_id=identifiers, venue=venues,
    symbol=symbols, side=sides, px=prices, qty=sizes, fee=signed_money,
    fee_currency=st.sampled_from(["USDT", "USDC", "BNB", "BTC"]),
    liquidity=st.sampled_from(["maker", "taker"]), ts=timestamps_ms,
)
venue_events = st.builds(
    VenueEvent,
    kind=st.sampled_from(["accepted", "fill", "canceled", "rejected"]), client_order_id=identifiers, venue=venues,
    symbol=symbols, ts=timestamps_ms, fill_id=optional(identifiers), px=optional(prices), qty=sizes, fee=signed_money,
    fee_currency=st.sampled_from(["", "USDT", "BNB"]), liquidity=optional(st.sampled_from(["maker", "taker"])),
    reason=optional(codes),
)
leg_outs = st.builds(
    LegOut,
    filled_leg=st.sampled_from(["long", "short"]), ts_filled=timestamps_ms,
    hedge_px=optional(prices), hedge_qty=sizes, cost=signed_money,
)
pair_trades = st.builds(
    PairTrade,
    trade_id=identifiers, asset=assets,
    long_venue=venues, long_symbol=symbols, short_venue=venues, short_symbol=symbols,
    status=st.sampled_from(["pending", "active", "exiting", "closed", "rejected"]),
    notional=sizes, qty=sizes,
    entry_long_px=optional(prices), entry_short_px=optional(prices), entry_spread_bps=optional(bps),
    projected_profit=signed_money,
    exit_long_px=optional(prices), exit_short_px=optional(prices),
    basis_pnl=signed_money, funding_pnl=signed_money, fees=signed_money, slippage=signed_money,
    realised_pnl=signed_money, leg_outs=st.lists(leg_outs, max_size=3).map(tuple),
    leg_out_cost=signed_money, exit_reason=optional(codes),
    ts_entry=timestamps_ms, ts_exit=optional_timestamps_ms, ts=timestamps_ms,
)

# -- portfolio --------------------------------------------------------------------------

counts = st.integers(min_value=0, max_value=10_000)

portfolio_states = st.builds(
    PortfolioState,
    starting_capital=sizes, available=signed_money, open_notional=sizes, realised_pnl=signed_money,
    unrealised_pnl=signed_money, cumulative_pnl=signed_money, open_positions=counts,
    closed_trades=counts, win_count=counts, loss_count=counts, leg_out_count=counts,
    leg_out_loss=signed_money, margin_health=optional(decimals("-10", "10")),
    liquidation_distance=optional(decimals("0", "10")), asset=optional(assets),
    ts=timestamps_ms,
)
alerts = st.builds(
    Alert,
    code=codes, severity=st.sampled_from(["info", "warning", "critical"]), message=free_text,
    venue=optional(venues), asset=optional(assets), value=optional(signed_money), ts=timestamps_ms,
)

# -- dead letters -----------------------------------------------------------------------

rejecteds = st.builds(
    Rejected,
    reason=codes, detail=free_text,
    source=st.sampled_from([*RECORD_TYPES, "replay.jsonl:12"]),
    raw=st.text(max_size=200), raw_truncated=st.booleans(),
    ts=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1),
)

# -- by type and topic ------------------------------------------------------------------

RECORDS: dict[type, st.SearchStrategy[Any]] = {
    Ticker: tickers(),
    OrderBook: order_books(),
    MarketTrade: market_trades,
    FundingRate: funding_rates_records,
    OpenInterest: open_interests,
    Liquidation: liquidations,
    Candle: candles(),
    ClockTick: clock_ticks,
    BasisPoint: basis_points,
    LatencyReading: latency_readings,
    Opportunity: opportunities,
    OrderIntent: order_intents,
    Order: orders,
    Fill: fills,
    PairTrade: pair_trades,
    VenueEvent: venue_events,
    PortfolioState: portfolio_states,
    Alert: alerts,
    Rejected: rejecteds,
}
"""A strategy of valid instances for every record class of `RECORD_TYPES` plus Rejected."""

missing = set(RECORD_TYPES.values()) - set(RECORDS)
assert not missing, f"tests/strategies.py has no strategy for {sorted(c.__name__ for c in missing)}"
del missing
