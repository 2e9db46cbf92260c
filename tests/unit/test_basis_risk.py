"""Basis risk: rolling median, 1st percentile, Basis-at-Risk stop and hysteresis, toxic
funding block (docs/architecture.md §3.3)."""

import random
from decimal import Decimal as D

import pytest
from ddsketch import DDSketch

from arbflow.model.config import StrategyConfig
from arbflow.operators.signals import basis_risk as br

H = 3_600_000
T = 1_704_067_200_000  # 2024-01-01T00:00Z, on the 8 h grid
RULE = StrategyConfig(basis_stop_bps=D(-5))  # the stop at −5 bps, 3 intervals, re-entry at 0 bps


def test_the_median_covers_five_minutes_and_ignores_a_spike() -> None:
    state = None
    for i, value in enumerate(("-3", "-4", "-3.5", "-60", "-3.7")):  # one flash crash tick
        state, reading = br.observe(state, D(value), T + i * 1000, 8 * H, rule=RULE)
    assert reading.median_bps == pytest.approx(-3.7)  # sorted: -60 -4 -3.7 -3.5 -3
    state, reading = br.observe(state, D("-2"), T + 300_001, 8 * H, rule=RULE)  # the first (-3 at T) has left
    assert reading.median_bps == pytest.approx(-3.7)  # sorted: -60 -4 -3.7 -3.5 -2


def test_three_negative_intervals_stop_and_one_recovered_interval_releases() -> None:
    state = None
    for interval in range(3):  # the median below -5 bps through three 8 h intervals
        for minute in range(0, 8 * 60, 30):
            state, reading = br.observe(state, D("-6"), T + interval * 8 * H + minute * 60_000, 8 * H, rule=RULE)
    assert not reading.stop and reading.block is None  # the third interval is not closed yet
    state, reading = br.observe(state, D("-6"), T + 24 * H, 8 * H, rule=RULE)
    assert reading.stop and reading.negative_intervals == 3 and "basis-at-risk" in (reading.block or "")
    for minute in range(0, 8 * 60, 30):  # a recovered interval: median climbs to ≥ 0 …
        state, reading = br.observe(state, D("1"), T + 24 * H + 300_001 + minute * 60_000, 8 * H, rule=RULE)
    assert reading.stop  # … but the interval that started negative does not count
    for minute in range(0, 8 * 60, 30):
        state, reading = br.observe(state, D("1"), T + 32 * H + minute * 60_000, 8 * H, rule=RULE)
    state, reading = br.observe(state, D("1"), T + 40 * H, 8 * H, rule=RULE)
    assert not reading.stop and reading.block is None


def test_an_interval_with_any_median_above_the_threshold_breaks_the_run() -> None:
    state = None
    for interval in range(4):
        value = "-2" if interval == 1 else "-6"
        for minute in range(0, 8 * 60, 60):
            state, reading = br.observe(state, D(value), T + interval * 8 * H + minute * 60_000, 8 * H, rule=RULE)
    state, reading = br.observe(state, D("-6"), T + 32 * H, 8 * H, rule=RULE)
    assert reading.negative_intervals == 2 and not reading.stop


def test_a_median_below_the_historical_first_percentile_blocks_entries() -> None:
    state = None
    for i in range(400):
        state, reading = br.observe(state, D(-3 - (i % 10) / 10), T + i * 1_000_000, 8 * H, rule=RULE, window_ms=1)
    assert reading.p01_bps is not None and -4.0 <= reading.p01_bps <= -3.8
    state, reading = br.observe(state, D("-9"), T + 401 * 1_000_000, 8 * H, rule=RULE, window_ms=1)
    assert "1st percentile" in (reading.block or "")


def test_fading_funding_with_a_negative_basis_blocks_entries() -> None:
    _, reading = br.observe(None, D("-1"), T, 8 * H, rule=RULE, rate_8h=D("0.0001"), predicted_8h=D("0.00002"))
    assert "funding fading" in (reading.block or "")
    _, reading = br.observe(None, D("1"), T, 8 * H, rule=RULE, rate_8h=D("0.0001"), predicted_8h=D("0.00002"))
    assert reading.block is None  # a positive basis is not toxic


def test_the_rolling_median_on_the_binance_capture_matches_an_independent_computation() -> None:
    """Over the bundled capture: the operator chain (change-stream basis → 5-minute median)
    against a plain recomputation from the raw fixture lines."""
    import gzip
    import json
    import statistics
    from pathlib import Path

    from arbflow.model import codec
    from arbflow.model.market import Ticker
    from arbflow.operators.signals.basis import update_basis

    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    fixture = fixtures / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"
    # independent: BTC mids as Decimal, a point whenever a leg's mid changes, then the median
    # of the points of the last 300 s before the final one
    spot = perp = None
    points: list[tuple[int, float]] = []
    with gzip.open(fixture, "rt") as handle:
        lines = handle.readlines()
    for line in lines:
        row = json.loads(line)
        if not row["symbol"].startswith("BTC/"):
            continue
        mid = (D(row["bid"]) + D(row["ask"])) / 2
        if row["market"] == "spot":
            changed, spot = mid != spot, mid
        else:
            changed, perp = mid != perp, mid
        if spot is not None and perp is not None and changed:
            points.append((row["ts_local"], float((perp - spot) / spot * 10_000)))
    last_ts = points[-1][0]
    expected = statistics.median(v for ts, v in points if ts > last_ts - 300_000)
    # the operators
    state = risk = None
    reading = None
    for line in lines:
        if '"BTC/' not in line:
            continue
        ticker = codec.decode(Ticker, "{" + line.split(",", 1)[1], source="t")
        state, point = update_basis(state, ticker)
        if point is not None:
            risk, reading = br.observe(risk, point.basis_bps, point.ts, 8 * H, rule=RULE)
    assert reading is not None and reading.ts == last_ts
    assert reading.median_bps == pytest.approx(expected, abs=1e-9)
    assert -4.3 < expected < -3.5  # the capture's basis sits around -3.7 … -4.2 bps


