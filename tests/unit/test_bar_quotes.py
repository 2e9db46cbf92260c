"""The backtest quote model (connectors/captures/bar_quotes.py) with hand-worked numbers, and
bad or extreme rows through the converter without a traceback."""

import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, convert_bars, quote_bar
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.model import codec, reasons
from arbflow.model.config import BacktestConfig, Config, PlausibilityConfig, parse_config
from arbflow.model.errors import ConfigError
from arbflow.model.market import Candle, Ticker
from arbflow.model.signals import Opportunity

HEADER = "ts_ms_utc,time_as_published,exchange,asset,pair,market,open,high,low,close,volume,funding_rate\n"
T0 = 1672531200000  # 2023-01-01 00:00 UTC
EIGHT_H = 28_800_000
ONE_BP = QuoteModel(half_spread=Decimal("0.0001"), depth_usd=Decimal(250_000))


def _candle(close: str, ts_close: int = T0 + EIGHT_H) -> Candle:
    return Candle(venue="binance", symbol="BTC/USDT", market="spot", interval_ms=EIGHT_H, open=Decimal(1),
                  high=Decimal(1), low=Decimal(1), close=Decimal(close), volume=Decimal(0), ts_open=ts_close - EIGHT_H,
                  ts_close=ts_close, ts_local=ts_close)


def test_a_close_of_60000_at_1_bp_is_quoted_59994_by_60006_with_sizes_from_the_depth() -> None:
    quote = quote_bar(_candle("60000"), ONE_BP)
    assert isinstance(quote, Ticker)
    # 60,000 × 0.9999 = 59,994; 60,000 × 1.0001 = 60,006; 250,000 / 60,000 = 4.1666… → 4.16666666 (down)
    assert (quote.bid, quote.ask) == (Decimal("59994"), Decimal("60006"))
    assert quote.bid_qty == quote.ask_qty == Decimal("4.16666666")
    assert quote.ts_exchange == quote.ts_local == T0 + EIGHT_H  # the close time: no look-ahead


def test_the_model_is_built_from_the_backtest_section() -> None:
    model = QuoteModel.from_config(BacktestConfig(half_spread_bps=Decimal("2.5"), depth_usd=Decimal(300_000)))
    quote = quote_bar(_candle("1500"), model)
    assert isinstance(quote, Ticker)
    # h = 0.00025: 1500 × 0.99975 = 1499.625, 1500 × 1.00025 = 1500.375; 300,000 / 1500 = 200
    assert (quote.bid, quote.ask, quote.bid_qty) == (Decimal("1499.625"), Decimal("1500.375"), Decimal(200))


@pytest.mark.parametrize(("close", "reason"), [("0", reasons.NON_POSITIVE_PRICE), ("-5", reasons.NON_POSITIVE_PRICE),
                                               ("1e15", reasons.ZERO_SIZE)])
def test_a_bar_the_model_cannot_price_gives_a_reason_not_a_quote(close: str, reason: str) -> None:
    # 250,000 / 1e15 = 2.5e-10 base units: below 1e-8, rounds to 0
    refused = quote_bar(_candle(close), ONE_BP)
    assert isinstance(refused, tuple) and refused[0] == reason


@given(close=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e9"), places=4),
       bps=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000), places=2))
def test_every_positive_close_is_quoted_around_itself_within_the_assumed_depth(close: Decimal, bps: Decimal) -> None:
    model = QuoteModel.from_config(BacktestConfig(half_spread_bps=bps, depth_usd=Decimal(250_000)))
    quote = quote_bar(_candle(str(close)), model)
    if isinstance(quote, tuple):
        assert quote[0] == reasons.ZERO_SIZE and Decimal(250_000) / close < Decimal("1e-8")
        return
    assert Decimal(0) < quote.bid < close < quote.ask
    assert quote.ask - close == close - quote.bid == close * bps / 10_000
    assert quote.bid_qty * close <= Decimal(250_000) < (quote.bid_qty + Decimal("1e-8")) * close


@pytest.mark.parametrize(("key", "value"), [("half_spread_bps", "0"), ("half_spread_bps", "-1"),
                                            ("half_spread_bps", "1001"), ("depth_usd", "0")])
def test_the_backtest_section_refuses_a_quote_that_could_cross_or_be_empty(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"backtest.{key}"):
        parse_config({"backtest": {key: value}}, {})


def _history(path: Path, rows: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "".join(row + "\n" for row in rows))
    return path


def _read(path: Path) -> list[dict[str, object]]:
    with gzip.open(path, "rb") as handle:
        return [codec.loads(line) for line in handle]


