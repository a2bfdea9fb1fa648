"""Short garbage-collector pauses for a long-running hub.

A full (generation 2) collection walks every object the collector tracks, and a started hub holds some
150,000 that live until it stops: modules, functions, SQLAlchemy's metadata, Litestar's routes. Under 200
tills those passes took 90 to 170 ms every 15 s or so, and every scan and checkout that arrived meanwhile
waited for them (they were the till load's worst round trips). Freezing what start-up made moves it out of
the collector's sight, so a full pass only walks what changed since.

Only ``storehub serve`` settles its heap: a test process builds many apps, and frozen objects are never
collected.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle() -> None:
    """Collect what start-up left behind, then freeze the rest (it lives until the process ends)."""
    gc.collect()
    gc.freeze()
    log.info("heap settled: %d objects frozen", gc.get_freeze_count())
