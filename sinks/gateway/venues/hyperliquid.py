"""Hyperliquid for live trading through ccxt's `hyperliquid` class.

A wallet, not an API key: the key is the wallet's address, the secret its private key (every
request is signed in its body). Batches of up to 20 orders; client ids are 128-bit `0x…`
cloids. Its order path is not exercised against a stub yet.
"""

from arbflow.sinks.gateway.profile import VenueProfile

PROFILE = VenueProfile(
    name="hyperliquid",
    ccxt_id="hyperliquid",
    key_fields=("walletAddress", "privateKey"),
    batch_limit=20,
)
