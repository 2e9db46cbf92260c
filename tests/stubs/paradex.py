"""Paradex stub: REST only — `/v1/markets` and `/v1/markets/summary`.

Served, recorded (fixtures/stub/PROVENANCE.md): ccxt's static test responses for
`fetchMarkets` (BTC-USD-PERP) and `fetchTickers` (the markets/summary row with
`funding_rate` and `open_interest`), recorded by ccxt from Paradex testnet (2024-06-14),
unchanged; the summary answers any `market=` query. No Paradex websocket payload is
recorded in the data we have, so the stub has no websocket data to serve.
"""

from typing import Any

from tests.stubs.recorded import STUB, load
from tests.stubs.server import Handler, Reply


class Paradex:
    name = "paradex"

    def routes(self) -> dict[tuple[str, str], Handler]:
        def recorded(name: str) -> Handler:
            return lambda request, body: load(STUB / f"paradex/{name}.json")["body"]

        return {("GET", "/v1/markets"): recorded("v1_markets"),
                ("GET", "/v1/markets/summary"): recorded("v1_markets_summary")}

    def on_text(self, path: str, text: str) -> list[Reply]:
        return []

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.v1": f"{http}/v1", "api.ws": f"{ws}/v1"}


def summary_row() -> Any:
    return load(STUB / "paradex/v1_markets_summary.json")["body"]["results"][0]
