"""One module per venue, holding only what differs between venues: field names, symbol
formats, timestamp fields. Venue modules never import each other (import-linter)."""
