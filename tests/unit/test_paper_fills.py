"""The paper venue's fill model: queue position on real Binance prints, book walks, fees,
latency (docs/architecture.md §3.7). Expected values are worked out by hand from the inputs."""

from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.connectors.captures.hftbacktest import read_capture
from arbflow.model import reasons
from arbflow.model.config import Config, ExecutionConfig, FeeSchedule, PaperConfig, VenueConfig
from arbflow.model.desk_config import DeskConfig, desk_config
from arbflow.model.market import MarketTrade, OrderBook, Ticker
from arbflow.operators.execution import paper_venue as pf
from arbflow.operators.execution.book import fee_usd
from arbflow.operators.execution.venue_events import OrderRequest, VenueEvent

D = Decimal
CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "usdm_btcusdt_20240808.head.txt.xz"
PERP = "BTC/USDT:USDT"
BINANCE = VenueConfig(kind="cex", liquidity_rank=11, spot=FeeSchedule(maker_bps=D(10), taker_bps=D(10)),
                      perp=FeeSchedule(maker_bps=D(2), taker_bps=D(5)), tick_size=D("0.1"), lot_size=D("0.001"),
                      min_qty=D("0.001"))


def _config(venue: VenueConfig = BINANCE, latency_ms: int = 0) -> DeskConfig:
    """A paper desk trading on `venue` alone, its orders and cancels `latency_ms` late."""
    execution = ExecutionConfig(paper=PaperConfig(latency_ms=latency_ms))
    return desk_config(Config(venues={"binance": venue}, execution=execution), "paper")


SETTINGS = _config()


def _book(bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int, market: str = "perp") -> OrderBook:
    return OrderBook(venue="binance", symbol=PERP if market == "perp" else "BTC/USDT", market=market,  # type: ignore[arg-type]
                     bids=tuple((D(p), D(q)) for p, q in bids), asks=tuple((D(p), D(q)) for p, q in asks), depth=20,
                     ts_local=ts)


def _print(side: str, px: str, qty: str, ts: int) -> MarketTrade:
    return MarketTrade(venue="binance", symbol=PERP, market="perp", px=D(px), qty=D(qty), side=side,  # type: ignore[arg-type]
                       trade_id=str(ts), ts_local=ts)


def _order(side: str, qty: str, px: str | None, ts: int, kind: str = "limit", cid: str = "o1",
           market: str = "perp") -> OrderRequest:
    return OrderRequest(client_order_id=cid, venue="binance", symbol=PERP if market == "perp" else "BTC/USDT",
                        market=market, side=side, order_type=kind, qty=D(qty),  # type: ignore[arg-type]
                        limit_px=None if px is None else D(px), ts=ts)


def _fills(events: list[VenueEvent]) -> list[tuple[int, Decimal, Decimal, Decimal, str | None]]:
    return [(e.ts, e.px, e.qty, e.fee, e.liquidity) for e in events if e.kind == "fill"]  # type: ignore[misc]


