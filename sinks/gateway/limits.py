"""Limits of the live venue gateway (docs/architecture.md §3.7 "Live"): notional caps and the
order-rate bucket with its reserve for de-risking orders.

- `LiveLimits.max_order_notional` caps one order: `qty × limit_px` (quote currency) after
  rounding to the venue's tick and lot. Applies to every order.
- `LiveLimits.max_venue_notional` caps what the gateway has at risk on the venue: open
  orders' unfilled notional plus, per symbol, |net filled qty| × its last fill price. It
  applies to entries only: de-risking orders (hedges, unwinds, exits) and cancels reduce
  risk and are never refused for it.
- `OrderBucket` is a leaky bucket of `orders_per_s` tokens per second holding at most one
  second's worth (`capacity = max(orders_per_s, 1 + exit_reserve)`); every order or cancel
  sent takes one token. Entries may not take the last `exit_reserve` tokens: they wait
  until `1 + exit_reserve` are there, while cancels and de-risking orders go whenever one is.

Time is seconds of a monotonic clock, read only through the injected `Timer` (tests drive
a manual one), so the bucket's waits are exact and testable.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveLimits:
    """Caps of one venue's gateway. Notionals in the quote currency (USDT); `orders_per_s`
    orders (and cancels) per second; `exit_reserve` tokens only de-risking orders may use."""

    max_order_notional: Decimal
    max_venue_notional: Decimal
    orders_per_s: Decimal
    exit_reserve: int = 2

    def __post_init__(self) -> None:
        if self.max_order_notional <= 0 or self.max_venue_notional <= 0:
            raise ConfigError("live.limits", "notional caps must be positive")
        if self.orders_per_s <= 0:
            raise ConfigError("live.limits.orders_per_s", "must be positive")
        if self.exit_reserve < 0:
            raise ConfigError("live.limits.exit_reserve", "must be ≥ 0")


@dataclass(frozen=True, slots=True)
class Timer:
    """The gateway's clock seam: `now()` monotonic seconds, `sleep(s)` waits that long."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class OrderBucket:
    """Leaky bucket of order tokens (see the module docstring). Not thread-safe: one event
    loop owns the gateway. Waiters are served in call order per class (reserved vs entry)."""

    def __init__(self, limits: LiveLimits, timer: Timer) -> None:
        self.rate = float(limits.orders_per_s)  # tokens per second: a rate, not money
        self.reserve = limits.exit_reserve
        self.capacity = max(self.rate, 1.0 + self.reserve)
        self.timer = timer
        self.tokens = self.capacity
        self.stamp = timer.now()
        self.waited_s = 0.0  # total time spent waiting (for metrics and tests)

    def _refill(self) -> None:
        now = self.timer.now()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, *, reserved: bool) -> None:
        """Take one token; `reserved` (cancels, de-risking orders) may use the reserve."""
        floor = 1.0 if reserved else 1.0 + self.reserve
        while True:
            self._refill()
            if self.tokens >= floor - 1e-9:
                self.tokens -= 1.0
                return
            wait_s = (floor - self.tokens) / self.rate
            self.waited_s += wait_s
            await self.timer.sleep(wait_s)
