"""The live venue gateway: the desk's orders become real venue orders through ccxt, and the
venues' answers come back as `VenueEvent`s — the client (`client`), one lane per venue
(`lane`), ccxt payloads (`orders`), caps and the order-rate bucket (`limits`), keys
(`credentials`), and each venue's facts in its profile (`profile`, `venues/`)."""
