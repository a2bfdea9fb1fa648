"""Live events: the bus that fans them out to sockets, and the outbox relay that feeds it."""
