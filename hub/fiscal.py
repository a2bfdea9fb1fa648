"""The hub's side of the fiscal pipeline: one FiscalActor per tenant, woken when there is work.

Who wakes a tenant's actor: the register after a sale or credit note commits, the fiscal setup API after a
certificate or CAF upload, and a periodic sweep (at start and every ``SWEEP_SECONDS``) over the tenants
the database says have work due, so nothing depends on a wake-up that a crash or another node swallowed.
The SII client, its token cache and the HTTP connection pool are shared by every tenant's pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from actors.fiscal import FiscalActor, Wake, fiscal_address
from actors.runtime import ActorRef, ActorSystem, MailboxFull, Props
from fiscal.certificates import Signer, rut_of
from fiscal.cl.pipeline import Authority, ClPipeline, PipelineConfig, SiiAuthority, retry_waiting
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.sii_auth import TokenCache
from fiscal.cl.sii_client import SiiClient
from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.keys import at_rest_key
from hub.db import Database
from hub.settings import Settings
from schema.models import FiscalSetup

log = logging.getLogger("hub.fiscal")

SWEEP_SECONDS = 30.0


def endpoints_for(settings: Settings) -> SiiEndpoints:
    if settings.sii_environment == "production":
        return SiiEndpoints.production()
    if settings.sii_environment == "certification":
        return SiiEndpoints.certification()
    return SiiEndpoints.simulator(settings.sii_simulator_url)


class FiscalService:
    def __init__(self, settings: Settings, db: Database, actors: ActorSystem) -> None:
        self.settings, self.db, self.actors = settings, db, actors
        self.endpoints = endpoints_for(settings)
        self.tokens = TokenCache()
        self.http: httpx.AsyncClient | None = None
        schemas_dir = settings.sii_schemas_path
        self.config = PipelineConfig(
            # Without a secret nothing sealed opens: documents then wait, saying so (the hub warns at start).
            key=at_rest_key(settings.secret_key) if settings.secret_key else b"",
            schemas=SiiSchemas(schemas_dir) if schemas_dir is not None else None,
            authority=self._authority,
            # A claimed upload or poll is taken again only after the request surely ended.
            lease=timedelta(seconds=settings.sii_timeout_seconds + 5),
            folios_low=settings.folios_low,
            envelope_linger=timedelta(seconds=settings.fiscal_envelope_seconds),
        )
        self._sweeper: asyncio.Task[None] | None = None
        # Set when the pipeline runs in another process of this hub (``hub.fiscal_process``): wakes go there.
        self.remote: Callable[[uuid.UUID], None] | None = None

    async def start(self) -> None:
        self.http = httpx.AsyncClient(timeout=self.settings.sii_timeout_seconds)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="fiscal-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    def ref(self, tenant_id: uuid.UUID) -> ActorRef:
        return self.actors.ref(
            fiscal_address(tenant_id),
            Props(
                lambda: FiscalActor(tenant_id, lambda: ClPipeline(self.db, tenant_id, self.config)),
                kind="FiscalActor",
                idle_after=None,  # its retry timers live in its task
            ),
        )

    async def setup_changed(self, tenant_id: uuid.UUID) -> None:
        """Emitter data, certificate or CAFs changed: documents waiting for them go now."""
        await retry_waiting(self.db, tenant_id)
        self.wake(tenant_id)

    def wake(self, tenant_id: uuid.UUID) -> None:
        """Tell the tenant's pipeline there may be work; never blocks (a full mailbox already has wakes).

        Only where the pipeline runs (started) or to the hub's child process that runs it: a scaled hub
        node leaves it to ``storehub worker``."""
        if self.remote is not None:
            self.remote(tenant_id)
            return
        if self.http is None:
            return
        with contextlib.suppress(MailboxFull):
            self.ref(tenant_id).tell_nowait(Wake())

    async def sweep(self) -> int:
        tenants = await self.db.tenants_with_fiscal_work(datetime.now(UTC))
        for tenant_id in tenants:
            self.wake(tenant_id)
        return len(tenants)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("fiscal sweep failed")
            await asyncio.sleep(SWEEP_SECONDS)

    def _authority(self, signer: Signer, setup: FiscalSetup) -> Authority:
        assert self.http is not None, "the fiscal service is not started"
        client = SiiClient(
            self.http, self.endpoints, signer, self.tokens, timeout=self.settings.sii_timeout_seconds
        )
        return SiiAuthority(client, sender_rut=rut_of(signer.certificate), company_rut=setup.rut)
