"""The desk's market state (quotes, marks, funding, lateness) and the desk that shares it
between its signal and execution stages (`operators.asset_desk.run_desk`)."""

import pickle
from decimal import Decimal
from typing import Any

from arbflow.model import reasons
from arbflow.model.config import Config, SignalsConfig, StrategyConfig
from arbflow.model.desk_config import desk_config
from arbflow.model.market import FundingRate, OrderBook, Ticker
from arbflow.model.portfolio import Alert
from arbflow.model.rejected import Rejected
from arbflow.operators import market_state
from arbflow.operators.asset_desk import AssetDesk, run_desk
from arbflow.operators.market_state import MarketState
from arbflow.operators.signals import desk_signals
from arbflow.operators.signals.desk_signals import AssetSignals, BasisStopChanged

D = Decimal
H = 3_600_000
T = 1_704_067_200_000  # 2024-01-01T00:00Z, on the hour grid
PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
CONFIG = Config(signals=SignalsConfig(funding_silent_after_s=0),
                strategy=StrategyConfig(basis_stop_bps=D(-5)))  # the basis stop at −5 bps
SIGNALS, PAPER = desk_config(CONFIG), desk_config(CONFIG, "paper")


def _ticker(bid: str, ask: str, ts: int, *, symbol: str = PERP, mark: str | None = None) -> Ticker:
    return Ticker(venue="binance", symbol=symbol, market="spot" if symbol == SPOT else "perp", bid=D(bid), ask=D(ask),
                  bid_qty=D(2), ask_qty=D(3), mark=None if mark is None else D(mark), ts_local=ts)


def _book(bid: str, ask: str, ts: int) -> OrderBook:
    return OrderBook(venue="binance", symbol=PERP, market="perp", bids=((D(bid), D(5)),), asks=((D(ask), D(6)),),
                     depth=1, ts_local=ts)


def _funding(ts: int, interval_ms: int = 8 * H) -> FundingRate:
    return FundingRate(venue="binance", symbol=PERP, market="perp", rate=D("0.0001"), interval_ms=interval_ms,
                       next_funding_time=T + interval_ms, ts_local=ts)


def test_the_quote_is_the_tickers_touch_until_a_book_arrives_and_the_book_after_it() -> None:
    market = MarketState()
    market_state.observe(market, _ticker("100", "101", T))
    touch = market.quotes[("binance", PERP)]
    assert (touch.bids, touch.asks, touch.is_book, touch.ts) == (((D(100), D(2)),), ((D(101), D(3)),), False, T)
    market_state.observe(market, _ticker("100.5", "101", T + 1))
    assert market.quotes[("binance", PERP)].bids == ((D("100.5"), D(2)),)  # read again after a change: the new one
    market_state.observe(market, _book("99", "102", T + 2))
    market_state.observe(market, _ticker("100", "101", T + 3))  # a ticker never replaces a book
    quote = market.quotes[("binance", PERP)]
    assert (quote.bids, quote.asks, quote.is_book, quote.ts) == (((D(99), D(5)),), ((D(102), D(6)),), True, T + 2)
    assert list(market.quotes) == [("binance", PERP)] and market.asset == "BTC"


def test_a_tickers_mark_is_kept_and_a_ticker_without_one_keeps_the_last() -> None:
    market = MarketState()
    market_state.observe(market, _ticker("100", "101", T, mark="100.4"))
    market_state.observe(market, _ticker("100", "101", T + 1))
    assert market.marks == {("binance", PERP): D("100.4")}


def test_a_record_more_than_the_tolerance_behind_is_refused_and_changes_nothing() -> None:
    market = MarketState()
    market_state.observe(market, _ticker("100", "101", T + 10_000))
    assert market_state.observe(market, _ticker("90", "91", T + 5_000), 5_000) is None  # exactly at the limit
    late = market_state.observe(market, _ticker("80", "81", T + 4_999, mark="80"), 5_000)
    assert isinstance(late, Rejected)
    assert (late.reason, late.source, late.ts) == (reasons.LATE_RECORD, "md.ticker", T + 4_999)
    assert market.quotes[("binance", PERP)].bids == ((D(90), D(2)),) and market.marks == {}
    assert market.watermark == T + 10_000


def test_the_stages_share_one_market_state_that_saw_the_funding_record_once() -> None:
    desk, _ = run_desk(None, _funding(T), PAPER)
    assert desk.execution is not None and desk.execution.market is desk.market
    assert list(desk.market.funding.legs) == [("binance", PERP)]
    restored: AssetDesk = pickle.loads(pickle.dumps(desk))  # a resumed desk keeps one market state
    assert restored.execution is not None and restored.execution.market is restored.market


def test_a_late_record_goes_to_its_dead_letter_topic_and_leaves_the_quotes_execution_reads() -> None:
    desk, _ = run_desk(None, _ticker("100", "101", T + 10_000), PAPER)
    desk, out = run_desk(desk, _ticker("80", "81", T), PAPER)
    assert [type(r) for r in out] == [Rejected] and out[0].reason == reasons.LATE_RECORD
    assert desk.execution is not None and desk.execution.market.quotes[("binance", PERP)].bids == ((D(100), D(2)),)


def _minutes(first: int, last: int, spot: str, perps: tuple[str, str]) -> list[Ticker]:
    """A spot and a perp ticker every minute, the perp alternating between two prices (the
    basis is a change stream: a steady price makes no new point)."""
    return [t for minute in range(first, last) for t in (
        _ticker(str(D(spot) - D("0.5")), str(D(spot) + D("0.5")), T + minute * 60_000, symbol=SPOT),
        _ticker(str(D(perps[minute % 2]) - D("0.5")), str(D(perps[minute % 2]) + D("0.5")), T + minute * 60_000))]


def _basis_stop_market() -> list[Any]:
    """Hourly funding; the perp 6–7 bps under the spot for three hours, then 1–2 bps over
    it: the stop turns on with the first point of hour 3 (three whole hours with every
    median below −5 bps) and off with the first point of hour 5 (hour 4 wholly ≥ 0)."""
    return [_funding(T, interval_ms=H), *_minutes(0, 200, "60000", ("59964", "59958")),
            *_minutes(200, 310, "60000", ("60006", "60012"))]


def test_the_signal_stage_reports_each_basis_stop_change_once_with_its_record() -> None:
    market, signals, changes = MarketState(), AssetSignals(), []
    for record in _basis_stop_market():
        assert market_state.observe(market, record, SIGNALS.signals.late_tolerance_ms) is None
        signals, out, stop = desk_signals.update(signals, market, record, SIGNALS)
        toxic = [a for a in out if type(a) is Alert and a.code == reasons.TOXIC_BASIS]
        if stop is not None:
            changes.append(((record.ts_local - T) // 60_000, stop, len(toxic)))
        else:
            assert toxic == []
    assert changes == [(180, BasisStopChanged(venue="binance", stop=True), 1),
                       (300, BasisStopChanged(venue="binance", stop=False), 0)]


def test_the_desk_hands_the_basis_stop_to_its_execution_stage() -> None:
    desk: AssetDesk | None = None
    stopped = []
    for record in _basis_stop_market():
        desk, _ = run_desk(desk, record, PAPER)
        assert desk.execution is not None
        stopped.append(("binance", "BTC") in desk.execution.basis_stops)
    first_on = stopped.index(True)  # records: the funding, then a spot and a perp ticker a minute
    assert first_on == 2 + 2 * 180  # the perp's ticker of minute 180 (the spot's does not move the basis)
    assert stopped[first_on:].index(False) + first_on == 2 + 2 * 300
