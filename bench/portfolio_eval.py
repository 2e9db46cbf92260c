"""`make bench` (issue 7 evaluation): the multi-pair portfolio against the best single pair
over the bundled 18 months of 8h BTC/ETH data on Binance, Bybit and OKX — the table of
`arbflow study portfolio` (annualised return, daily Sharpe, max drawdown, utilisation,
turnover, fees, refusals, de-leverings, liquidations) and the time each phase took.
"""

import argparse
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from arbflow.connectors.captures.funding_study_data import read_series
from arbflow.model.config import parse_config
from arbflow.operators.study import portfolio_eval
from arbflow.operators.study.carry import StudyParams
from arbflow.reports.portfolio import notes, table

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--capital", default="100000", help="USD")
    args = parser.parse_args()
    config = parse_config({}, {})
    capital = Decimal(args.capital)
    started = time.perf_counter()
    _, data = read_series(args.data, venues=config.venues)
    read = time.perf_counter()
    cfg = portfolio_eval.RunConfig(capital=capital, allocation=config.allocation, margin=config.margin,
                                   venues=config.venues)
    evaluation = portfolio_eval.evaluate(data.funding, data.candles, cfg, StudyParams(notional=capital))
    done = time.perf_counter()
    console = Console(highlight=False, width=200)
    console.print(table(evaluation, f"portfolio evaluation — {args.data.name}, capital {capital:,} USD"))
    for line in notes(evaluation):
        console.print(line)
    print(f"  read {read - started:.1f} s, {len(evaluation.candidates)} pairs simulated and "
          f"{evaluation.portfolio.steps} allocator steps in {done - read:.1f} s")


if __name__ == "__main__":
    main()
