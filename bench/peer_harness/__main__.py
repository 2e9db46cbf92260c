"""Every implementation in ONE process (one ratio reference per market and stream): the
baselines, arbflow, cryptofeed, and NautilusTrader when it is installed.

Run from the repository root: `.peers-venv/bin/python -m bench.peer_harness` (what `make
bench-peers` does). Summary and full table on stdout, per-run lines on stderr. Environment:
PEER_RUNS (3), PEER_MIN_MSGS (100000), PEER_MIN_DEPTH_MSGS (25000), PEER_DATA.
"""
import asyncio
import importlib.util
import logging
import sys

from bench.peer_harness import arbflow_peer as af
from bench.peer_harness import common as c


def main() -> None:
    logging.getLogger("feedhandler").setLevel(logging.ERROR)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with_cf = importlib.util.find_spec("cryptofeed") is not None
    with_nt = importlib.util.find_spec("nautilus_trader") is not None
    if with_cf:
        from bench.peer_harness import cryptofeed_peer as cf
    else:
        print("cryptofeed is not installed here: its rows are left out (make bench-peers installs it)", file=sys.stderr)
    if with_nt:
        from nautilus_trader.common.component import LiveClock

        from bench.peer_harness import nautilus_peer as nt
        clock = LiveClock()
    else:
        print("nautilus_trader is not installed here: its rows are left out", file=sys.stderr)
    cases = []
    for name in ("spot", "usdm"):
        mk = c.load_market(name)
        cases += c.baseline_cases(mk, with_json=False)
        af.sanity(mk)
        cases += af.cases_for(mk)
        if with_cf:
            cf.sanity(mk, loop)
            cases += cf.cases_for(mk, loop)
        if with_nt:
            cases += nt.cases_for(mk, loop, clock)
    c.run_and_print(cases)


if __name__ == "__main__":
    main()