def test_bad_and_extreme_rows_go_through_the_converter_without_a_traceback(tmp_path: Path) -> None:
    t = T0
    history = _history(tmp_path / "bars_utc.csv.gz", [
        f"{t},x,binance,BTC,BTC/USDT,spot,1000000,1000000,1000000,1000000,0,",          # 1e6 price, zero volume
        f"{t},x,binance,BTC,BTCUSDT,perp_linear,60000,60000,60000,60000,12.5,1e-12",  # a 1e-12 rate
        f"{t},x,bybit,BTC,BTCUSDT,perp_linear,0,0,0,0,0,0.0001",                      # close 0: refused
    ])
    wide = RowPolicy(strict=False, plausibility=PlausibilityConfig(price_band=Decimal("0.99")))  # 1e6 by 60,000 passes
    conversion = convert_bars(history, tmp_path / "out.jsonl.gz", venues=Config().venues, backtest=BacktestConfig(),
                              policy=wide)
    [refused] = conversion.rejected
    assert (refused.source, refused.reason, refused.ts) == ("bars_utc.csv.gz:4", reasons.NON_POSITIVE_PRICE,
                                                            t + EIGHT_H)
    lines = _read(tmp_path / "out.jsonl.gz")
    funding = [line for line in lines if line["topic"] == "md.funding"]
    assert [(f["venue"], f["rate"], f["ts_local"]) for f in funding] == [("binance", "1E-12", t),
                                                                         ("bybit", "0.0001", t)]
    tickers = [line for line in lines if line["topic"] == "md.ticker"]
    # 1e6 × 0.9999 = 999,900, × 1.0001 = 1,000,100; 250,000 / 1e6 = 0.25. Bybit has no quote at this close.
    assert [(q["venue"], q["symbol"], q["bid"], q["ask"], q["bid_qty"], q["ts_local"]) for q in tickers] == [
        ("binance", "BTC/USDT", "999900.0000", "1000100.0000", "0.25000000", t + EIGHT_H),
        ("binance", "BTC/USDT:USDT", "59994.0000", "60006.0000", "4.16666666", t + EIGHT_H)]
    assert conversion.counts == {"md.ticker": 2, "md.funding": 2, "interval:defaulted": 2,
                                 "interval:defaulted:binance": 1, "interval:defaulted:bybit": 1}
    assert conversion.venues == {"binance"}


def test_at_one_time_bars_precede_the_settlement_and_nothing_else_is_written(tmp_path: Path) -> None:
    t = T0
    history = _history(tmp_path / "bars_utc.csv.gz", [
        f"{t},x,okx,ETH,ETHUSDT,perp_linear,1,1,1,2000,1,0.0001",
        f"{t},x,okx,ETH,ETH/USDT,spot,1,1,1,1999,1,",
        f"{t + EIGHT_H},x,okx,ETH,ETHUSDT,perp_linear,1,1,1,2001,1,0.0002",
    ])
    convert_bars(history, tmp_path / "out.jsonl.gz", venues=Config().venues, backtest=BacktestConfig())
    order = [(line["topic"], line["ts_local"], line.get("symbol")) for line in _read(tmp_path / "out.jsonl.gz")]
    assert order == [("md.funding", t, "ETH/USDT:USDT"),
                     ("md.ticker", t + EIGHT_H, "ETH/USDT:USDT"), ("md.ticker", t + EIGHT_H, "ETH/USDT"),
                     ("md.funding", t + EIGHT_H, "ETH/USDT:USDT"),
                     ("md.ticker", t + 2 * EIGHT_H, "ETH/USDT:USDT")]


def _scans(tmp_path: Path, rows: list[str]) -> tuple[BarConversion, list[Opportunity]]:
    """Rows → the converter → every record through one desk (`run_desk`, paper trading, the
    backtest settings): the conversion and every opportunity scanned."""
    from arbflow.model.backtest import backtest_settings
    from arbflow.model.desk_config import desk_config
    from arbflow.model.validation import Universe, parse_record
    from arbflow.operators.asset_desk import run_desk

    config = backtest_settings(Config())
    conversion = convert_bars(_history(tmp_path / "bars_utc.csv.gz", rows), tmp_path / "out.jsonl.gz",
                              venues=config.venues, backtest=config.backtest)
    universe, settings, desk = Universe.from_config(config), desk_config(config, "paper"), None
    scanned: list[Opportunity] = []
    for line in _read(tmp_path / "out.jsonl.gz"):
        topic = str(line.pop("topic"))
        desk, out = run_desk(desk, parse_record(topic, codec.dumps(line), universe), settings)
        scanned += [o for o in out if isinstance(o, Opportunity)]
    return conversion, scanned