def test_resting_buy_fills_after_20_percent_of_its_queue_trades_when_replaying_the_binance_capture() -> None:
    """A resting buy of 0.5 BTC at the best bid of the first book the converter builds from the
    REST snapshot (raw line 55, lastUpdateId 5123107852948, bid 61800.20 × 2.909, brought to
    2.890 by the buffered diffs; that book's ts_local is 1723161255319).

    queue_ahead = 2.890, threshold = 20 % = 0.578 BTC. Sell-taker prints ("m": true) at
    ≤ 61800.20 after placement, from the raw lines:
      72 …255401663366 t=5266583941 p=61800.20 q=0.244  traded 0.244 (< 0.578: nothing)
      73 …255401664266 t=5266583942 p=61800.20 q=0.042  traded 0.286 (nothing)
      74 …255401664866 t=5266583943 p=61800.20 q=0.714  traded 1.000 → fill 1.000 − 0.578 = 0.422
      85 …255412982266 t=5266583944 p=61800.20 q=0.030  traded 1.030 → fill 0.030 (0.452)
      86 …255412982966 t=5266583945 p=61800.20 q=0.658  traded 1.688 → fill 0.048 (0.500, done)
    (line 60, t=5266583940, is a buy taker at 61800.30 and cannot reach a resting buy.)
    So the order is complete at ts_local 1723161255412, 93 ms after it was placed; maker fee
    2 bps: 61800.2 × 0.422 × 0.0002 = 5.21593688, × 0.030 → 0.3708012, × 0.048 → 0.59328192.
    """
    venue = pf.PaperVenue()
    placed: OrderBook | None = None
    events: list[VenueEvent] = []
    for topic, record in read_capture(CAPTURE, streams=("trade", "depth")):
        if topic == "md.book" and placed is None:
            placed = record
            events += pf.on_market(venue, record, SETTINGS)
            assert record.bids[0] == (D("61800.2"), D("2.890")) and record.ts_local == 1723161255319
            events += pf.submit(venue, _order("buy", "0.5", "61800.2", record.ts_local), SETTINGS)
        elif topic in ("md.book", "md.trade") and placed is not None:
            events += pf.on_market(venue, record, SETTINGS)
    order = venue.orders["o1"]
    assert order.queue_ahead == D("2.890")
    assert _fills(events) == [
        (1723161255401, D("61800.2"), D("0.422"), D("5.21593688"), "maker"),
        (1723161255412, D("61800.2"), D("0.030"), D("0.3708012"), "maker"),
        (1723161255412, D("61800.2"), D("0.048"), D("0.59328192"), "maker"),
    ]
    assert order.done and order.filled == D("0.5")


def test_resting_buy_waits_when_prints_stay_below_the_queue_threshold() -> None:
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("100", "10")], [("101", "10")], 1), SETTINGS)
    events = pf.submit(venue, _order("buy", "1", "100", 1), SETTINGS)
    assert [e.kind for e in events] == ["accepted"]
    events = pf.on_market(venue, _print("sell", "100", "1.999", 2), SETTINGS)  # 20 % of 10 = 2: not yet
    assert events == []
    events = pf.on_market(venue, _print("sell", "100", "0.5", 3), SETTINGS)  # traded 2.499 → 0.499
    assert _fills(events) == [(3, D(100), D("0.499"), D("0.00998"), "maker")]


def test_prints_that_cannot_reach_a_resting_buy_are_not_counted() -> None:
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("100", "5")], [("101", "5")], 1), SETTINGS)
    pf.submit(venue, _order("buy", "1", "100", 1), SETTINGS)
    assert pf.on_market(venue, _print("buy", "100", "50", 2), SETTINGS) == []  # a buy taker
    assert pf.on_market(venue, _print("sell", "100.1", "50", 3), SETTINGS) == []  # above our limit
    assert venue.orders["o1"].traded == 0
    events = pf.on_market(venue, _print("sell", "99.9", "1.5", 4), SETTINGS)  # through it: counts
    assert _fills(events) == [(4, D(100), D("0.5"), D("0.01"), "maker")]  # 1.5 − 20 % × 5


def test_price_improving_the_touch_has_no_queue_and_a_ticker_stands_in_for_a_missing_book() -> None:
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("100", "5")], [("101", "5")], 1), SETTINGS)
    pf.submit(venue, _order("buy", "1", "100.5", 1, cid="inside"), SETTINGS)
    pf.submit(venue, _order("sell", "1", "101", 1, cid="at_ask"), SETTINGS)
    pf.submit(venue, _order("buy", "1", "99.5", 1, cid="gap"), SETTINGS)  # no level there in a full book
    assert [venue.orders[c].queue_ahead for c in ("inside", "at_ask", "gap")] == [0, 5, 0]
    ticker_only = pf.PaperVenue()
    pf.on_market(ticker_only, Ticker(venue="binance", symbol=PERP, market="perp", bid=D(100), ask=D(101),
                                     bid_qty=D(3), ask_qty=D(4), ts_local=1), SETTINGS)
    pf.submit(ticker_only, _order("buy", "1", "100", 1, cid="touch"), SETTINGS)
    pf.submit(ticker_only, _order("buy", "1", "99", 1, cid="below"), SETTINGS)
    assert [ticker_only.orders[c].queue_ahead for c in ("touch", "below")] == [3, 3]


