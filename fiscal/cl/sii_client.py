"""Talk to SII: upload EnvioDTE / EnvioBOLETA envelopes and ask how they fared.

:class:`SiiClient` makes exactly one attempt per call. The only thing it repeats is the request after a
token SII refused (DTEUpload STATUS 5, HTTP 401, QueryEstUp 001-003, a SOAP fault about the token): the
token is invalidated in the :class:`~fiscal.cl.sii_auth.TokenCache`, a new one fetched, the request sent
once more; refused again, that is a :class:`RetryableSiiError`. **Every other retry belongs to the
caller** (the fiscal pipeline): it persists each attempt with the document, waits with
:class:`fiscal.backoff.Backoff` (honouring ``retry_after``) and decides when to give up. A client that
retried on its own would hide attempts from that record and could resend an envelope SII had in fact
received; DTEUpload's STATUS 99 makes a resend of the *same bytes* harmless, which is why the pipeline
must resend the stored bytes, never a rebuilt envelope.

Outcomes:

* :class:`Upload` — SII took the envelope (STATUS 0, or 99 "already received": ask its state, with the
  first track id) / the boleta API answered ``REC`` with a track id.
* :class:`EnvelopeStatus` — the state of an upload; per-document results where SII gives them (the boleta
  API's ``detalle_rep_rech``; QueryEstUp gives counts per document type only, SII mails the details).
* :class:`DocumentResult` — from :meth:`SiiClient.document_status` (QueryEstDte): what SII registered for
  one DTE; its ``state`` is final only when SII's code settles it (``fiscal.cl.sii_states`` explains which).
* :class:`RetryableSiiError` — timeouts, connection errors, HTTP 5xx and 429 (``retry_after`` from the
  ``Retry-After`` header, seconds or HTTP date), HTML where XML/JSON was expected (SII does that),
  unreadable answers, SII-internal statuses, a token refused twice. Also other unexpected HTTP 4xx:
  they say nothing certain about the document, so the pipeline's attempt limit decides.
* :class:`SiiRejectedError` — final: schema (STATUS 7), signature (8), size (2).
* :class:`SiiAuthenticationError` — SII refuses our certificate or permissions (STATUS 1, 6, HTTP 403;
  token ESTADO 05, 11, 12, -07...; QueryEstUp -3, -6, -10, -13; QueryEstDte EMP): a person must act;
  the document is unsent (or, for a state query, still unsettled).

Wire formats: ``fiscal.cl.sii_endpoints`` and ``fiscal.cl.sii_auth`` cite their sources.

* DTEUpload: a multipart form ``rutSender, dvSender, rutCompany, dvCompany, archivo`` with the cookie
  ``TOKEN``, answered by ``<RECEPCIONDTE>`` (``STATUS``, ``TRACKID``, ``DETAIL/ERROR``).
* QueryEstUp: ``getEstUp(RutCompania, DvCompania, TrackId, Token)`` answers ``RESP_HDR/ESTADO, GLOSA``
  and ``RESP_BODY`` with ``TIPO_DOCTO, INFORMADOS, ACEPTADOS, RECHAZADOS, REPAROS`` repeated per type.
* QueryEstDte: ``getEstDte(RutConsultante, DvConsultante, RutCompania, DvCompania, RutReceptor,
  DvReceptor, TipoDte, FolioDte, FechaEmisionDte, MontoDte, Token)``, every part an ``xsd:string`` in that
  order (the consultant is the certificate's holder, the date ``DDMMAAAA``, the amount the DTE's MntTotal),
  answers ``RESP_HDR`` with ``ESTADO, GLOSA_ESTADO, ERR_CODE, GLOSA_ERR, NUM_ATENCION`` (SII's "Consulta de
  Estado de DTE" manual OI2004_CEDTE_MDE 1.10; LibreDTE's ``ValidateDocumentJob`` sends the same).
* boleta envío: the same form, answered with JSON ``{"trackid", "estado": "REC", ...}`` (``trk_id`` is
  accepted too); its state: JSON ``{"estado", "estadistica": [{"tipo", "informados", "aceptados",
  "rechazados", "reparos"}], "detalle_rep_rech": [{"tipo", "folio", "estado", "descripcion", "error":
  [{"descripcion", "detalle"}]}]}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import httpx

from fiscal.certificates import Signer, rut_of
from fiscal.cl.rut import normalize
from fiscal.cl.sii_auth import (
    BOLETA,
    DTE,
    TokenCache,
    TokenKey,
    TokenRejectedError,
    fetch_boleta_token,
    fetch_dte_token,
    looks_like_html,
    parse_xml,
    read_respuesta,
    send,
    soap_call,
)
from fiscal.cl.sii_endpoints import SiiEndpoints
from fiscal.cl.sii_states import (
    DOCUMENT_QUERY_REFUSALS,
    ENVELOPE_GLOSAS,
    QUERY_TOKEN_ERRORS,
    DocState,
    RetryableSiiError,
    SiiAuthenticationError,
    SiiError,
    SiiRejectedError,
    UploadOutcome,
    document_query_state,
    document_state,
    envelope_state,
    upload_outcome,
)

T = TypeVar("T")

# QueryEstUp's own negative ESTADO values that mean "you may not ask this" rather than "not now"
# (-3 user RUT does not exist, -6 user not authorized, -10 user RUT invalid, -13 user RUT empty).
_QUERY_REFUSALS = frozenset({"-3", "-6", "-10", "-13"})


@dataclass(frozen=True)
class Upload:
    track_id: str | None  # None only for a STATUS 99 without TRACKID: use the track id stored earlier
    status: str  # DTEUpload's STATUS ("0", "99") or the boleta API's estado ("REC")
    already_received: bool = False
    received_at: str = ""  # SII's TIMESTAMP / fecha_recepcion, as SII wrote it


@dataclass(frozen=True)
class TypeCount:
    doc_type: int
    informed: int
    accepted: int
    rejected: int
    objections: int


@dataclass(frozen=True)
class DocumentResult:
    doc_type: int
    folio: int
    sii_state: str  # boleta API: DOK, RPR, RLV, RCH; QueryEstDte: DOK, FAU, FNA, ... (sii_states)
    state: DocState
    reason: str = ""


@dataclass(frozen=True)
class EnvelopeStatus:
    """The state of one upload. ``state`` is the *envelope's*; use :meth:`state_of` for a document."""

    track_id: str
    sii_state: str  # EPR, RSC, REC, ...
    reason: str = ""  # SII's GLOSA
    counts: tuple[TypeCount, ...] = ()
    documents: tuple[DocumentResult, ...] = ()
    itemized: bool = False  # every objected / rejected document is listed in ``documents`` (boleta API)

    @property
    def state(self) -> DocState:
        return envelope_state(self.sii_state)

    @property
    def final(self) -> bool:
        return self.state.final

    def state_of(self, doc_type: int, folio: int) -> DocState | None:
        """The document's state, or None when SII's answer does not tell (an accepted EnvioDTE where only
        some documents of that type were rejected: QueryEstUp gives counts, not folios; ask
        :meth:`SiiClient.document_status` for each)."""
        for document in self.documents:
            if (document.doc_type, document.folio) == (doc_type, folio):
                return document.state
        state = self.state
        if not state.final or state is DocState.REJECTED:
            return state
        if self.itemized:
            return DocState.ACCEPTED
        count = next((c for c in self.counts if c.doc_type == doc_type), None)
        if count is None or count.informed == 0:
            return None
        # SII counts each document once: ACEPTADOS without the REPAROS (its boleta API's examples show
        # informados 1, aceptados 0, reparos 1).
        if count.rejected == count.informed:
            return DocState.REJECTED
        if count.objections == count.informed:
            return DocState.ACCEPTED_WITH_OBJECTIONS
        if count.accepted == count.informed:
            return DocState.ACCEPTED
        return None


