"""The venues the live gateway trades: one module per venue, each holding its `PROFILE`
(sinks/gateway/profile.py), and this table of them by name. A venue module imports only
the profile's type, never another venue.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from arbflow.model.errors import ConfigError
from arbflow.sinks.gateway.profile import VenueProfile
from arbflow.sinks.gateway.venues import binance, bybit, hyperliquid, okx

PROFILES: Final[Mapping[str, VenueProfile]] = MappingProxyType(
    {p.name: p for p in (binance.PROFILE, bybit.PROFILE, okx.PROFILE, hyperliquid.PROFILE)})


def profile(venue: str) -> VenueProfile:
    """The profile of `venue`; a `ConfigError` naming the available ones when it has none."""
    found = PROFILES.get(venue)
    if found is None:
        raise ConfigError("venue", f"no live gateway for {venue!r}; available: {', '.join(PROFILES)}")
    return found
