"""Paradex live path, offline, REST only: the real `ccxt.pro.paradex` loads its markets
from the stub (ccxt's recorded `fetchMarkets` response) and polls funding from the recorded
markets summary → normaliser → Tansu → read back.

What this shows: the venue is wired (`--venues paradex`), `BTC` resolves to the USD-quoted,
USDC-settled perp, and a Paradex funding row — which has no settlement time, Paradex funding
being continuous — is refused to `dlq.md.funding` as MISSING_FIELD with its raw row, not
published with an invented time (see connectors/venues/paradex.py).

Not covered: the websocket streams (book, trades, ticker): no Paradex websocket payload is
recorded in the data we have."""

import json

import pytest

from arbflow.model import reasons, topics
from arbflow.model.config import Config
from tests.integration.ingest_support import dead_letters, ingest
from tests.stubs.paradex import Paradex, summary_row
from tests.stubs.server import StubServer

pytestmark = pytest.mark.integration


def test_paradex_markets_load_and_its_continuous_funding_is_refused_not_invented(config: Config) -> None:
    with StubServer(Paradex()) as stub:
        run = ingest(config, stub, ["BTC"], streams=("funding",),
                     until=lambda r: r.emitter.counts[topics.dlq_topic(topics.MD_FUNDING)] >= 1)
        hits = dict(stub.rest_hits)
    [market] = run.feed.markets
    assert (market.ccxt_symbol, market.symbol, market.market) == ("BTC/USD:USDC", "BTC/USD:USDC", "perp")
    rejected = dead_letters(run, topics.MD_FUNDING)[0]
    assert (rejected.reason, rejected.source) == (reasons.MISSING_FIELD, "paradex:md.funding:BTC/USD:USDC")
    assert rejected.detail == "next_funding_time: ccxt gave no fundingTimestamp"
    assert json.loads(rejected.raw) == summary_row()  # the recorded row, funding_rate "0.00749938923192"
    assert not run.read(topics.MD_FUNDING) and not stub.unhandled
    assert hits["/v1/markets"] == 1 and hits["/v1/markets/summary"] >= 1
