"""Driving `sinks.gateway.client.LiveVenue` (the real ccxt exchange class) against the trading
stubs of tests/stubs/trading.py — shared by tests/integration/test_live_venue*.py.

`gateway(stub, body)` starts a stub-pointed gateway, runs `body(venue, started)` in a fresh event loop
and closes ccxt. Time: event stamps come from a fixed `CLOCK_MS`; the gateway's monotonic
clock and sleeps (rate bucket, retry backoff) from a `ManualTimer` that advances only when
slept on, so waits are exact and cost no wall time. ccxt's own request timeout stays real
(`TIMEOUT_MS`): it is what the timeout fault trips.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from arbflow.model.execution import Order, OrderIntent, OrderType, VenueEvent
from arbflow.model.market import Side
from arbflow.operators.execution.ids import venue_client_id
from arbflow.sinks.gateway.client import LiveVenue, RetryPolicy
from arbflow.sinks.gateway.credentials import Credentials, make_exchange
from arbflow.sinks.gateway.limits import LiveLimits, Timer
from tests.stubs.server import StubServer

CLOCK_MS = 1_723_161_300_000
TIMEOUT_MS = 300
BTC_PERP = "BTC/USDT:USDT"
LIMITS = LiveLimits(max_order_notional=Decimal(5_000), max_venue_notional=Decimal(20_000),
                    orders_per_s=Decimal(10), exit_reserve=2)
T = TypeVar("T")


class ManualTimer:
    """Monotonic seconds that move only when someone sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def order(logical: str, *, venue: str = "binance", side: Side = "buy", qty: str = "0.010", px: str | None = "50000.0",
          order_type: OrderType = "limit", symbol: str = BTC_PERP, status: str = "new",
          filled: str = "0") -> Order:
    """An `Order` as the desk emits it (venue client id derived by operators.execution.ids)."""
    return Order(client_order_id=logical, venue_client_id=venue_client_id(logical, venue), trade_id="BTC_1_0",
                 venue=venue, symbol=symbol, side=side, order_type=order_type, qty=Decimal(qty),
                 limit_px=None if px is None else Decimal(px), status=status,  # type: ignore[arg-type]
                 filled_qty=Decimal(filled), ts=CLOCK_MS)


def cancel(target: Order, reason: str = "ORDER_TIMEOUT") -> OrderIntent:
    """The desk's cancel intent for `target` (priority 0)."""
    return OrderIntent(intent_id=f"cancel:{target.client_order_id}", trade_id=target.trade_id, kind="cancel",
                       venue=target.venue, symbol=target.symbol, side=target.side, qty=target.qty,
                       order_type=target.order_type, limit_px=target.limit_px, priority=0, reason=reason,
                       ts=CLOCK_MS)


def gateway(stub: StubServer, body: Callable[[LiveVenue, list[VenueEvent]], Awaitable[T]], *,
            limits: LiveLimits = LIMITS, timer: ManualTimer | None = None, credentials: Credentials,
            known: list[Order] | None = None, attempts: int = 4, stream: bool = False) -> T:
    """Run `body(venue, events of start())` on a gateway reconciled against `known`, then close it."""
    manual = timer or ManualTimer()

    async def main() -> T:
        exchange = make_exchange(stub.venue.name, credentials, stub.endpoints)
        exchange.timeout = TIMEOUT_MS
        # ccxt's request-weight throttle models the real venue's limits (an open-order sweep
        # without a symbol weighs 40 × 50 ms); the stub has none, and the gateway's own order
        # bucket is what these tests exercise.
        exchange.enableRateLimit = False
        venue = LiveVenue(stub.venue.name, exchange, limits, clock_ms=lambda: CLOCK_MS,
                          timer=Timer(now=manual.now, sleep=manual.sleep),
                          retry=RetryPolicy(attempts=attempts, initial_s=0.05, max_s=0.2), stream=stream)
        try:
            started = await venue.start(known or [])
            return await body(venue, started)
        finally:
            await venue.close()

    return asyncio.run(main())


def posts(stub: StubServer, path: str) -> list[dict[str, Any]]:
    """Parameters of every POST to `path` the stub saw, in order."""
    return [params for method, p, params in stub.venue.requests if method == "POST" and p == path]


def submit_in_turn(stub: StubServer, *batches: Sequence[object], credentials: Credentials,
                   known: Sequence[object] | None = None) -> list[VenueEvent]:
    """The events of `start()` and of each batch submitted in turn, on a gateway reconciled
    against `known`."""
    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        events = list(started)
        for batch in batches:
            events += await venue.submit(batch)  # type: ignore[arg-type]
        return events
    return gateway(stub, body, credentials=credentials, known=known)  # type: ignore[arg-type]