def test_ioc_walks_levels_up_to_its_limit_and_cancels_the_rest() -> None:
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("99", "1")], [("100", "0.3"), ("100.5", "0.2"), ("101.2", "5")], 1), SETTINGS)
    events = pf.submit(venue, _order("buy", "1", "101", 1, kind="ioc"), SETTINGS)
    # 0.3 @ 100 (fee 100 × 0.3 × 5 bps = 0.015), 0.2 @ 100.5 (0.01005); 101.2 is beyond the limit
    assert _fills(events) == [(1, D(100), D("0.3"), D("0.015"), "taker"), (1, D("100.5"), D("0.2"), D("0.01005"),
                                                                            "taker")]
    assert (events[-1].kind, events[-1].reason) == ("canceled", reasons.IOC_REMAINDER)
    assert venue.books[("binance", PERP)].asks == ((D("101.2"), D(5)),)  # taken levels are gone until a new book
    market = pf.submit(venue, _order("buy", "2", None, 1, kind="market", cid="m"), SETTINGS)
    assert _fills(market) == [(1, D("101.2"), D(2), D("0.10120"), "taker")]


def test_fees_follow_the_spot_schedule_for_spot_orders() -> None:
    venue = pf.PaperVenue()
    spot = _book([("99", "1")], [("100", "1")], 1, market="spot")
    pf.on_market(venue, spot, SETTINGS)
    events = pf.submit(venue, _order("buy", "0.5", "100", 1, kind="ioc", market="spot"), SETTINGS)
    assert _fills(events) == [(1, D(100), D("0.5"), D("0.05"), "taker")]  # 10 bps spot taker
    assert events[1].fee_currency == "USDT"


def test_a_crossing_limit_takes_what_it_crosses_and_rests_the_rest_at_the_front() -> None:
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("99", "1")], [("100", "0.4"), ("101", "1")], 1), SETTINGS)
    events = pf.submit(venue, _order("buy", "1", "100", 1), SETTINGS)
    assert _fills(events) == [(1, D(100), D("0.4"), D("0.020"), "taker")]
    order = venue.orders["o1"]
    assert not order.done and order.queue_ahead == 0
    later = pf.on_market(venue, _print("sell", "100", "0.25", 2), SETTINGS)
    assert _fills(later) == [(2, D(100), D("0.25"), D("0.0050"), "maker")]


def test_latency_delays_the_order_and_its_cancel() -> None:
    slow = _config(latency_ms=50)
    venue = pf.PaperVenue()
    pf.on_market(venue, _book([("100", "1")], [("101", "1")], 1_000), slow)
    assert pf.submit(venue, _order("buy", "1", "100", 1_000), slow) == []  # reaches the book at 1 050
    assert pf.on_market(venue, _print("sell", "100", "5", 1_020), slow) == []  # before it is live
    pf.on_market(venue, _book([("100", "2")], [("101", "1")], 1_040), slow)
    live = pf.on_market(venue, _print("sell", "100", "0.6", 1_050), slow)
    assert [e.kind for e in live] == ["accepted", "fill"] and live[0].ts == 1_050
    assert live[1].qty == D("0.2")  # queue 2 (the book at 1 040) → threshold 0.4
    assert pf.cancel(venue, "o1", 1_100, slow) == []  # lands at 1 150
    between = pf.on_market(venue, _print("sell", "100", "0.3", 1_120), slow)
    assert _fills(between) == [(1_120, D(100), D("0.3"), D("0.0060"), "maker")]
    gone = pf.advance(venue, 1_150, slow)
    assert [(e.kind, e.ts, e.reason) for e in gone] == [("canceled", 1_150, reasons.ORDER_TIMEOUT)]


def test_orders_are_rejected_without_a_book_or_a_market_and_duplicates_are_ignored() -> None:
    venue = pf.PaperVenue()
    events = pf.submit(venue, _order("buy", "1", "100", 1, kind="ioc"), SETTINGS)
    assert [(e.kind, e.reason) for e in events] == [("rejected", reasons.NO_LIQUIDITY)]
    assert pf.submit(venue, _order("buy", "1", "100", 1, kind="ioc"), SETTINGS) == []
    no_spot = _config(VenueConfig(kind="cex", liquidity_rank=1, perp=BINANCE.perp))
    events = pf.submit(venue, _order("buy", "1", "100", 1, kind="ioc", cid="s", market="spot"), no_spot)
    assert [(e.kind, e.reason) for e in events] == [("rejected", reasons.UNTRADABLE_VENUE)]