def _split(rut: str) -> tuple[str, str]:
    body, dv = normalize(rut).split("-")
    return body, dv


def _int(text: str | int | None) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return 0


class SiiClient:
    """One taxpayer certificate talking to one SII environment. Never retries (see the module docstring).

    ``http`` is shared and owned by the caller; ``tokens`` may be shared by every client of the process.
    ``timeout`` (seconds) bounds each HTTP exchange.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: SiiEndpoints,
        signer: Signer,
        tokens: TokenCache,
        timeout: float = 30.0,
    ) -> None:
        self.http = http
        self.endpoints = endpoints
        self.signer = signer
        self.tokens = tokens
        self.timeout = timeout

    # --- tokens ---

    async def _fetch(self, service: str) -> str:
        fetch = fetch_dte_token if service == DTE else fetch_boleta_token
        return await fetch(self.http, self.endpoints, self.signer, time_limit=self.timeout)

    async def _with_token(self, service: str, call: Callable[[str], Awaitable[T]]) -> T:
        key = TokenKey.of(self.endpoints, service, self.signer)
        token = await self.tokens.get(key, lambda: self._fetch(service))
        try:
            return await call(token)
        except TokenRejectedError:
            self.tokens.invalidate(key, token)
        token = await self.tokens.get(key, lambda: self._fetch(service))
        try:
            return await call(token)
        except TokenRejectedError as exc:
            self.tokens.invalidate(key, token)
            raise RetryableSiiError(
                f"SII refused a freshly fetched token too ({exc.reason})", kind="token"
            ) from None

    # --- uploads ---

    def _form(self, sender_rut: str, company_rut: str) -> dict[str, str]:
        rut_sender, dv_sender = _split(sender_rut)
        rut_company, dv_company = _split(company_rut)
        # Field order matters to SII's CGI: the four fields, then the file (httpx puts files last).
        return {
            "rutSender": rut_sender,
            "dvSender": dv_sender,
            "rutCompany": rut_company,
            "dvCompany": dv_company,
        }

    @staticmethod
    def _file_name(kind: str, company_rut: str, envelope: bytes) -> str:
        return f"{kind}_{normalize(company_rut)}_{hashlib.sha256(envelope).hexdigest()[:16]}.xml"

    async def upload_dte(self, envelope: bytes, sender_rut: str, company_rut: str) -> Upload:
        """POST an EnvioDTE to DTEUpload; ``sender_rut`` is the certificate holder's (RutEnvia)."""
        form = self._form(sender_rut, company_rut)
        files = {"archivo": (self._file_name("EnvioDTE", company_rut, envelope), envelope, "text/xml")}

        async def call(token: str) -> Upload:
            what = "DTEUpload"
            response = await send(
                self.http,
                "POST",
                self.endpoints.upload_url,
                what=what,
                time_limit=self.timeout,
                data=form,
                files=files,
                headers={"Cookie": f"TOKEN={token}"},
            )
            _refused(response, what)
            root = parse_xml(response, what)
            if _localname(root) != "RECEPCIONDTE" or root.findtext("STATUS") is None:
                raise RetryableSiiError(f"{what}: unexpected answer <{_localname(root)}>", kind="garbled")
            status = _int(root.findtext("STATUS"))
            outcome, meaning = upload_outcome(status)
            errors = [" ".join((e.text or "").split()) for e in root.iter("ERROR")]
            reason = "; ".join([meaning, *[e for e in errors if e]])
            track_id = (root.findtext("TRACKID") or "").strip() or None
            received_at = (root.findtext("TIMESTAMP") or "").strip()
            match outcome:
                case UploadOutcome.ACCEPTED_FOR_PROCESSING if track_id:
                    return Upload(track_id, str(status), received_at=received_at)
                case UploadOutcome.ACCEPTED_FOR_PROCESSING:
                    raise RetryableSiiError(f"{what}: STATUS 0 without TRACKID", kind="garbled")
                case UploadOutcome.ALREADY_RECEIVED:
                    return Upload(track_id, str(status), already_received=True, received_at=received_at)
                case UploadOutcome.REFRESH_TOKEN:
                    raise TokenRejectedError(f"{what}: STATUS {status}: {reason}", kind="token")
                case UploadOutcome.REJECTED:
                    raise SiiRejectedError(str(status), reason)
                case UploadOutcome.NOT_AUTHORIZED:
                    raise SiiAuthenticationError(str(status), reason)
                case _:
                    raise RetryableSiiError(f"{what}: STATUS {status}: {reason}", kind="sii")

        return await self._with_token(DTE, call)

    async def upload_boletas(self, envelope: bytes, sender_rut: str, company_rut: str) -> Upload:
        """POST an EnvioBOLETA to the boleta API's ``boleta.electronica.envio``."""
        form = self._form(sender_rut, company_rut)
        files = {"archivo": (self._file_name("EnvioBOLETA", company_rut, envelope), envelope, "text/xml")}

        async def call(token: str) -> Upload:
            what = "boleta.electronica.envio"
            response = await send(
                self.http,
                "POST",
                self.endpoints.boleta_upload_url,
                what=what,
                time_limit=self.timeout,
                data=form,
                files=files,
                headers={"Cookie": f"TOKEN={token}", "Accept": "application/json"},
            )
            answer = _json(response, what)
            track = answer.get("trackid", answer.get("trk_id"))
            if track is None or str(track).strip() == "":
                raise RetryableSiiError(f"{what}: the answer has no trackid", kind="garbled")
            return Upload(
                str(track).strip(),
                str(answer.get("estado") or ""),
                received_at=str(answer.get("fecha_recepcion") or ""),
            )

        return await self._with_token(BOLETA, call)

    # --- state of an upload ---

    async def dte_envelope_status(self, track_id: str, company_rut: str) -> EnvelopeStatus:
        """QueryEstUp ``getEstUp``: the envelope's state and, once processed, counts per document type."""
        rut, dv = _split(company_rut)

        async def call(token: str) -> EnvelopeStatus:
            what = "getEstUp"
            # The WSDL's part names (clients generated from it use them); the manual's example says Rut/Dv.
            params = [("RutCompania", rut), ("DvCompania", dv), ("TrackId", str(track_id)), ("Token", token)]
            root = await soap_call(
                self.http, self.endpoints.upload_status_url, what, params, what=what, time_limit=self.timeout
            )
            respuesta = read_respuesta(root, what)
            estado = respuesta.estado.upper()
            if estado in QUERY_TOKEN_ERRORS:
                raise TokenRejectedError(f"{what}: ESTADO {estado} {respuesta.glosa}".strip(), kind="token")
            if estado in _QUERY_REFUSALS:
                raise SiiAuthenticationError(estado, respuesta.glosa or "the query was refused")
            if not estado or estado.startswith("-"):
                details = ", ".join(f"{k} {v}" for k, v in respuesta.header.items() if k.endswith("_CODE"))
                raise RetryableSiiError(
                    f"{what}: ESTADO {estado or '?'} {respuesta.glosa} {details}".strip(), kind="sii"
                )
            counts: list[TypeCount] = []
            body = respuesta.body
            if body is not None:
                columns = {
                    name: [(el.text or "").strip() for el in body.findall(name)]
                    for name in ("TIPO_DOCTO", "INFORMADOS", "ACEPTADOS", "RECHAZADOS", "REPAROS")
                }
                for index, doc_type in enumerate(columns["TIPO_DOCTO"]):

                    def column(name: str, index: int = index) -> int:
                        values = columns[name]
                        return _int(values[index]) if index < len(values) else 0

                    counts.append(
                        TypeCount(
                            _int(doc_type),
                            column("INFORMADOS"),
                            column("ACEPTADOS"),
                            column("RECHAZADOS"),
                            column("REPAROS"),
                        )
                    )
            return EnvelopeStatus(
                track_id=respuesta.header.get("TRACKID") or str(track_id),
                sii_state=estado,
                reason=respuesta.glosa,
                counts=tuple(counts),
            )

        return await self._with_token(DTE, call)

    async def document_status(
        self, company_rut: str, receiver_rut: str, doc_type: int, folio: int, issue_date: date, total: int
    ) -> DocumentResult:
        """QueryEstDte ``getEstDte``: what SII registered for one DTE of ``company_rut`` (not boletas).

        ``receiver_rut``, ``issue_date`` and ``total`` are the DTE's RUTRecep, FchEmis and MntTotal: SII
        compares them with what it holds (``DNK`` when they differ). The result's ``state`` is final only
        when SII's code settles the document (``fiscal.cl.sii_states``); ``FAU`` (not received) is
        ``in_process``. Raises :class:`RetryableSiiError` (and refreshes a refused token once, like every
        call) or :class:`SiiAuthenticationError` (``EMP``: the company may not issue DTEs).
        """
        consultant, consultant_dv = _split(rut_of(self.signer.certificate))
        rut, dv = _split(company_rut)
        receiver, receiver_dv = _split(receiver_rut)

        async def call(token: str) -> DocumentResult:
            what = "getEstDte"
            params = [
                ("RutConsultante", consultant),
                ("DvConsultante", consultant_dv),
                ("RutCompania", rut),
                ("DvCompania", dv),
                ("RutReceptor", receiver),
                ("DvReceptor", receiver_dv),
                ("TipoDte", str(doc_type)),
                ("FolioDte", str(folio)),
                ("FechaEmisionDte", issue_date.strftime("%d%m%Y")),
                ("MontoDte", str(total)),
                ("Token", token),
            ]
            root = await soap_call(
                self.http, self.endpoints.query_document_url, what, params, what=what, time_limit=self.timeout
            )
            respuesta = read_respuesta(root, what)
            estado = respuesta.estado.upper()
            header = respuesta.header
            glosas = [header.get(name, "") for name in ("GLOSA_ESTADO", "GLOSA_ERR", "GLOSA")]
            reason = ": ".join(dict.fromkeys(" ".join(g.split()) for g in glosas if g.strip()))
            if estado in QUERY_TOKEN_ERRORS:
                raise TokenRejectedError(f"{what}: ESTADO {estado} {reason}".strip(), kind="token")
            if estado in DOCUMENT_QUERY_REFUSALS:
                raise SiiAuthenticationError(estado, reason or "the company may not issue DTEs")
            if not estado or estado.startswith("-"):
                details = ", ".join(f"{k} {v}" for k, v in header.items() if k.endswith("_CODE"))
                raise RetryableSiiError(
                    f"{what}: ESTADO {estado or '?'} {reason} {details}".strip(), kind="sii"
                )
            return DocumentResult(doc_type, folio, estado, document_query_state(estado), reason)

        return await self._with_token(DTE, call)

    async def boleta_envelope_status(self, track_id: str, company_rut: str) -> EnvelopeStatus:
        """``GET boleta.electronica.envio/{rut}-{dv}-{trackid}``: state, counts, rejected/objected boletas."""
        url = self.endpoints.boleta_status_url(normalize(company_rut), str(track_id))

        async def call(token: str) -> EnvelopeStatus:
            what = "boleta.electronica.envio state"
            response = await send(
                self.http,
                "GET",
                url,
                what=what,
                time_limit=self.timeout,
                headers={"Cookie": f"TOKEN={token}", "Accept": "application/json"},
            )
            answer = _json(response, what)
            estado = str(answer.get("estado") or "").strip().upper()
            if not estado:
                raise RetryableSiiError(f"{what}: the answer has no estado", kind="garbled")
            counts = tuple(
                TypeCount(
                    _int(item.get("tipo")),
                    _int(item.get("informados")),
                    _int(item.get("aceptados")),
                    _int(item.get("rechazados")),
                    _int(item.get("reparos")),
                )
                for item in _list(answer.get("estadistica"))
            )
            documents = []
            notes = [str(answer.get("glosa") or answer.get("descripcion") or ENVELOPE_GLOSAS.get(estado, ""))]
            for item in _list(answer.get("detalle_rep_rech")):
                code = str(item.get("estado") or "").strip().upper()
                errors = [
                    " ".join(str(part) for part in (error.get("descripcion"), error.get("detalle")) if part)
                    for error in _list(item.get("error"))
                ]
                reason = "; ".join(text for text in [str(item.get("descripcion") or ""), *errors] if text)
                state = document_state(code)
                if item.get("folio") is None or state is None:  # about the whole envío
                    notes.append(reason)
                    continue
                documents.append(
                    DocumentResult(_int(item.get("tipo")), _int(item.get("folio")), code, state, reason)
                )
            return EnvelopeStatus(
                track_id=str(answer.get("trackid") or track_id),
                sii_state=estado,
                reason=": ".join(note for note in notes if note),
                counts=counts,
                documents=tuple(documents),
                itemized=True,
            )

        return await self._with_token(BOLETA, call)


