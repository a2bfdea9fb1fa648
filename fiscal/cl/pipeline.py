"""The Chilean fiscal pipeline of one tenant: every sale's document stamped, signed, sent to SII and
followed to a final state, without the sale ever waiting for it.

Each step reads its work from the database and writes its result there, so a restart resumes where the
last one stopped and several hub nodes can share a tenant (rows are claimed with ``FOR UPDATE SKIP LOCKED``
on Postgres; SQLite runs one process):

1. **assign** a folio to documents made while no folio was available (a CAF uploaded since);
2. **sign** pending documents: the DTE is built from the sale (``fiscal.cl.sale_document``), stamped with
   the CAF of its folio and signed with the tenant's certificate; its bytes are stored and never rebuilt;
3. **envelope** signed documents: boletas into EnvioBOLETA, facturas and credit notes into EnvioDTE,
   validated against SII's schemas; the envelope's bytes are stored before anything is sent, so a retry
   resends exactly them and a document never goes out twice with different content;
4. **send** built envelopes (claimed with a lease, so a crash mid-upload only delays the retry);
5. **poll** sent envelopes until SII gives each document a final state (QueryEstUp gives an EnvioDTE's
   counts, not its rejected folios: those documents are then asked one by one with QueryEstDte).

A transient failure (timeout, 5xx, HTML page, 429) retries with exponential backoff and jitter, never sooner
than the authority's Retry-After. What the pipeline waits for (no certificate, no folios, an expired CAF) is
written on the document as its ``reason``; every change of a document's state is an outbox event
``FiscalDocumentChanged`` on the tenant's stream, which the owner's dashboard shows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from lxml import etree  # type: ignore[import-untyped, unused-ignore]
from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from actors.checkout import next_folio
from actors.checkout_pg import chile_today
from fiscal.backoff import Backoff
from fiscal.certificates import Signer, rut_of
from fiscal.cl.caf import Caf
from fiscal.cl.dte import Emitter, Receiver, build_document
from fiscal.cl.envelope import build_envio_boleta, build_envio_dte
from fiscal.cl.rut import normalize
from fiscal.cl.sale_document import Referenced, SoldLine, document_input, emitter_of
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.setup import caf_in, signer_in
from fiscal.cl.sii_client import DocumentResult, EnvelopeStatus, SiiClient, Upload
from fiscal.cl.sii_states import DocState, RetryableSiiError, SiiAuthenticationError, SiiRejectedError
from hub.db import Database
from hub.events.outbox import emit
from schema.errors import StorehubError
from schema.models import (
    CafFile,
    FiscalCertificate,
    FiscalDocument,
    FiscalEnvelope,
    FiscalSetup,
    FolioRange,
    Sale,
    SaleLine,
    Tenant,
)

log = logging.getLogger("fiscal.pipeline")

BOLETA_TYPES = frozenset({39, 41})
FINAL = frozenset({"accepted", "accepted_with_objections", "rejected"})


class Authority(Protocol):
    """What the pipeline needs of SII (``SiiAuthority`` below, against SII or the simulator)."""

    async def upload(self, kind: str, envelope: bytes) -> Upload:
        """Send an envelope. Raises RetryableSiiError, SiiRejectedError or SiiAuthenticationError."""

    async def status(self, kind: str, track_id: str) -> EnvelopeStatus:
        """Where SII is with an envelope and its documents."""

    async def document_status(
        self, doc_type: int, folio: int, receiver_rut: str, issue_date: date, total: int
    ) -> DocumentResult:
        """What SII registered for one DTE (not boletas): QueryEstDte. Raises RetryableSiiError or
        SiiAuthenticationError; the result's state is final only when SII's code settles it."""


class SiiAuthority:
    """``Authority`` over ``SiiClient``: boletas through the boleta API, the rest through DTEUpload."""

    def __init__(self, client: SiiClient, sender_rut: str, company_rut: str) -> None:
        self.client, self.sender_rut, self.company_rut = client, sender_rut, company_rut

    async def upload(self, kind: str, envelope: bytes) -> Upload:
        if kind == "boleta":
            return await self.client.upload_boletas(envelope, self.sender_rut, self.company_rut)
        return await self.client.upload_dte(envelope, self.sender_rut, self.company_rut)

    async def status(self, kind: str, track_id: str) -> EnvelopeStatus:
        if kind == "boleta":
            return await self.client.boleta_envelope_status(track_id, self.company_rut)
        return await self.client.dte_envelope_status(track_id, self.company_rut)

    async def document_status(
        self, doc_type: int, folio: int, receiver_rut: str, issue_date: date, total: int
    ) -> DocumentResult:
        return await self.client.document_status(
            self.company_rut, receiver_rut, doc_type, folio, issue_date, total
        )


@dataclass
class PipelineConfig:
    key: bytes  # the at-rest key that opens certificates and CAFs
    schemas: SiiSchemas | None
    authority: Callable[[Signer, FiscalSetup], Authority]
    backoff: Backoff = field(default_factory=Backoff)
    poll_backoff: Backoff = field(default_factory=lambda: Backoff(base=2.0, cap=60.0))
    batch: int = 200  # documents signed per step
    envelope_size: int = 100  # documents per envelope
    # A signed document waits up to this long for others to share its envelope (a full envelope leaves at
    # once): under load, one upload and one poll carry many boletas instead of one each. Signing is not
    # delayed by it (a receipt waits for its TED).
    envelope_linger: timedelta = timedelta(0)
    lease: timedelta = timedelta(seconds=60)  # a claimed upload or poll is retried after this
    folios_low: int = 50  # FoliosLow is announced below this many folios left of a type
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


SETUP_WAIT = timedelta(minutes=10)  # documents waiting for the setup are looked at again after this


SETUP_EVENT = "FiscalSetupChanged"  # on the tenant's stream: wherever the pipeline runs, it wakes


async def retry_waiting(db: Database, tenant_id: uuid.UUID) -> None:
    """The setup changed (emitter data, certificate, CAF): documents waiting for it are due now, and
    ``FiscalSetupChanged`` says so on the tenant's stream, for a pipeline on another process (``storehub
    worker``, when the hub is scaled) to wake at once instead of at its next sweep."""
    async with db.tenant(tenant_id) as session:
        made_due = await session.execute(
            update(FiscalDocument)
            .where(FiscalDocument.status == "pending")
            .values(next_attempt_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        emit(session, "tenant", SETUP_EVENT, {"documents_due": made_due.rowcount})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class _Agenda:
    """What a tenant's pipeline has due now, read in one query."""

    unfolioed: bool  # pending documents made without a folio
    sign_due: bool  # pending documents with a folio, due
    oldest_unenveloped: datetime | None  # when the oldest signed document in no envelope yet was made
    send_due: bool  # built envelopes due to be sent
    poll_due: bool  # sent envelopes due to be asked about
    next_document: datetime | None  # the earliest retry of a pending document
    next_envelope: datetime | None  # the earliest send or poll of an envelope

    def envelope_due(self, now: datetime, linger: timedelta) -> bool:
        return self.oldest_unenveloped is not None and _aware(self.oldest_unenveloped) + linger <= now

    def next_due(self, now: datetime, linger: timedelta) -> float | None:
        if self.envelope_due(now, linger):
            return 0.0
        due = [moment for moment in (self.next_document, self.next_envelope) if moment is not None]
        if self.oldest_unenveloped is not None:
            due.append(_aware(self.oldest_unenveloped) + linger)
        if not due:
            return None
        soonest = min(_aware(moment) for moment in due)
        return max(0.0, (soonest - now).total_seconds())


