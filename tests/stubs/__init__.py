"""Local stub exchanges for the live-feed tests (no internet here): `server.StubServer`
plus one module per venue answering ccxt.pro with recorded payloads."""
