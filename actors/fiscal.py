"""FiscalActor: one per tenant; drives the tenant's documents through the fiscal pipeline.

The work and its state live in the database (``fiscal.cl.pipeline``): the actor only decides when to run a
step. It runs one at start, whenever it is woken (a sale or credit note committed, a CAF or certificate
uploaded, the hub's periodic sweep) and when the pipeline says something falls due (a retry, a poll). The
steps run in the actor's own task, outside its mailbox, so a slow authority never blocks a ``Wake``; the
mailbox only ever holds wake-ups. The actor is never passivated while it has work: the pipeline's timers
live in its task. A failed step is logged and retried later; it never loses a document, because nothing
the pipeline has done exists only in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

from actors.runtime import Actor

log = logging.getLogger("actors.fiscal")

RETRY_AFTER_FAILURE = 30.0  # seconds before a step that failed unexpectedly runs again
SETTLE_SECONDS = 0.2  # after a wake-up, let the sales of the moment gather into one envelope


class Wake:
    """Something may be due: run the pipeline now."""


class Step(Protocol):
    """A pipeline: ``run_once()`` does what is due and says in how many seconds more falls due (None: no
    more)."""

    async def run_once(self) -> float | None: ...


def fiscal_address(tenant_id: uuid.UUID) -> str:
    return f"fiscal/{tenant_id}"


class FiscalActor(Actor):
    def __init__(
        self, tenant_id: uuid.UUID, pipeline: Callable[[], Step], *, settle: float = SETTLE_SECONDS
    ) -> None:
        self.tenant_id = tenant_id
        self._make_pipeline = pipeline
        self.settle = settle
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0  # steps run since start (tests and /metrics)

    async def on_start(self) -> None:
        self._wake.set()
        self._task = asyncio.create_task(self._loop(), name=f"fiscal-{self.tenant_id}")

    async def on_stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def receive(self, message: object) -> object:
        if not isinstance(message, Wake):
            return await super().receive(message)
        self._wake.set()
        return None

    async def _loop(self) -> None:
        pipeline = self._make_pipeline()
        delay: float | None = None
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
                await asyncio.sleep(self.settle)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                delay = await pipeline.run_once()
            except Exception:
                log.exception("fiscal pipeline of tenant %s failed; retrying in %.0f s", self.tenant_id,
                              RETRY_AFTER_FAILURE)  # fmt: skip
                delay = RETRY_AFTER_FAILURE
                pipeline = self._make_pipeline()  # drop caches (a replaced certificate, a new CAF)
            self.runs += 1
