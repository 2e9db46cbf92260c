"""The portfolio is every configured desk from the first report on: a desk that has not
reported yet holds its share of the capital, available (issue 17: "the dashboard shows one
desk as the portfolio")."""

from decimal import Decimal as D

from arbflow.flows.replay import ReplaySummary
from arbflow.model import topics
from arbflow.model.config import parse_config
from arbflow.model.desk_config import desk_capital
from arbflow.model.portfolio import PortfolioState, every_desk, opening_state


def _desk(asset: str, capital: str, open_notional: str, pnl: str, ts: int) -> PortfolioState:
    return PortfolioState(starting_capital=D(capital), available=D(capital) + D(pnl) - D(open_notional),
                          open_notional=D(open_notional), realised_pnl=D(pnl), unrealised_pnl=D(0),
                          cumulative_pnl=D(pnl), open_positions=1, closed_trades=0, win_count=0, loss_count=0,
                          leg_out_count=0, leg_out_loss=D(0), asset=asset, ts=ts)


def test_desk_capital_is_an_equal_share_of_the_starting_capital_per_configured_asset() -> None:
    config = parse_config({"universe": {"assets": ["BTC", "ETH"]}, "execution": {"starting_capital": "20000"}}, {})
    assert desk_capital(config) == {"BTC": D(10_000), "ETH": D(10_000)}


def test_every_desk_counts_a_silent_desk_with_its_capital_available_when_one_desk_reported() -> None:
    btc = _desk("BTC", "10000", "5495", "0", 1_000)
    desks = every_desk([btc], {"BTC": D(10_000), "ETH": D(10_000)})
    assert desks == [btc, opening_state("ETH", D(10_000))]
    # 4,505 of BTC's 10,000 plus all of ETH's 10,000 (the issue saw 4,505 as "the portfolio")
    assert sum((d.available for d in desks), D(0)) == D(14_505)
    assert sum((d.starting_capital for d in desks), D(0)) == D(20_000)
    assert desks[1].open_notional == 0 and desks[1].ts == 0 and desks[1].margin_health is None


def test_every_desk_leaves_out_a_ledger_of_an_asset_no_longer_configured() -> None:
    stale = _desk("DOGE", "5000", "0", "3", 500)
    assert [d.asset for d in every_desk([stale], {"BTC": D(10_000)})] == ["BTC"]


def test_the_replay_totals_sum_every_configured_desk_when_only_one_published_a_state() -> None:
    summary = ReplaySummary(files={}, traded=True, starting_capital=D(20_000),
                            desks={"BTC": D(10_000), "ETH": D(10_000)},
                            outputs={topics.PORTFOLIO_STATE: [_desk("BTC", "10000", "4000", "-1.51", 1_000),
                                                              _desk("BTC", "10000", "5495", "-1.51", 2_000)]})
    totals = summary.trading_json()
    # BTC: 10,000 − 1.51 − 5,495 = 4,503.49 available; ETH: 10,000 untouched
    assert (totals["available"], totals["open_notional"], totals["realised_pnl"]) == ("14503.49", "5495", "-1.51")
    assert (totals["desks"], totals["desks_reported"]) == (2, 1)
