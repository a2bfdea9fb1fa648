"""The in-store device agent: the process that runs beside a store's scales and receipt printers.

It connects *out* to the hub (``/ws`` with its device token), so a hub in the cloud can drive hardware
behind the store's router. After the hub's ``welcome`` it says ``agent.hello`` with the devices of its
TOML configuration; only the devices the hub accepts are driven. Scales stream every reading as
``device.weight``; printers take ``print`` directives into a durable SQLite journal and print each job
exactly once, holding jobs while the printer has no paper, its cover is open or it is unreachable.
While the hub is unreachable the agent keeps printing, keeps the newest readings, the latest status of
each device and every print acknowledgement, and delivers them when it reconnects (with backoff). A job
that was being printed when the agent died is never printed again: it is reported ``failed`` so the
shopkeeper checks the paper. A revoked token ends the agent (exit code 3) until it is paired again.
"""
