"""When a desk scans (`signals.scan_on`, docs/architecture.md §3.6), through `run_desk`: at the
price update that finds a scan due (the live and tick default), or once stream time moves
past that update's timestamp (the backtest's), so a bar close is scanned once with all of
its quotes and its settlement in."""

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

from arbflow.model.config import Config, ScanOn, UniverseConfig
from arbflow.model.desk_config import desk_config
from arbflow.model.market import ClockTick, FundingRate, Ticker
from arbflow.model.signals import Opportunity
from arbflow.operators.asset_desk import AssetDesk, run_desk

T = 1_672_560_000_000  # a bar close
H8 = 8 * 3_600_000


def _records() -> list[Any]:
    quote = {"bid_qty": D(4), "ask_qty": D(4), "ts_exchange": T, "ts_local": T}
    return [Ticker(venue="binance", symbol="BTC/USDT:USDT", market="perp", bid=D(60_020), ask=D(60_030), **quote),
            Ticker(venue="binance", symbol="BTC/USDT", market="spot", bid=D(59_995), ask=D(60_005), **quote),
            FundingRate(venue="binance", symbol="BTC/USDT:USDT", market="perp", rate=D("0.0003"), interval_ms=H8,
                        next_funding_time=T + H8, ts_local=T)]


def _scans(scan_on: ScanOn, records: list[Any]) -> list[list[Opportunity]]:
    """Per record fed, the opportunities it brought out (signals only, the funding rule off)."""
    config = Config(universe=UniverseConfig(assets=("BTC",)))
    config = replace(config, signals=replace(config.signals, scan_on=scan_on, funding_silent_after_s=0))
    settings, desk, out = desk_config(config, None), AssetDesk(), []
    for record in records:
        desk, produced = run_desk(desk, record, settings)
        out.append([o for o in produced if type(o) is Opportunity])
    return out


def test_price_update_scans_at_the_first_ticker_of_the_close_before_the_other_leg_is_in() -> None:
    # the perp's ticker scans at once: the spot leg is not in yet, no pair to judge; the spot
    # ticker of the same close comes within scan_interval_ms of that scan, so it scans nothing
    assert _scans("price_update", _records()) == [[], [], []]


def test_timestamp_complete_scans_once_when_stream_time_moves_past_the_close() -> None:
    *at_close, later, again = _scans("timestamp_complete", [*_records(), ClockTick(ts=T + 1), ClockTick(ts=T + 2)])
    assert at_close == [[], [], []]  # nothing while records of T may still come
    assert later and {o.ts for o in later} == {T}  # the scan of T, run at T + 1 ms
    [carry] = [o for o in later if o.long_market == "spot"]  # both legs and the settlement of T are in
    assert carry.carry_8h == D("0.0003") and carry.long_px > 0 and carry.short_px > 0
    assert again == []  # one scan per timestamp


def test_timestamp_complete_judges_a_closes_basis_once_with_both_legs_of_that_close() -> None:
    """Two closes 8 h apart; the price rises 2 % between them. The perp's close of T + 8 h comes
    first: judged per record it would pair 61,225 with the spot's 60,000 of T (+204 bps, a
    price move, not a basis). Judged once T + 8 h is complete, with its spot close in: +4.08 bps."""
    from arbflow.model.signals import BasisPoint

    quote = {"bid_qty": D(4), "ask_qty": D(4)}
    later = T + H8

    def tick(symbol: str, market: str, bid: int, ask: int, ts: int) -> Ticker:
        return Ticker(venue="binance", symbol=symbol, market=market, bid=D(bid), ask=D(ask),  # type: ignore[arg-type]
                      ts_exchange=ts, ts_local=ts, **quote)

    records = [tick("BTC/USDT:USDT", "perp", 60_020, 60_030, T), tick("BTC/USDT", "spot", 59_995, 60_005, T),
               tick("BTC/USDT:USDT", "perp", 61_220, 61_230, later), tick("BTC/USDT", "spot", 61_195, 61_205, later),
               ClockTick(ts=later + 1)]
    config = Config(universe=UniverseConfig(assets=("BTC",)))
    config = replace(config, signals=replace(config.signals, scan_on="timestamp_complete", funding_silent_after_s=0))
    settings, desk = desk_config(config, None), AssetDesk()
    points: list[BasisPoint] = []
    for record in records:
        desk, produced = run_desk(desk, record, settings)
        points += [p for p in produced if type(p) is BasisPoint]
    assert [(p.ts, p.spot_mid, p.perp_mid) for p in points] == [(T, D(60_000), D(60_025)),
                                                                (later, D(61_200), D(61_225))]
    assert [round(p.basis_bps, 2) for p in points] == [D("4.17"), D("4.08")]
