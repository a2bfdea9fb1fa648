"""Helpers shared by the test suites: real servers (Postgres, Redis) and tenant fixtures."""