# -- property: no limit order fills before 20 % of its queue traded ------------------------

_prints = st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.integers(95, 105), st.integers(1, 3000)),
                   max_size=40)


@settings(max_examples=200, deadline=None)
@given(queue=st.integers(0, 5000), side=st.sampled_from(["buy", "sell"]), size=st.integers(1, 3000),
       prints=_prints, depth_change=st.integers(0, 5000))
def test_limit_orders_never_fill_before_20_percent_of_their_queue_traded(queue: int, side: str, size: int,
                                                                        prints: list[tuple[str, int, int]],
                                                                        depth_change: int) -> None:
    """Queue and traded volume are recomputed here from the inputs, independently of the model:
    the queue is what rests at the order's price when placed; a buy counts sell prints at
    px ≤ its limit, a sell buy prints at px ≥ its limit."""
    venue = pf.PaperVenue()
    lot = D("0.001")
    resting = queue * lot
    bids = [("100", str(resting))] if queue else []
    pf.on_market(venue, _book([*bids, ("99", "1")], [("100.1", str(resting or 1)), ("101", "1")], 1), SETTINGS)
    limit = D(100) if side == "buy" else D("100.1")
    ahead = resting if side == "buy" else (resting or D(1))
    pf.submit(venue, _order(side, str(size * lot), str(limit), 1), SETTINGS)
    threshold = D("0.2") * ahead
    traded = filled = D(0)
    for n, (taker, tenths, qty) in enumerate(prints, start=2):
        if n == 10:  # the book changes under the order: its recorded queue must not
            pf.on_market(venue, _book([("100", str(depth_change * lot))], [("100.1", "1")], n), SETTINGS)
        px = D(tenths) / 10 + 90
        if taker != side and (px <= limit if side == "buy" else px >= limit):
            traded += qty * lot
        for event in pf.on_market(venue, _print(taker, str(px), str(qty * lot), n), SETTINGS):
            assert event.kind == "fill" and event.liquidity == "maker" and event.px == limit
            filled += event.qty
            assert traded >= threshold and filled <= traded - threshold
            assert filled == filled.quantize(lot) and filled <= size * lot
    assert filled == min(size * lot, max(D(0), traded - threshold)).quantize(lot, rounding="ROUND_DOWN")


def test_an_inverse_perps_fee_is_charged_in_its_coin_and_valued_at_the_fill() -> None:
    # 0.174 BTC at 17,207.5 sold as taker on BTC/USD:BTC (face 2,994.105 USD): 0.174 × 5 bps = 0.0000870 BTC,
    # worth 0.0000870 × 17,207.5 = 1.4970525 USD; the same fill on BTC/USDT:USDT costs 1.4970525 USDT.
    inverse = OrderRequest(client_order_id="i", venue="binance", symbol="BTC/USD:BTC", market="perp", side="sell",
                           order_type="ioc", qty=D("0.174"), limit_px=D("17000"), ts=0)
    linear = OrderRequest(client_order_id="l", venue="binance", symbol=PERP, market="perp", side="sell",
                          order_type="ioc", qty=D("0.174"), limit_px=D("17000"), ts=0)
    assert pf.fee(SETTINGS, inverse, D("17207.5"), D("0.174"), "taker") == D("0.0000870")
    assert pf.fee(SETTINGS, linear, D("17207.5"), D("0.174"), "taker") == D("1.4970525")
    assert pf.settle_currency("BTC/USD:BTC") == "BTC"
    fill = VenueEvent(kind="fill", client_order_id="i", venue="binance", symbol="BTC/USD:BTC", ts=0, fill_id="i#1",
                      px=D("17207.5"), qty=D("0.174"), fee=D("0.0000870"), fee_currency="BTC", liquidity="taker")
    assert fee_usd(fill) == D("1.4970525")
    assert fee_usd(VenueEvent(kind="fill", client_order_id="l", venue="binance", symbol=PERP, ts=0, fill_id="l#1",
                              px=D("17207.5"), qty=D("0.174"), fee=D("1.4970525"), fee_currency="USDT",
                              liquidity="taker")) == D("1.4970525")
