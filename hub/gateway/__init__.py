"""The WebSocket gateway: authenticate, decode, authorize, route to actors, push live events."""
