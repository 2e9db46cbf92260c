"""model/builders.py: a positional builder gives exactly the record the dataclass's own
`__init__` gives (equal, same type, same hash, same wire form), and refuses classes it
cannot build safely."""

from dataclasses import FrozenInstanceError, dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model import codec
from arbflow.model.builders import positional
from arbflow.model.market import MarketTrade, OrderBook, Ticker

D = Decimal
TICKER = positional(Ticker, ("venue", "symbol", "market", "bid", "ask", "bid_qty", "ask_qty", "ts_exchange",
                             "ts_local"))
TRADE = positional(MarketTrade, ("venue", "symbol", "market", "px", "qty", "side", "trade_id", "ts_exchange",
                                 "ts_local"))
BOOK = positional(OrderBook, ("venue", "symbol", "market", "bids", "asks", "depth", "seq", "ts_exchange",
                              "ts_local"))
MONEY = st.decimals(min_value=D("0.00000001"), max_value=D(10**9), places=8)
TS = st.integers(0, 2**62)


@settings(max_examples=200, deadline=None, database=None)
@given(bid=MONEY, ask=MONEY, bid_qty=MONEY, ask_qty=MONEY, ts_exchange=st.none() | TS, ts_local=TS)
def test_a_built_ticker_is_the_ticker_init_gives(bid: D, ask: D, bid_qty: D, ask_qty: D, ts_exchange: int | None,
                                                 ts_local: int) -> None:
    built = TICKER("binance", "BTC/USDT", "spot", bid, ask, bid_qty, ask_qty, ts_exchange, ts_local)
    made = Ticker(venue="binance", symbol="BTC/USDT", market="spot", bid=bid, ask=ask, bid_qty=bid_qty,
                  ask_qty=ask_qty, ts_exchange=ts_exchange, ts_local=ts_local)
    assert type(built) is Ticker and built == made and hash(built) == hash(made) and repr(built) == repr(made)
    assert codec.encode(built) == codec.encode(made)


def test_built_trades_and_books_equal_their_init_and_stay_frozen() -> None:
    trade = TRADE("binance", "BTC/USDT", "spot", D("61837.63"), D("0.02"), "sell", "3735683259", None, 7)
    assert trade == MarketTrade(venue="binance", symbol="BTC/USDT", market="spot", px=D("61837.63"), qty=D("0.02"),
                                side="sell", trade_id="3735683259", ts_local=7)
    levels = ((D(100), D(1)),), ((D(101), D(2)),)
    book = BOOK("binance", "BTC/USDT", "spot", *levels, 20, 5, 6, 7)
    assert book == OrderBook(venue="binance", symbol="BTC/USDT", market="spot", bids=levels[0], asks=levels[1],
                             depth=20, seq=5, ts_exchange=6, ts_local=7)
    assert book.schema_version == 1
    with pytest.raises(FrozenInstanceError):
        book.depth = 5  # type: ignore[misc]


def test_classes_a_builder_cannot_build_safely_are_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            assert self.x > 0

    @dataclass(frozen=True, slots=True)
    class Listy:
        x: int
        xs: list[int] = field(default_factory=list)

    @dataclass(frozen=True)
    class NoSlots:
        x: int

    with pytest.raises(TypeError, match="__post_init__"):
        positional(Checked, ("x",))
    with pytest.raises(TypeError, match="no default"):
        positional(Listy, ("x",))
    with pytest.raises(TypeError, match="slotted"):
        positional(NoSlots, ("x",))
    with pytest.raises(TypeError, match="no field"):
        positional(Ticker, ("nope",))
