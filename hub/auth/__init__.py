"""Authentication and authorization: principals, passwords, sessions, tokens, rate limits."""
