"""Typed messages: wire commands and their replies, actor messages and event payloads, per domain."""
