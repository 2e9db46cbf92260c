"""Venue client order ids (docs/architecture.md §3.9): each venue's rule for the ids it accepts, and the
deterministic id arbflow derives from a logical order id under that rule.

The id sent to a venue is `af` + the unpadded lower-case base32 of SHA-256(logical id), cut to
the venue's limit (≥ 130 bits everywhere), or a 128-bit `0x…` hex cloid on Hyperliquid. The
execution desk derives it (operators) and the live gateway recognises its own orders by the
rule's prefix (sinks): both read this one table.
"""

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class ClientIdRule:
    """How one venue takes client order ids: `kind` "base32" (prefix + base32 body cut so the
    whole id is at most `max_len`) or "hex128" (`0x` + 32 hex digits); `pattern` validates.
    Every id arbflow derives for the venue starts with `prefix`."""

    kind: Literal["base32", "hex128"]
    max_len: int
    prefix: str
    pattern: str


# Venue rules (each venue's order API): OKX clOrdId 1–32 case-sensitive alphanumerics;
# Binance newClientOrderId ≤ 36 of [.A-Z:/a-z0-9_-]; Bybit orderLinkId ≤ 36 of letters, digits,
# - and _; KuCoin clientOid ≤ 40; Gate `text` "t-" + ≤ 28 of [0-9A-Za-z_.-]; Hyperliquid cloid a
# 128-bit hex. Venues without a rule of their own (bitget, paradex and the data venues) get the
# strictest common shape, 32 alphanumerics.
_ALNUM32 = ClientIdRule("base32", 32, "af", r"[A-Za-z0-9]{1,32}")
VENUE_RULES: Final[dict[str, ClientIdRule]] = {
    "okx": _ALNUM32,
    "binance": ClientIdRule("base32", 36, "af", r"[.A-Z:/a-z0-9_-]{1,36}"),
    "bybit": ClientIdRule("base32", 36, "af", r"[A-Za-z0-9_-]{1,36}"),
    "kucoin": ClientIdRule("base32", 40, "af", r"[A-Za-z0-9_-]{1,40}"),
    "gate": ClientIdRule("base32", 30, "t-af", r"t-[0-9A-Za-z_.-]{1,28}"),
    "hyperliquid": ClientIdRule("hex128", 34, "0x", r"0x[0-9a-f]{32}"),
}
DEFAULT_RULE: Final = _ALNUM32


def rule(venue: str) -> ClientIdRule:
    """The client-id rule of `venue` (the 32-alphanumeric default where none is known)."""
    return VENUE_RULES.get(venue, DEFAULT_RULE)


def venue_client_id(logical_id: str, venue: str) -> str:
    """The id sent to `venue` for `logical_id`: deterministic, within the venue's rule."""
    digest = hashlib.sha256(logical_id.encode()).digest()
    found = rule(venue)
    if found.kind == "hex128":
        return found.prefix + digest[:16].hex()
    body = base64.b32encode(digest).decode().rstrip("=").lower()
    return found.prefix + body[: found.max_len - len(found.prefix)]


def is_valid(venue_id: str, venue: str) -> bool:
    """True when `venue_id` satisfies the venue's length and character rules."""
    return re.fullmatch(rule(venue).pattern, venue_id) is not None
