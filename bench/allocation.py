"""`make bench` (portfolio risk): the time of one portfolio decision over 200 synthetic
candidates — the allocator (30 days of 8 h carry each, correlations among the kept 20,
sector caps, hysteresis) plus the margin simulation of a unified Binance account holding
one perp per candidate (200 positions with liquidation moves, before and after the
allocation's entries) and the gates' verdicts on those entries. Median of `--runs`.

Synthetic data, seeded: carry per 8 h ~ N(μ_i, σ_i) with μ_i in 0–3 bp and σ_i in
0.5–3 bp, 40 assets over 8 sectors; positions of $2,000–$20,000 notional.
"""

import argparse
import random
import statistics
import time
from decimal import Decimal

from arbflow.model.config import Config, parse_config
from arbflow.model.risk import (
    AllocationRequest,
    Candidate,
    CarryPoint,
    CollateralBalance,
    MarginAccount,
    PerpPosition,
    ProposedOrder,
)
from arbflow.operators.portfolio.allocator import allocate
from arbflow.operators.portfolio.margin import simulate
from arbflow.operators.portfolio.risk_gates import assess

NOW = 1_717_200_000_000
H8 = 8 * 3_600_000
SECTORS = ("bitcoin", "smart-contract-l1", "ethereum-l2", "meme", "ai", "exchange", "payments", "oracle")


def _candidates(rng: random.Random, n: int) -> tuple[Candidate, ...]:
    out = []
    for i in range(n):
        mean, sd = rng.uniform(0.0, 0.0003), rng.uniform(0.00005, 0.0003)
        history = tuple(CarryPoint(ts=NOW - k * H8, carry_8h=Decimal(f"{rng.gauss(mean, sd):.8f}"),
                                   spread=Decimal(f"{rng.gauss(0.0005, 0.0002):.8f}")) for k in range(90))
        out.append(Candidate(pair_id=f"pair{i:03}", asset=f"A{i % 40:02}", sector=SECTORS[i % 40 % 8],
                             carry_8h=Decimal(f"{rng.gauss(mean, sd):.8f}"), history=history,
                             round_trip_cost_bps=Decimal(rng.choice(["14", "24", "30"])),
                             current_notional=Decimal(rng.choice([0, 0, 0, 5000]))))
    return tuple(out)


def _account(rng: random.Random, candidates: tuple[Candidate, ...]) -> MarginAccount:
    positions = []
    for c in candidates:
        mark = Decimal(rng.choice(["0.5", "12", "150", "3000"]))
        qty = (Decimal(rng.randint(2_000, 20_000)) / mark).quantize(Decimal("0.001"))
        positions.append(PerpPosition(venue="binance", symbol=f"{c.pair_id.upper()}/USDT:USDT", side="short",
                                      qty=qty, entry_px=mark * Decimal("0.99"), mark_px=mark,
                                      quality=rng.random(), pair_id=c.pair_id))
    return MarginAccount(venue="binance", collateral=(
        CollateralBalance(asset="USDT", balance=Decimal(1_500_000), price=Decimal(1)),
        CollateralBalance(asset="BTC", balance=Decimal(20), price=Decimal(60_000))), positions=tuple(positions))


def _decision(config: Config, request: AllocationRequest, account: MarginAccount) -> tuple[float, float, float]:
    started = time.perf_counter()
    allocation = allocate(request, config.allocation)
    allocated = time.perf_counter()
    marks = {p.pair_id: p.mark_px for p in account.positions}
    orders = [ProposedOrder(order_id=f"entry_{a.pair_id}", venue="binance", symbol=f"{a.pair_id.upper()}/USDT:USDT",
                            side="sell", qty=(a.change / marks[a.pair_id]).quantize(Decimal("0.001")),
                            px=marks[a.pair_id]) for a in allocation.adjustments if a.kind in ("enter", "increase")]
    simulate(account, orders, config.margin, config.venues)
    simulated = time.perf_counter()
    assess(account, orders, [o.order_id for o in orders], config.margin, config.venues)
    gated = time.perf_counter()
    return allocated - started, simulated - allocated, gated - simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7, help="decisions timed (median reported)")
    args = parser.parse_args()
    rng = random.Random(7)
    config = parse_config({}, {})
    candidates = _candidates(rng, args.candidates)
    request = AllocationRequest(equity=Decimal(2_000_000), ts=NOW, candidates=candidates)
    account = _account(rng, candidates)
    _decision(config, request, account)  # warm-up (decoder caches, imports)
    times = [_decision(config, request, account) for _ in range(args.runs)]
    parts = [statistics.median(t[i] for t in times) * 1000 for i in range(3)]
    totals = [sum(t) * 1000 for t in times]
    print(f"portfolio decision over {args.candidates} candidates and {len(account.positions)} positions "
          f"(median of {args.runs}):")
    print(f"  allocation (ratios, correlation of the kept 20, caps, hysteresis)  {parts[0]:8.1f} ms")
    print(f"  margin simulation (health, 200 liquidation moves, before/after)     {parts[1]:8.1f} ms")
    print(f"  gates (per-order verdicts, aborts, de-leveraging)                   {parts[2]:8.1f} ms")
    print(f"  total per decision  median {statistics.median(totals):8.1f} ms  "
          f"(min {min(totals):.1f}, max {max(totals):.1f})")


if __name__ == "__main__":
    main()