def _three_perps(ts: int, bybit_close: str = "60100", bybit_rate: str = "0.0003") -> list[str]:
    return [f"{ts},x,binance,BTC,BTCUSDT,perp_linear,1,1,1,60000,1,0.0001",
            f"{ts},x,bybit,BTC,BTCUSDT,perp_linear,1,1,1,{bybit_close},1,{bybit_rate}",
            f"{ts},x,okx,BTC,BTCUSDT,perp_linear,1,1,1,60050,1,0.0002"]


def test_a_leg_whose_bar_was_refused_holds_its_pairs_flat_instead_of_pricing_the_old_quote(tmp_path: Path) -> None:
    t = T0
    # the third close (at t + 24 h) moves stream time past the second, whose scan then runs
    _, scanned = _scans(tmp_path, _three_perps(t) + _three_perps(t + EIGHT_H, bybit_close="0")
                        + _three_perps(t + 2 * EIGHT_H))
    close = t + 2 * EIGHT_H  # the second close (bars opening at t + 8 h)
    assert {o.ts for o in scanned} == {t + EIGHT_H, close}, "one scan per close; the last close is not scanned"
    verdicts = {(o.long_venue, o.short_venue): o for o in scanned if o.ts == close}
    assert len(verdicts) == len([o for o in scanned if o.ts == close]), "each pair judged once per close"
    for (long, short), opportunity in verdicts.items():
        if "bybit" in (long, short):  # its last quote is 8 h old: refused, never priced
            assert opportunity.reason == reasons.VENUE_STALE, opportunity
            assert opportunity.detail == "bybit BTC/USDT:USDT: last price 28800000 ms old"  # 8 h
        else:  # binance and okx closed: priced (1 bp either side of the closes)
            assert opportunity.reason != reasons.VENUE_STALE and opportunity.long_px > 0, opportunity


def test_a_perp_bar_without_its_settlement_is_quoted_and_its_pairs_refused_once_the_rate_is_stale(
        tmp_path: Path) -> None:
    t = T0
    # (the third row set settles at t + 16 h too, in the second close's timestamp: bybit's is missing there as well)
    conversion, scanned = _scans(tmp_path, _three_perps(t) + _three_perps(t + EIGHT_H, bybit_rate="")
                                 + _three_perps(t + 2 * EIGHT_H, bybit_rate=""))
    missing = conversion.rejected
    assert [(m.source, m.reason) for m in missing] == [("bars_utc.csv.gz:6", reasons.MISSING_FIELD),
                                                       ("bars_utc.csv.gz:9", reasons.MISSING_FIELD)]
    assert conversion.counts["md.funding"] == 7 and conversion.counts["md.ticker"] == 9
    # bybit's last rate settled at t and stood for t + 8 h; at the second close's scan (t + 16 h)
    # that settlement is 8 h past with no new rate: its pairs are refused, the others judged on carry
    close = t + 2 * EIGHT_H
    verdicts = {(o.long_venue, o.short_venue): o for o in scanned if o.ts == close}
    assert verdicts
    for (long, short), opportunity in verdicts.items():
        stale = opportunity.reason == reasons.STALE_FUNDING
        assert stale == ("bybit" in (long, short)), opportunity


def test_a_backtest_trades_the_configured_assets_its_file_quotes_and_names_them() -> None:
    from arbflow.connectors.captures.bar_quotes import assumptions
    from arbflow.model.backtest import traded_universe

    config = parse_config({}, {})  # BTC, ETH, SOL configured
    traded = traded_universe(config, {"ETH", "BTC", "DOGE"})
    assert traded.universe.assets == ("BTC", "ETH")  # configured order; DOGE is not configured
    assert traded_universe(config, {"DOGE"}) is config  # none of them: unchanged, the replay says why
    rows = dict(assumptions(traded, {"binance"}))
    assert rows["desks"] == "BTC, ETH: the configured assets the file quotes, each with an equal share of 20000 USD"
    assert rows["pairs"] == "carry, spread (strategy.pair_kinds)"


def test_the_pair_kinds_are_validated_when_parsed() -> None:
    assert parse_config({"strategy": {"pair_kinds": ["carry"]}}, {}).strategy.pair_kinds == ("carry",)
    assert parse_config({}, {"ARBFLOW_STRATEGY__PAIR_KINDS": "carry,cross_carry"}).strategy.pair_kinds == (
        "carry", "cross_carry")
    for bad in ([], ["carry", "carry"], ["basis"]):
        with pytest.raises(ConfigError, match=r"strategy\.pair_kinds"):
            parse_config({"strategy": {"pair_kinds": bad}}, {})
