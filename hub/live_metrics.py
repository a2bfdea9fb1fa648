"""Prometheus samples for the live path: actor runtime, open sockets, bus and outbox relay."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hub.events.bus import LocalBus
from hub.metrics import Sample

if TYPE_CHECKING:
    from hub.services import Services


def live_samples(services: Services) -> Iterable[Sample]:
    stats = services.actors.stats()
    yield Sample("storehub_actors_live", stats.live_actors, help="Actors alive in this process")
    for kind in stats.kinds.values():
        labels = {"kind": kind.kind}
        yield Sample("storehub_actor_kind_live", kind.live_actors, labels, help="Live actors per kind")
        yield Sample(
            "storehub_actor_mailbox_depth",
            kind.mailbox_depth_total,
            labels,
            help="Messages waiting in mailboxes, per actor kind",
        )
        yield Sample(
            "storehub_actor_mailbox_depth_max",
            kind.mailbox_depth_max,
            labels,
            help="Deepest mailbox of the kind",
        )
        for name, value, help_ in (
            ("storehub_actor_restarts_total", kind.restarts, "Actor restarts after crashes"),
            ("storehub_actor_escalations_total", kind.escalations, "Actors stopped after repeated crashes"),
            ("storehub_actor_passivations_total", kind.passivations, "Idle actors passivated"),
            ("storehub_actor_ask_timeouts_total", kind.asks_timed_out, "Asks that timed out"),
        ):
            yield Sample(name, value, labels, "counter", help_)
        family = "storehub_actor_handling_seconds"
        help_ = "Time to handle one message, per actor kind"
        for bound, count in kind.handling_seconds_buckets:
            le = "+Inf" if math.isinf(bound) else repr(bound)
            yield Sample(f"{family}_bucket", count, labels | {"le": le}, "histogram", help_, family)
        yield Sample(f"{family}_sum", kind.handling_seconds_sum, labels, "histogram", help_, family)
        yield Sample(f"{family}_count", kind.handling_seconds_count, labels, "histogram", help_, family)
    yield Sample("storehub_sockets_open", len(services.sockets), help="Open WebSocket connections")
    yield Sample(
        "storehub_outbox_relayed_total",
        services.relay.relayed,
        type="counter",
        help="Outbox events published to the bus",
    )
    yield Sample(
        "storehub_outbox_relay_failures_total",
        services.relay.failures,
        type="counter",
        help="Outbox relay batches that failed and will be retried",
    )
    if isinstance(services.bus, LocalBus):
        yield Sample(
            "storehub_bus_published_total",
            services.bus.published,
            type="counter",
            help="Events published on the in-process bus",
        )
