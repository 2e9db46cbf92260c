"""The carry the backtest trades is one the live scanner accepts: the first four months of the
bundled 8 h bars through the paper desks with the backtest's settings (flows/engine_run.py's
loop), stopped at each close where the desks entered a trade; the desk's market at that close
is then scanned under the live configuration (the defaults: `maker_first` order style, scans
on price updates, the funding-silence rule on) — the entered pair is accepted there too, with
its carry rule's numbers."""

from pathlib import Path

from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, bar_items
from arbflow.flows.engine_run import order_items
from arbflow.model.backtest import backtest_settings, traded_universe
from arbflow.model.config import parse_config
from arbflow.model.desk_config import desk_config
from arbflow.model.execution import PairTrade
from arbflow.model.signals import Opportunity
from arbflow.model.symbols import base_asset
from arbflow.operators.asset_desk import AssetDesk, run_desk
from arbflow.operators.signals.desk_signals import scan_market
from tests.conftest import bars_before

END_MS = 1_682_899_200_000  # 2023-05-01 00:00 UTC


def test_every_entry_of_the_backtest_is_accepted_by_the_live_scanner_on_that_close(tmp_path: Path) -> None:
    backtest = backtest_settings(parse_config({}, {}))
    conversion = BarConversion()
    items = list(bar_items(bars_before(tmp_path / "four_months_utc.csv.gz", END_MS), venues=backtest.venues,
                           model=QuoteModel.from_config(backtest.backtest), conversion=conversion))
    backtest = traded_universe(backtest, conversion.assets)
    live = desk_config(traded_universe(parse_config({}, {}), conversion.assets), "paper")
    assert (live.strategy.order_style, live.signals.scan_on) == ("maker_first", "price_update")
    settings = desk_config(backtest, "paper")
    desks: dict[str, AssetDesk] = {}
    checked = 0
    for record in order_items(items):
        asset = base_asset(record.symbol)
        desks[asset], out = run_desk(desks.get(asset), record, settings)
        for entry in (t for t in out if type(t) is PairTrade and t.status == "pending"):
            desk = desks[asset]
            scanned = scan_market(desk.signals, desk.market, entry.ts, live)
            [pair] = [o for o in scanned if type(o) is Opportunity and (o.long_venue, o.long_symbol, o.short_venue,
                                                                         o.short_symbol) ==
                      (entry.long_venue, entry.long_symbol, entry.short_venue, entry.short_symbol)]
            assert pair.accepted, pair.detail
            assert pair.detail is not None and "> margin" in pair.detail
            checked += 1
    assert checked >= 4  # the carries entered in the first months
