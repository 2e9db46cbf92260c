"""Creating a ccxt.pro exchange for a venue, pointing it at other endpoints, loading its
markets with retries, and resolving `--symbols` to the markets a feed watches.

Endpoints: `urls` maps dotted paths inside ccxt's `exchange.urls` to replacement URLs,
e.g. `{"api.ws.linear": "ws://127.0.0.1:8765/linear/ws", "api.fapiPublic":
"http://127.0.0.1:8765/fapi/v1"}` — for testnets, proxies and the stub servers of the
tests. A path ccxt does not have is a `ConfigError` (a typo must not silently reach the
real exchange).

Errors: ccxt's exceptions are translated here and in `ccxt_feed` only. Markets that do not
load after `attempts` tries (network errors, retried with exponential backoff and jitter)
raise `FeedUnavailable`; a venue refusing the request (`ExchangeError`) raises it at once.
"""

import copy
import difflib
import importlib
from collections.abc import Callable, Mapping
from typing import Any

import ccxt
import ccxt.pro
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from arbflow.connectors.feeds.normalise import FeedMarket, feed_market
from arbflow.connectors.feeds.spec import LIVE_VENUES, LiveSpec
from arbflow.connectors.payload import PayloadError
from arbflow.model.errors import ArbflowError, ConfigError, FeedUnavailable

ExchangeFactory = Callable[[str, dict[str, Any]], Any]  # (ccxt id, ccxt config) → ccxt.pro exchange


class UnknownSymbol(ArbflowError):
    """`--symbols` names something a venue does not list; `suggestions` are the closest."""

    def __init__(self, venue: str, wanted: str, suggestions: list[str]) -> None:
        hint = f"; closest: {', '.join(suggestions)}" if suggestions else ""
        super().__init__(f"{venue} has no market for {wanted}{hint}")
        self.venue, self.wanted, self.suggestions = venue, wanted, suggestions


def live_spec(venue: str) -> LiveSpec:
    """The `LIVE` spec of `connectors/venues/<venue>.py`; ConfigError for other venues."""
    if venue not in LIVE_VENUES:
        raise ConfigError("--venues", f"no live feed for {venue!r}; available: {', '.join(LIVE_VENUES)}")
    spec = importlib.import_module(f"arbflow.connectors.venues.{venue}").LIVE
    assert isinstance(spec, LiveSpec)
    return spec


def _default_factory(ccxt_id: str, config: dict[str, Any]) -> Any:
    return getattr(ccxt.pro, ccxt_id)(config)


def set_url(urls: dict[str, Any], path: str, url: str, *, venue: str) -> None:
    """Replace the URL at dotted `path` inside ccxt's `urls`; ConfigError if it is not there."""
    *parents, leaf = path.split(".")
    node: Any = urls
    for name in parents:
        node = node.get(name) if isinstance(node, dict) else None
    if not isinstance(node, dict) or not isinstance(node.get(leaf), str):
        raise ConfigError(f"endpoints.{venue}.{path}", "ccxt has no URL at this path")
    node[leaf] = url


def create_exchange(venue: str, spec: LiveSpec, *, urls: Mapping[str, str] | None = None,
                    factory: ExchangeFactory | None = None) -> Any:
    """A ccxt.pro exchange for `venue` with the spec's options and `urls` applied. Nothing
    is opened until the first call; the caller must `await exchange.close()`."""
    config: dict[str, Any] = {"enableRateLimit": True, "options": copy.deepcopy(dict(spec.ccxt_options))}
    if spec.ccxt_has:
        config["has"] = dict(spec.ccxt_has)  # ccxt deep-merges it into its own flags
    exchange = (factory or _default_factory)(spec.ccxt_id, config)
    for path, url in (urls or {}).items():
        set_url(exchange.urls, path, url, venue=venue)
    return exchange


async def with_retries(what: str, call: Callable[[], Any], *, attempts: int, initial_s: float = 0.5,
                       max_s: float = 10.0) -> Any:
    """Await `call()`; network errors are retried (exponential backoff with jitter) up to
    `attempts` times; any ccxt error left becomes `FeedUnavailable(what: …)`."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(ccxt.NetworkError), stop=stop_after_attempt(attempts),
                             wait=wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s),
                             reraise=True)
    try:
        return await retrying(call)
    except ccxt.BaseError as error:
        raise FeedUnavailable(f"{what}: {type(error).__name__}: {error}") from error


async def load_markets(venue: str, exchange: Any, *, attempts: int = 4) -> dict[str, Any]:
    """ccxt's markets of the venue (symbol → market dict)."""
    markets: dict[str, Any] = await with_retries(f"{venue} markets", exchange.load_markets, attempts=attempts)
    return markets


def _bases(markets: Mapping[str, Any]) -> list[str]:
    return sorted({str(m.get("base")) for m in markets.values() if m.get("base")})


def resolve(venue: str, spec: LiveSpec, markets: Mapping[str, Any], wanted: list[str]) -> list[FeedMarket]:
    """The markets to watch for `wanted` base assets (`BTC` → the venue's USDT spot and
    linear perp, per the spec's quote/settle preferences) or ccxt symbols
    (`BTC/USDT:USDT`). Raises `UnknownSymbol` with difflib's closest matches."""
    chosen: list[FeedMarket] = []
    for item in wanted:
        if "/" in item:
            names = [item] if item in markets else []
            pool = sorted(markets)
        else:
            spot = next((f"{item}/{q}" for q in spec.spot_quotes if f"{item}/{q}" in markets), None)
            perps = (f"{item}/{q}:{s}" for s in spec.perp_settles for q in (spec.perp_quotes or (s,)))
            perp = next((name for name in perps if name in markets), None)
            names = [n for n in (spot, perp) if n is not None]
            pool = _bases(markets)
        if not names:
            raise UnknownSymbol(venue, item, difflib.get_close_matches(item, pool, n=5, cutoff=0.5))
        for name in names:
            ccxt_market = markets[name]
            try:
                chosen.append(feed_market(venue, ccxt_market, spec.venue_symbol(ccxt_market)))
            except PayloadError as error:
                raise UnknownSymbol(venue, f"{name} ({error.detail})", []) from None
    return chosen