def _tickers(ts: int, spot_mid: str, perp_mid: str) -> list:
    from arbflow.model.market import Ticker
    half = D("0.05")
    return [Ticker(venue="binance", symbol=symbol, market=market, bid=D(m) - half, ask=D(m) + half, bid_qty=D(1),
                   ask_qty=D(1), ts_local=ts)
            for symbol, market, m in (("BTC/USDT", "spot", spot_mid), ("BTC/USDT:USDT", "perp", perp_mid))]


def test_a_median_basis_below_zero_for_more_than_an_hour_raises_one_alert_per_episode() -> None:
    """The perp 4 bps under the spot (60000 vs 59976: −4.0 bps) every minute: BASIS_NEGATIVE
    once the 5-minute median has been negative for more than 1 h, not again while it stays
    negative; back above 0 for a while and negative for another hour → a second alert."""
    from arbflow.model.config import Config, SignalsConfig
    from arbflow.model.desk_config import desk_config
    from arbflow.model.portfolio import Alert
    from arbflow.operators.asset_desk import run_desk

    settings = desk_config(Config(signals=SignalsConfig(funding_silent_after_s=0)))
    state, alerts = None, []
    for minute in range(0, 130):
        for ticker in _tickers(T + minute * 60_000, "60000", "59976"):
            state, out = run_desk(state, ticker, settings)
            alerts += [(minute, a) for a in out if type(a) is Alert and a.code == "BASIS_NEGATIVE"]
    [(minute, alert)] = alerts
    assert minute == 61  # negative since minute 0; "more than 1 h" first holds at 61 min
    assert (alert.venue, alert.asset, alert.value, alert.threshold, alert.severity) == (
        "binance", "BTC", D("-4.0000"), D(0), "warning")
    for minute in range(130, 150):  # the median back above 0
        for ticker in _tickers(T + minute * 60_000, "60000", "60010"):
            state, _ = run_desk(state, ticker, settings)
    for minute in range(150, 215):
        for ticker in _tickers(T + minute * 60_000, "60000", "59976"):
            state, out = run_desk(state, ticker, settings)
            alerts += [(minute, a) for a in out if type(a) is Alert and a.code == "BASIS_NEGATIVE"]
    # the basis is a change stream: the last positive point (minute 130) has left the 5-minute
    # window by minute 150, so the median is negative at once and the second hour ends at 211
    assert [m for m, _ in alerts] == [61, 150 + 61]


def test_records_other_than_the_venues_tickers_do_not_age_a_negative_median() -> None:
    """A funding history running 8 h past the last quotes (as `make run` replays) is no
    evidence that the basis stayed negative: no alert without the venue's own tickers."""
    from arbflow.model.config import Config, SignalsConfig
    from arbflow.model.desk_config import desk_config
    from arbflow.model.market import FundingRate
    from arbflow.operators.asset_desk import run_desk

    settings = desk_config(Config(signals=SignalsConfig(funding_silent_after_s=0)))
    state = None
    for minute in range(0, 10):
        for ticker in _tickers(T + minute * 60_000, "60000", "59976"):
            state, _ = run_desk(state, ticker, settings)
    funding = FundingRate(venue="binance", symbol="BTC/USDT:USDT", market="perp", rate=D("0.0001"),
                          interval_ms=8 * H, next_funding_time=T + 16 * H, ts_local=T + 8 * H)
    state, out = run_desk(state, funding, settings)
    assert [a for a in out if getattr(a, "code", "") == "BASIS_NEGATIVE"] == []


def test_the_percentile_is_the_sketchs_own_at_every_point() -> None:
    """`br.quantile` walks the bins in C; it must give DDSketch's own value (negative,
    zero and positive stores; the 1st percentile and the ends) after every point."""
    rnd = random.Random(7)
    for values in ([rnd.uniform(-50, 50) for _ in range(600)], [rnd.uniform(-80, -0.01) for _ in range(600)],
                   [rnd.uniform(0.01, 80) for _ in range(600)],
                   [rnd.choice([0.0, -3.2, 4.5, rnd.gauss(0, 10)]) for _ in range(600)]):
        sketch = DDSketch(relative_accuracy=0.01)
        for value in values:
            sketch.add(value)
            for q in (0.0, 0.01, 0.5, 1.0):
                assert br.quantile(sketch, q) == sketch.get_quantile_value(q)
