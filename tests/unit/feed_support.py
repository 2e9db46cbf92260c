"""Driving a `VenueFeed` in the unit tests: run it until a condition holds, then stop it."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from arbflow.connectors.feeds.ccxt_feed import VenueFeed


def drive(feed: VenueFeed, out: list[Any], done: Callable[[VenueFeed, list[Any]], bool],
          timeout_s: float = 5) -> None:
    """Run `feed` until `done(feed, out)`, failing (with what it emitted) after `timeout_s`."""

    async def main() -> None:
        task = asyncio.create_task(feed.run())
        deadline = time.monotonic() + timeout_s
        while not done(feed, out):
            assert time.monotonic() < deadline, out
            await asyncio.sleep(0.005)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