class ClPipeline:
    def __init__(self, db: Database, tenant_id: uuid.UUID, config: PipelineConfig) -> None:
        self.db, self.tenant_id, self.config = db, tenant_id, config
        self._signer: tuple[uuid.UUID | None, Signer] | None = None  # (certificate id, opened)
        self._cafs: dict[tuple[int, int], Caf] = {}
        self._chilean: bool | None = None
        self._warned: dict[int, int] = {}  # doc type -> the step of folios left last announced

    # -- the loop's one step ------------------------------------------------------------------------------

    async def run_once(self) -> float | None:
        """Do everything that is due; the seconds until the next thing is due (None: nothing left).

        One query first says what is due (the agenda); only those steps run, plus the ones an earlier step
        may have fed (a folio makes a document signable, a signature makes it envelopable, an envelope makes
        it sendable). A wake-up with nothing due costs that one query.
        """
        if self._chilean is None:
            async with self.db.tenant(self.tenant_id) as session:
                self._chilean = (await session.execute(select(Tenant.country))).scalar_one() == "CL"
        if not self._chilean:  # Ecuador's documents go to SRI, through another pipeline
            return None
        agenda = await self._agenda()
        worked = False
        if agenda.unfolioed:
            worked = await self.assign_folios() > 0 or worked
        if agenda.sign_due or worked:
            while await self.sign_due():
                worked = True
        if agenda.envelope_due(self.config.now(), self.config.envelope_linger) or worked:
            while await self.envelope_signed():
                worked = True
        if agenda.send_due or worked:
            worked = await self.send_due() > 0 or worked
        if agenda.poll_due:
            worked = await self.poll_due() > 0 or worked
        if agenda.sign_due or agenda.send_due or agenda.poll_due or worked:
            agenda = await self._agenda()  # the steps moved things: when is the next one due?
        return agenda.next_due(self.config.now(), self.config.envelope_linger)

    async def next_due(self) -> float | None:
        return (await self._agenda()).next_due(self.config.now(), self.config.envelope_linger)

    async def _agenda(self) -> _Agenda:
        now = self.config.now()
        doc, env = FiscalDocument, FiscalEnvelope

        def any_(*where: Any) -> Any:
            return exists().where(*where)

        query = select(
            any_(doc.status == "pending", doc.folio.is_(None)),
            any_(doc.status == "pending", doc.folio.is_not(None), doc.next_attempt_at <= now),
            select(func.min(doc.created_at))
            .where(doc.status == "signed", doc.envelope_id.is_(None))
            .scalar_subquery(),
            any_(env.status == "built", env.next_attempt_at <= now),
            any_(env.status == "sent", env.next_attempt_at <= now),
            select(func.min(doc.next_attempt_at))
            .where(doc.status == "pending", doc.folio.is_not(None))
            .scalar_subquery(),
            select(func.min(env.next_attempt_at)).where(env.status.in_(("built", "sent"))).scalar_subquery(),
        )
        async with self.db.tenant(self.tenant_id) as session:
            row = (await session.execute(query)).one()
        return _Agenda(*row)

    # -- 1. folios for documents made without one ---------------------------------------------------------

    async def assign_folios(self) -> int:
        async with self.db.tenant(self.tenant_id) as session:
            waiting = (
                await session.execute(
                    _locked(
                        session,
                        select(FiscalDocument)
                        .where(FiscalDocument.status == "pending", FiscalDocument.folio.is_(None))
                        .order_by(FiscalDocument.created_at)
                        .limit(self.config.batch),
                    )
                )
            ).scalars()
            assigned = 0
            for document in waiting:
                folio, reason = await next_folio(session, document.doc_type)
                if folio is None:
                    if document.reason != reason:
                        self._changed(session, document, reason=reason)
                    await self._announce_folios(session, {document.doc_type})
                    continue
                document.folio = folio
                self._changed(session, document, reason="")
                assigned += 1
        return assigned

    # -- 2. sign --------------------------------------------------------------------------------------------

    async def sign_due(self) -> int:
        """Sign one batch of due pending documents; how many were signed."""
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            due = list(
                (
                    await session.execute(
                        _locked(
                            session,
                            select(FiscalDocument)
                            .where(
                                FiscalDocument.status == "pending",
                                FiscalDocument.folio.is_not(None),
                                FiscalDocument.next_attempt_at <= now,
                            )
                            .order_by(FiscalDocument.created_at)
                            .limit(self.config.batch),
                        )
                    )
                ).scalars()
            )
            if not due:
                return 0
            try:
                setup, signer = await self._setup_and_signer(session)
            except StorehubError as exc:  # nothing can be signed until the owner completes the setup
                # Each document says so once; then they all sleep until the setup changes (the setup API
                # calls ``retry_waiting``), not on a per-document backoff that would reload them every
                # few seconds on the hub's event loop.
                reason = str(exc)[:400]
                for document in due:
                    document.attempts += 1
                    document.next_attempt_at = now + SETUP_WAIT
                    if document.reason != reason:
                        self._changed(session, document, reason=reason)
                return 0
            emitter = emitter_of(setup)
            signed = 0
            for document in due:
                try:
                    xml = await self._build(session, document, emitter, signer)
                except StorehubError as exc:
                    self._wait(session, document, str(exc), now)
                    continue
                document.xml = xml
                document.attempts = 0
                self._changed(session, document, status="signed", reason="")
                signed += 1
            await self._announce_folios(session, {d.doc_type for d in due})
        return signed

    async def _announce_folios(self, session: AsyncSession, doc_types: set[int]) -> None:
        """``FoliosLow`` on the tenant stream when few folios of a type are left: once on crossing
        ``folios_low``, again at each fifth of the way down, and at zero (sales then wait for a CAF)."""
        low = self.config.folios_low
        today = chile_today()
        for doc_type in sorted(doc_types):
            left = (
                await session.execute(
                    select(
                        func.coalesce(func.sum(FolioRange.last_folio - FolioRange.next_folio + 1), 0)
                    ).where(
                        FolioRange.doc_type == doc_type,
                        FolioRange.next_folio <= FolioRange.last_folio,
                        ~exists().where(CafFile.folio_range_id == FolioRange.id, CafFile.expires <= today),
                    )
                )
            ).scalar_one()
            if left >= low:
                self._warned.pop(doc_type, None)
                continue
            step = -1 if left == 0 else left // max(1, low // 5)
            if self._warned.get(doc_type) == step:
                continue
            self._warned[doc_type] = step
            emit(
                session,
                "tenant",
                "FoliosLow",
                {"doc_type": doc_type, "remaining": int(left), "threshold": low},
            )

    async def _setup_and_signer(self, session: AsyncSession) -> tuple[FiscalSetup, Signer]:
        setup = (await session.execute(select(FiscalSetup))).scalar_one_or_none()
        if setup is None:
            raise _Waiting("the fiscal setup (emitter data) is missing: complete it in the back office")
        certificate = (
            await session.execute(
                select(FiscalCertificate.id)
                .where(FiscalCertificate.active.is_(True))
                .order_by(FiscalCertificate.uploaded_at.desc(), FiscalCertificate.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if self._signer is None or self._signer[0] != certificate:  # opened once per certificate
            self._signer = (certificate, await signer_in(session, self.tenant_id, self.config.key))
        return setup, self._signer[1]

    async def _caf(self, session: AsyncSession, doc_type: int, folio: int) -> Caf:
        for (kind, first), caf in self._cafs.items():
            if kind == doc_type and first <= folio <= caf.last:
                return caf
        caf = await caf_in(session, self.tenant_id, doc_type, folio, self.config.key)
        self._cafs[(doc_type, caf.first)] = caf
        return caf

    async def _build(
        self, session: AsyncSession, document: FiscalDocument, emitter: Emitter, signer: Signer
    ) -> bytes:
        assert document.folio is not None
        sale = await session.get(Sale, (self.tenant_id, document.sale_id))
        assert sale is not None
        tz = await self._timezone(session)
        lines = (
            await session.execute(
                select(SaleLine).where(SaleLine.sale_id == sale.id).order_by(SaleLine.line_no)
            )
        ).scalars()
        sign = -1 if sale.kind == "return" else 1
        sold = [
            SoldLine(
                name=line.name,
                unit=line.unit,
                quantity=sign * line.quantity,
                unit_price=line.unit_price,
                total=sign * line.total,
                tax_class=line.tax_class,
            )
            for line in lines
        ]
        receiver_data = sale.buyer
        referenced = None
        if sale.kind == "return":
            assert sale.original_sale_id is not None
            original = await session.get(Sale, (self.tenant_id, sale.original_sale_id))
            assert original is not None
            original_doc = (
                await session.execute(select(FiscalDocument).where(FiscalDocument.sale_id == original.id))
            ).scalar_one()
            if original_doc.folio is None:
                raise _Waiting(f"waiting for the folio of the {original_doc.doc_type} it corrects")
            notes = (
                await session.execute(
                    select(func.count()).select_from(Sale).where(Sale.original_sale_id == original.id)
                )
            ).scalar_one()
            referenced = Referenced(
                doc_type=original_doc.doc_type,
                folio=original_doc.folio,
                issued=_aware(original.created_at).astimezone(tz).date(),
                total=original.total,
                whole=notes == 1 and -sale.total == original.total,
            )
            receiver_data = original.buyer
        doc = document_input(
            doc_type=document.doc_type,
            folio=document.folio,
            issued=_aware(sale.created_at).astimezone(tz).date(),
            emitter=emitter,
            lines=sold,
            receiver=Receiver(**receiver_data) if receiver_data else None,
            referenced=referenced,
            reason=sale.reason,
        )
        caf = await self._caf(session, document.doc_type, document.folio)
        stamped_at = self.config.now().astimezone(tz)
        element = await asyncio.to_thread(build_document, doc, caf, signer, stamped_at)
        return bytes(etree.tostring(element, encoding="ISO-8859-1", xml_declaration=True))

    async def _timezone(self, session: AsyncSession) -> ZoneInfo:
        tenant = (await session.execute(select(Tenant))).scalar_one()
        return ZoneInfo(tenant.timezone)

    # -- 3. envelopes ---------------------------------------------------------------------------------------

    def _envelope_ready(self, documents: list[FiscalDocument], now: datetime) -> bool:
        """Enough signed documents of one kind for a full envelope, or one that has waited its linger."""
        if len(documents) >= self.config.envelope_size:
            return True
        linger = self.config.envelope_linger
        return any(_aware(d.created_at) + linger <= now for d in documents)

    async def envelope_signed(self) -> int:
        """Put one envelope's worth of signed documents into a built envelope; how many went in."""
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            waiting = list(
                (
                    await session.execute(
                        _locked(
                            session,
                            select(FiscalDocument)
                            .where(FiscalDocument.status == "signed", FiscalDocument.envelope_id.is_(None))
                            .order_by(FiscalDocument.doc_type, FiscalDocument.folio)
                            .limit(self.config.envelope_size * 2),
                        )
                    )
                ).scalars()
            )
            boletas = [d for d in waiting if d.doc_type in BOLETA_TYPES]
            others = [d for d in waiting if d.doc_type not in BOLETA_TYPES]
            ready = [
                (k, d) for k, d in (("boleta", boletas), ("dte", others)) if self._envelope_ready(d, now)
            ]
            if not ready:  # nothing signed, or too few too recently: more may join them
                return 0
            kind, documents = ready[0]
            documents = documents[: self.config.envelope_size]
            setup, signer = await self._setup_and_signer(session)
            build = build_envio_boleta if kind == "boleta" else build_envio_dte
            xml = await asyncio.to_thread(
                build,
                [d.xml for d in documents if d.xml is not None],
                setup.rut,
                rut_of(signer.certificate),  # RutEnvia: whoever signs sends
                setup.resolution_date,
                setup.resolution_number,
                signer,
                now.astimezone(await self._timezone(session)),
            )
            envelope = FiscalEnvelope(
                kind=kind, documents=len(documents), xml=xml, digest=hashlib.sha256(xml).hexdigest(),
                next_attempt_at=now,
            )  # fmt: skip
            problems = self._invalid(xml)
            if problems:  # our own bug: never send it; the documents say why
                envelope.status, envelope.last_error = "invalid", problems[:400]
            session.add(envelope)
            await session.flush()
            for document in documents:
                document.envelope_id = envelope.id
                if problems:
                    self._changed(session, document, status="rejected", reason=f"schema: {problems}")
        return len(documents)

    def _invalid(self, xml: bytes) -> str:
        if self.config.schemas is None:
            return ""
        return "; ".join(self.config.schemas.validate(xml))[:380]

    # -- 4. send --------------------------------------------------------------------------------------------

    async def send_due(self) -> int:
        sent = 0
        for envelope_id in await self._claim("built"):
            sent += await self._send(envelope_id)
        return sent

    async def _claim(self, status: str) -> list[uuid.UUID]:
        """Due envelopes in ``status``, leased to this worker (others skip them until the lease ends)."""
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            envelopes = list(
                (
                    await session.execute(
                        _locked(
                            session,
                            select(FiscalEnvelope)
                            .where(FiscalEnvelope.status == status, FiscalEnvelope.next_attempt_at <= now)
                            .order_by(FiscalEnvelope.next_attempt_at)
                            .limit(20),
                        )
                    )
                ).scalars()
            )
            for envelope in envelopes:
                envelope.next_attempt_at = now + self.config.lease
            return [envelope.id for envelope in envelopes]

    async def _authority(self) -> Authority:
        async with self.db.tenant(self.tenant_id) as session:
            try:
                setup, signer = await self._setup_and_signer(session)
            except StorehubError as exc:  # e.g. the certificate was removed or cannot be opened
                raise _Waiting(str(exc)) from exc
        return self.config.authority(signer, setup)  # sends as the certificate's holder

    async def _send(self, envelope_id: uuid.UUID) -> int:
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            kind, xml, known_track = envelope.kind, envelope.xml, envelope.track_id
        try:
            upload = await (await self._authority()).upload(kind, xml)
        except (RetryableSiiError, SiiAuthenticationError, _Waiting) as exc:
            await self._retry(envelope_id, str(exc), getattr(exc, "retry_after", None))
            return 0
        except SiiRejectedError as exc:
            await self._reject_envelope(envelope_id, str(exc))
            return 0
        track_id = upload.track_id or known_track
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            envelope.attempts, envelope.updated_at = 0, now
            documents = await self._documents_of(session, envelope_id)
            if track_id is None:  # SII had it already (a crash between upload and record) and gave no id
                envelope.status = "untracked"
                envelope.last_error = "SII already had this envelope and gave no track id to follow it"
                for document in documents:
                    self._changed(session, document, status="sent", reason=envelope.last_error)
                return 1
            envelope.status, envelope.track_id, envelope.last_error = "sent", track_id, ""
            envelope.next_attempt_at = now + timedelta(seconds=self.config.poll_backoff.delay(0))
            for document in documents:
                self._changed(session, document, status="sent", reason="")
        return 1

    async def _retry(self, envelope_id: uuid.UUID, error: str, retry_after: float | None) -> None:
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            envelope.attempts += 1
            delay = self.config.backoff.delay(envelope.attempts, retry_after)
            envelope.next_attempt_at = now + timedelta(seconds=delay)
            envelope.last_error, envelope.updated_at = error[:400], now
        log.info("envelope %s: %s; retry in %.1f s", envelope_id, error, delay)

    async def _reject_envelope(self, envelope_id: uuid.UUID, reason: str) -> None:
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            envelope.status, envelope.last_error, envelope.updated_at = "rejected", reason[:400], now
            for document in await self._documents_of(session, envelope_id):
                self._changed(session, document, status="rejected", reason=reason)

    async def _documents_of(self, session: AsyncSession, envelope_id: uuid.UUID) -> Sequence[FiscalDocument]:
        return (
            (await session.execute(select(FiscalDocument).where(FiscalDocument.envelope_id == envelope_id)))
            .scalars()
            .all()
        )

    # -- 5. poll --------------------------------------------------------------------------------------------

    async def poll_due(self) -> int:
        done = 0
        for envelope_id in await self._claim("sent"):
            async with self.db.tenant(self.tenant_id) as session:
                envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
                assert envelope is not None
                assert envelope.track_id is not None
                kind, track_id = envelope.kind, envelope.track_id
            try:
                status = await (await self._authority()).status(kind, track_id)
            except (RetryableSiiError, SiiAuthenticationError, _Waiting) as exc:
                await self._retry(envelope_id, str(exc), getattr(exc, "retry_after", None))
                continue
            done += await self._record(envelope_id, status)
        return done

    async def _record(self, envelope_id: uuid.UUID, status: EnvelopeStatus) -> int:
        now = self.config.now()
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            envelope.authority_state, envelope.updated_at = status.sii_state, now
            if not status.final:
                envelope.attempts += 1
                delay = self.config.poll_backoff.delay(envelope.attempts)
                envelope.next_attempt_at = now + timedelta(seconds=delay)
                return 0
            # QueryEstUp counts per type and names no folio: ask QueryEstDte (below, outside the transaction)
            # about each document the counts leave open and no earlier poll settled.
            documents = await self._documents_of(session, envelope_id)
            ask = [
                (document.doc_type, document.folio or 0, document.xml or b"")
                for document in documents
                if envelope.kind == "dte"
                and document.status not in FINAL
                and status.state_of(document.doc_type, document.folio or 0) is None
            ]
        answers: dict[tuple[int, int], DocumentResult] = {}
        unaskable: dict[tuple[int, int], str] = {}
        failure: Exception | None = None  # SII could not answer: the rest waits for the next poll
        if ask:
            try:
                authority = await self._authority()
                for doc_type, folio, xml in ask:
                    try:
                        receiver, issued, total = dte_query_data(xml)
                    except ValueError as exc:  # our own bug: SII cannot be asked about this document
                        unaskable[(doc_type, folio)] = str(exc)
                        continue
                    answers[(doc_type, folio)] = await authority.document_status(
                        doc_type, folio, receiver, issued, total
                    )
            except (RetryableSiiError, SiiAuthenticationError, _Waiting) as exc:
                failure = exc
        async with self.db.tenant(self.tenant_id) as session:
            envelope = await session.get(FiscalEnvelope, (self.tenant_id, envelope_id))
            assert envelope is not None
            documents = await self._documents_of(session, envelope_id)
            results = {(d.doc_type, d.folio): d for d in status.documents}
            counts = {count.doc_type: count for count in status.counts}
            settled: dict[uuid.UUID, tuple[DocState, str, str]] = {}  # -> (state, SII's code, reason)
            answered: set[uuid.UUID] = set()  # settled by this poll's QueryEstDte answers
            open_types: set[int] = set()  # types whose documents the envelope's answer does not settle
            unsettled: list[FiscalDocument] = []
            for document in documents:
                key = (document.doc_type, document.folio or 0)
                state = status.state_of(*key)
                result = results.get(key)
                answer = answers.get(key)
                count = counts.get(document.doc_type)
                if state is not None:  # the envelope's answer tells
                    if result is not None:
                        code = result.sii_state
                    elif status.itemized and state is DocState.ACCEPTED:  # only objections are listed: DOK
                        code = "DOK"
                    else:
                        code = status.sii_state
                    reason = result.reason if result is not None and result.reason else ""
                    if state is DocState.REJECTED and not reason:
                        reason = status.reason or f"rejected by SII ({status.sii_state})"
                    settled[document.id] = (state, code, reason)
                    continue
                open_types.add(document.doc_type)
                if document.status in FINAL:  # settled by an earlier poll of this envelope
                    settled[document.id] = (
                        DocState(document.status),
                        document.authority_state,
                        document.reason,
                    )
                elif answer is not None and answer.state.final:  # QueryEstDte tells
                    state = answer.state
                    if (
                        state is DocState.ACCEPTED
                        and count is not None
                        and count.objections
                        and not count.accepted
                    ):
                        state = DocState.ACCEPTED_WITH_OBJECTIONS  # DOK does not tell; the counts do
                    settled[document.id] = (
                        state,
                        answer.sii_state,
                        "" if answer.sii_state == "DOK" else answer.reason,
                    )
                    answered.add(document.id)
                else:
                    unsettled.append(document)
            contradicted: set[uuid.UUID] = set()
            for doc_type in sorted(open_types):
                count = counts.get(doc_type)
                mine = [document for document in documents if document.doc_type == doc_type]
                states = [settled[d.id][0] for d in mine if d.id in settled]
                registered = sum(state is not DocState.REJECTED for state in states)
                rejected = len(states) - registered
                if count is None:
                    continue
                # QueryEstDte answers by folio: answers the counts contradict (more held or rejected than SII
                # counted) settle nothing; a person must look.
                if registered > count.accepted + count.objections or rejected > count.rejected:
                    for document in mine:
                        if document.id in answered:
                            del settled[document.id]
                            contradicted.add(document.id)
                            unsettled.append(document)
                    continue
                # SII registers only what it accepted, so it answers a document it rejected "not received"
                # (FAU): when every other document of the type is confirmed registered, the ones it still
                # does not hold are exactly those QueryEstUp counts as rejected.
                left = [document for document in unsettled if document.doc_type == doc_type]
                if (
                    not left
                    or count.informed != len(mine)
                    or registered != count.accepted + count.objections
                    or rejected + len(left) != count.rejected
                    or any((d.doc_type, d.folio or 0) not in answers for d in left)
                ):
                    continue
                for document in left:
                    answer = answers[(document.doc_type, document.folio or 0)]
                    reason = (
                        f"{answer.reason or answer.sii_state} (SII counted {count.rejected} of the "
                        f"{count.informed} documents of type {doc_type} in envelope {status.track_id} as "
                        "rejected and holds all the others)"
                    )
                    settled[document.id] = (DocState.REJECTED, answer.sii_state, reason)
            waiting = 0
            for document in documents:
                key = (document.doc_type, document.folio or 0)
                if document.id in settled:
                    state, code, reason = settled[document.id]
                    document.authority_state = code[:8]
                    if (document.status, document.reason) != (state.value, reason[:400]):
                        self._changed(session, document, status=state.value, reason=reason)
                    continue
                # Never final without SII's word: it stays sent and the envelope is polled again.
                waiting += 1
                count = counts.get(document.doc_type)
                answer = answers.get(key)
                if answer is not None:
                    document.authority_state = answer.sii_state[:8]
                    detail = f"asked about this one, SII answers {answer.sii_state} ({answer.reason})"
                    if document.id in contradicted:
                        detail += ", which contradicts SII's counts for the envelope: check it with SII"
                elif key in unaskable:
                    detail = f"SII cannot be asked about it: {unaskable[key]}"
                else:
                    detail = f"asking SII about it failed ({failure})" if failure else "SII was not asked yet"
                context = (
                    f"SII rejected {count.rejected} of the {count.informed} documents of type "
                    f"{document.doc_type} in envelope {status.track_id} without naming them"
                    if count is not None and count.rejected
                    else f"SII's answer for envelope {status.track_id} ({status.reason}) does not settle it"
                )
                reason = f"{context}; {detail}; asking again"
                if (document.status, document.reason) != ("sent", reason[:400]):
                    self._changed(session, document, status="sent", reason=reason)
            if not waiting:
                envelope.status = "rejected" if status.state is DocState.REJECTED else "done"
                envelope.last_error = ""
                return 1
            envelope.attempts += 1
            delay = self.config.poll_backoff.delay(envelope.attempts, getattr(failure, "retry_after", None))
            envelope.next_attempt_at = now + timedelta(seconds=delay)
            envelope.last_error = f"{waiting} documents not settled yet" + (f": {failure}" if failure else "")
            envelope.last_error = envelope.last_error[:400]
            log.info("envelope %s: %s; polling again in %.1f s", envelope_id, envelope.last_error, delay)
            return 0

    # -- bookkeeping -------------------------------------------------------------------------------------

    def _wait(self, session: AsyncSession, document: FiscalDocument, reason: str, now: datetime) -> None:
        document.attempts += 1
        document.next_attempt_at = now + timedelta(seconds=self.config.backoff.delay(document.attempts))
        if document.reason != reason[:400]:
            self._changed(session, document, reason=reason)

    def _changed(
        self, session: AsyncSession, document: FiscalDocument, *, status: str | None = None, reason: str
    ) -> None:
        if status is not None:
            document.status = status
        document.reason = reason[:400]
        document.updated_at = self.config.now()
        emit(
            session,
            "tenant",
            "FiscalDocumentChanged",
            {
                "document_id": str(document.id),
                "sale_id": str(document.sale_id),
                "doc_type": document.doc_type,
                "folio": document.folio,
                "status": document.status,
                "reason": document.reason,
                "authority_state": document.authority_state,
            },
        )


class _Waiting(StorehubError):
    """Something the document needs is not there yet; it stays pending with this reason."""

    code = "fiscal_waiting"
    status = 409


_DTE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def dte_query_data(xml: bytes) -> tuple[str, date, int]:
    """(receiver RUT, issue date, total) of a signed DTE: the Encabezado's RUTRecep, FchEmis and MntTotal
    (namespace ``http://www.sii.cl/SiiDte``, or none), which QueryEstDte asks about. Raises ValueError."""
    try:
        root = etree.fromstring(xml, _DTE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"the stored DTE is not XML ({exc})") from None
    header = root.find("{*}Documento/{*}Encabezado")
    if header is None:
        raise ValueError("the stored DTE has no Documento/Encabezado")
    fields = {
        name: (header.findtext(path) or "").strip()
        for name, path in (
            ("RUTRecep", "{*}Receptor/{*}RUTRecep"),
            ("FchEmis", "{*}IdDoc/{*}FchEmis"),
            ("MntTotal", "{*}Totales/{*}MntTotal"),
        )
    }
    try:
        return normalize(fields["RUTRecep"]), date.fromisoformat(fields["FchEmis"]), int(fields["MntTotal"])
    except (StorehubError, ValueError):
        shown = ", ".join(f"{name} {value!r}" for name, value in fields.items())
        raise ValueError(f"the stored DTE's {shown} are not a RUT, a date and an amount") from None


def _locked(session: AsyncSession, query: Any) -> Any:
    """Rows this worker takes; other workers (hub nodes) skip them instead of waiting."""
    if session.bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