def _localname(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _refused(response: httpx.Response, what: str) -> None:
    """401: the token was refused (refresh it); 403: we are not allowed (a person must act)."""
    if response.status_code == 401:
        raise TokenRejectedError(f"{what}: HTTP 401", kind="token")
    if response.status_code == 403:
        text = " ".join(response.text.split())[:300]
        raise SiiAuthenticationError("403", f"{what}: {text or 'forbidden'}")


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a boleta API answer (see :func:`_refused` for 401 and 403)."""
    _refused(response, what)
    if looks_like_html(response):
        raise RetryableSiiError(f"{what}: SII answered an HTML page instead of JSON", kind="html")
    if response.status_code != 200:
        text = " ".join(response.text.split())[:200]
        raise RetryableSiiError(f"{what}: HTTP {response.status_code} {text}".strip(), kind="http")
    try:
        answer = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise RetryableSiiError(f"{what}: unreadable JSON from SII", kind="garbled") from None
    if not isinstance(answer, dict):
        raise RetryableSiiError(f"{what}: expected a JSON object", kind="garbled")
    return answer


__all__ = [
    "DocState",
    "DocumentResult",
    "EnvelopeStatus",
    "RetryableSiiError",
    "SiiAuthenticationError",
    "SiiClient",
    "SiiError",
    "SiiRejectedError",
    "TypeCount",
    "Upload",
]
