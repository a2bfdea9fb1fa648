"""The SII simulator as a Litestar app: SII's endpoints and formats under one base URL, plus ``/_sim``.

==========================================  =====================================================
``POST /DTEWS/CrSeed.jws``                  SOAP ``getSeed`` -> ``getSeedReturn``: RESPUESTA (ESTADO, SEMILLA)
``POST /DTEWS/GetTokenFromSeed.jws``        SOAP ``getToken(pszXml)`` -> RESPUESTA (ESTADO, GLOSA, TOKEN)
``POST /cgi_dte/UPL/DTEUpload``             multipart + cookie TOKEN -> ``<RECEPCIONDTE>`` (STATUS, TRACKID)
``POST /DTEWS/QueryEstUp.jws``              SOAP ``getEstUp(Rut, Dv, TrackId, Token)`` -> RESPUESTA
``POST /DTEWS/QueryEstDte.jws``             SOAP ``getEstDte(RutConsultante, ..., Token)`` -> RESPUESTA
                                            (ESTADO, GLOSA_ESTADO, ERR_CODE, GLOSA_ERR, NUM_ATENCION)
``GET  /recursos/v1/boleta.electronica.semilla``  RESPUESTA (ESTADO, SEMILLA)
``POST /recursos/v1/boleta.electronica.token``    signed getToken -> RESPUESTA (ESTADO, GLOSA, TOKEN)
``POST /recursos/v1/boleta.electronica.envio``    multipart + cookie -> JSON (trackid, estado REC)
``GET  /recursos/v1/boleta.electronica.envio/{rut}-{dv}-{trackid}``  JSON estado, estadistica, detalle
``POST /_sim/faults``                       replace the faults (JSON :class:`Faults`); answers the state
``GET  /_sim/state``                        counters, faults, envelopes, documents (JSON)
==========================================  =====================================================

A signed seed is verified with :func:`fiscal.xmldsig.verify_whole_document` (the ``Reference URI=""``
counterpart of ``verify_enveloped``); envelopes as :class:`~fiscal.cl.simulator.state.SimulatorState` says.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.middleware import DefineMiddleware
from litestar.params import FromPath

from fiscal.certificates import rut_of
from fiscal.cl.sii_endpoints import (
    BOLETA_SEED_PATH,
    BOLETA_TOKEN_PATH,
    BOLETA_UPLOAD_PATH,
    QUERY_DOCUMENT_PATH,
    QUERY_UPLOAD_PATH,
    SEED_PATH,
    TOKEN_PATH,
    UPLOAD_PATH,
)
from fiscal.cl.sii_states import ENVELOPE_GLOSAS
from fiscal.cl.simulator import wire
from fiscal.cl.simulator.faults import FaultMiddleware, parse_faults
from fiscal.cl.simulator.state import ENVIO_BOLETA, ENVIO_DTE, Envelope, SimulatorState, Token, company
from fiscal.cl.ted import CHILE
from fiscal.errors import FiscalError
from fiscal.xmldsig import DSIG_NS, verify_whole_document
from schema.errors import StorehubError

BOLETA_SERVICE = "boleta"
DTE_SERVICE = "dte"


def _xml(body: bytes, status: int = 200, media_type: str = wire.XML_TYPE) -> Response[bytes]:
    return Response(content=body, status_code=status, media_type=media_type)


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=status, media_type="application/json")


def _token_answer(state: SimulatorState, signed: str | bytes, service: str) -> bytes:
    """GetTokenFromSeed's RESPUESTA for a signed ``getToken`` (ESTADO codes from the manual, 5.2.2)."""

    def refuse(estado: str, glosa: str) -> bytes:
        state.count("token_requests_refused")
        return wire.respuesta([("ESTADO", estado), ("GLOSA", glosa)])

    data = signed.encode("utf-8") if isinstance(signed, str) else signed
    try:
        root = wire.parse(data.strip())
    except wire.BadRequestError:
        return refuse("02", "XML Invalido (SAXException), funcion valSignedXml")
    if root.find(f"{{{DSIG_NS}}}Signature") is None:
        return refuse("04", "XML Invalido, elemento Signature no existe, funcion valSignedXml")
    try:
        certificate = verify_whole_document(root)
    except FiscalError:
        return refuse("05", "XML Invalido, firma invalida, funcion valSignedXml")
    seed = root.findtext("item/Semilla")
    if root.tag != "getToken" or not seed:
        return refuse("06", "XML Invalido, elemento Semilla no existe, funcion getSeed")
    problem = state.take_seed(seed)
    if problem is not None:
        return refuse("08", problem)
    try:
        holder = rut_of(certificate)
    except StorehubError:
        return refuse("-07", "Error (12) parse ERROR en Validacion del RUT")
    token = state.issue_token(holder, service)
    return wire.respuesta([("ESTADO", "00"), ("GLOSA", "Token Creado")], [("TOKEN", token)])


async def _upload_form(request: Request[Any, Any, Any]) -> tuple[str, str, str, bytes]:
    """(sender, company, file name, bytes) from the multipart form; raises BadRequestError."""
    form = await request.form()
    archivo = form.get("archivo")
    try:
        sender = company(str(form.get("rutSender", "")), str(form.get("dvSender", "")))
        emitter = company(str(form.get("rutCompany", "")), str(form.get("dvCompany", "")))
    except StorehubError:
        raise wire.BadRequestError("rutSender/dvSender/rutCompany/dvCompany missing or not valid") from None
    if not isinstance(archivo, UploadFile):
        raise wire.BadRequestError("the form has no file 'archivo'")
    return sender, emitter, archivo.filename or "archivo.xml", await archivo.read()


def create_simulator_app(state: SimulatorState) -> Litestar:
    @post(SEED_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def crseed(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            operation, _ = wire.soap_operation(await request.body())
        except wire.BadRequestError as exc:
            return _xml(wire.soap_fault(str(exc)), 500)
        if operation != "getSeed":
            return _xml(wire.soap_fault(f"No such operation '{operation}'"), 500)
        answer = wire.respuesta([("ESTADO", "00")], [("SEMILLA", state.issue_seed())])
        return _xml(wire.soap_answer(str(request.url), "getSeed", answer))

    @post(TOKEN_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def get_token_from_seed(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            operation, params = wire.soap_operation(await request.body())
        except wire.BadRequestError as exc:
            return _xml(wire.soap_fault(str(exc)), 500)
        if operation != "getToken":
            return _xml(wire.soap_fault(f"No such operation '{operation}'"), 500)
        answer = _token_answer(state, params.get("pszXml", ""), DTE_SERVICE)
        return _xml(wire.soap_answer(str(request.url), "getToken", answer))

    @post(UPLOAD_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def dte_upload(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            sender, emitter, file_name, data = await _upload_form(request)
        except wire.BadRequestError as exc:
            return Response(content=f"{exc}\n".encode(), status_code=400, media_type="text/plain")
        answer: dict[str, Any] = {
            "sender": sender,
            "company": emitter,
            "file_name": file_name,
            "timestamp": _now(),
        }
        token, _problem = state.check_token(request.cookies.get("TOKEN"))
        if token is None:
            return _xml(wire.recepcion_dte(status=5, **answer))
        if token.holder_rut != sender:
            state.count("uploads_by_wrong_sender")
            return _xml(wire.recepcion_dte(status=1, **answer))
        state.count("dte_uploads")
        received = state.receive(ENVIO_DTE, data, sender_rut=sender, company_rut=emitter, file_name=file_name)
        return _xml(
            wire.recepcion_dte(
                status=received.status, track_id=received.track_id, errors=list(received.errors), **answer
            )
        )

    @post(QUERY_UPLOAD_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def query_est_up(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            operation, params = wire.soap_operation(await request.body())
        except wire.BadRequestError as exc:
            return _xml(wire.soap_fault(str(exc)), 500)
        if operation != "getEstUp":
            return _xml(wire.soap_fault(f"No such operation '{operation}'"), 500)
        url = str(request.url)
        token, problem = state.check_token(params.get("Token", params.get("3")))
        if token is None:
            estado, glosa = ("002", "Token Inactivo") if problem == "expired" else ("003", "Token No Existe")
            return _xml(
                wire.soap_answer(url, "getEstUp", wire.respuesta([("ESTADO", estado), ("GLOSA", glosa)]))
            )
        track_id = params.get("TrackId", params.get("2", "")).strip()
        try:
            emitter = company(
                params.get("RutCompania", params.get("0", "")), params.get("DvCompania", params.get("1", ""))
            )
        except StorehubError:
            emitter = ""
        envelope = state.find(track_id, emitter)
        if envelope is None or envelope.kind != ENVIO_DTE:
            header = [("ESTADO", "-11"), ("GLOSA", "ERR_CODE, SQL_CODE, SRV_CODE"), ("ERR_CODE", "1")]
            return _xml(wire.soap_answer(url, "getEstUp", wire.respuesta(header)))
        return _xml(wire.soap_answer(url, "getEstUp", _est_up(envelope, state.poll(envelope))))

    @post(QUERY_DOCUMENT_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def query_est_dte(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            operation, params = wire.soap_operation(await request.body())
        except wire.BadRequestError as exc:
            return _xml(wire.soap_fault(str(exc)), 500)
        if operation != "getEstDte":
            return _xml(wire.soap_fault(f"No such operation '{operation}'"), 500)
        token, problem = state.check_token(params.get("Token", params.get("10")))
        return _xml(wire.soap_answer(str(request.url), "getEstDte", _est_dte(state, params, token, problem)))

    @get(BOLETA_SEED_PATH, media_type=wire.XML_TYPE)
    async def boleta_seed() -> Response[bytes]:
        return _xml(wire.respuesta([("ESTADO", "00")], [("SEMILLA", state.issue_seed())]))

    @post(BOLETA_TOKEN_PATH, status_code=200, media_type=wire.XML_TYPE)
    async def boleta_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        return _xml(_token_answer(state, await request.body(), BOLETA_SERVICE))

    @post(BOLETA_UPLOAD_PATH, status_code=200, media_type="application/json")
    async def boleta_upload(request: Request[Any, Any, Any]) -> Response[bytes]:
        token, _problem = state.check_token(request.cookies.get("TOKEN"))
        if token is None:
            return _json({"error": "TOKEN NO VALIDO"}, 401)
        try:
            sender, emitter, file_name, data = await _upload_form(request)
        except wire.BadRequestError as exc:
            return _json({"error": str(exc)}, 400)
        if token.holder_rut != sender:
            state.count("uploads_by_wrong_sender")
            return _json({"error": f"el usuario {token.holder_rut} no puede enviar como {sender}"}, 403)
        state.count("boleta_uploads")
        received = state.receive(
            ENVIO_BOLETA, data, sender_rut=sender, company_rut=emitter, file_name=file_name
        )
        # Refused before processing (schema, signature): the boleta API still answers REC with a track id
        # and reports RSC / RFR through the envío's state.
        envelope = received.envelope or state.record_refused(
            ENVIO_BOLETA, data, received, sender_rut=sender, company_rut=emitter, file_name=file_name
        )
        return _json(
            {
                "rut_emisor": envelope.company_rut,
                "rut_envia": envelope.sender_rut,
                "trackid": int(envelope.track_id),
                "fecha_recepcion": envelope.received_at,
                "estado": "REC",
                "file": envelope.file_name,
            }
        )

    @get(BOLETA_UPLOAD_PATH + "/{ident:str}", media_type="application/json")
    async def boleta_status(request: Request[Any, Any, Any], ident: FromPath[str]) -> Response[bytes]:
        token, _problem = state.check_token(request.cookies.get("TOKEN"))
        if token is None:
            return _json({"error": "TOKEN NO VALIDO"}, 401)
        parts = ident.split("-")
        envelope = None
        if len(parts) == 3:
            try:
                envelope = state.find(parts[2], company(parts[0], parts[1]))
            except StorehubError:
                envelope = None
        if envelope is None or envelope.kind != ENVIO_BOLETA:
            return _json({"error": f"no existe el envío {ident}"}, 404)
        return _json(_boleta_state(envelope, state.poll(envelope)))

    @post("/_sim/faults", status_code=200)
    async def set_faults(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            state.set_faults(parse_faults(await request.body()))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            return _json({"error": str(exc)}, 400)
        return _json(state.snapshot())

    @get("/_sim/state")
    async def sim_state() -> Response[bytes]:
        return _json(state.snapshot())

    return Litestar(
        route_handlers=[
            crseed,
            get_token_from_seed,
            dte_upload,
            query_est_up,
            query_est_dte,
            boleta_seed,
            boleta_token,
            boleta_upload,
            boleta_status,
            set_faults,
            sim_state,
        ],
        middleware=[DefineMiddleware(FaultMiddleware, state=state)],
        openapi_config=None,
    )


def _now() -> str:
    return datetime.now(CHILE).strftime("%Y-%m-%d %H:%M:%S")


def _est_up(envelope: Envelope, estado: str) -> bytes:
    header = [
        ("TRACKID", envelope.track_id),
        ("ESTADO", estado),
        ("GLOSA", ENVELOPE_GLOSAS.get(estado, "")),
        ("NUM_ATENCION", f"{envelope.polls:06d} ( {envelope.received_at} )"),
    ]
    if estado != "EPR":
        if envelope.errors and estado == envelope.final_state:
            header[2] = ("GLOSA", f"{ENVELOPE_GLOSAS.get(estado, '')}: {'; '.join(envelope.errors)}")
        return wire.respuesta(header)
    body: list[tuple[str, str]] = []
    for count in envelope.counts():
        body.extend(
            (name, str(count[key]))
            for name, key in (
                ("TIPO_DOCTO", "tipo"),
                ("INFORMADOS", "informados"),
                ("ACEPTADOS", "aceptados"),
                ("RECHAZADOS", "rechazados"),
                ("REPAROS", "reparos"),
            )
        )
    return wire.respuesta(header, body)


# getEstDte's parts in the WSDL's order (a part may also come by position: see wire.soap_operation).
_EST_DTE_PARTS = (
    "RutConsultante",
    "DvConsultante",
    "RutCompania",
    "DvCompania",
    "RutReceptor",
    "DvReceptor",
    "TipoDte",
    "FolioDte",
    "FechaEmisionDte",
    "MontoDte",
    "Token",
)


def _est_dte(state: SimulatorState, params: dict[str, str], token: Token | None, problem: str) -> bytes:
    """getEstDte's RESPUESTA: token errors as QueryEstUp's, input errors as SRV_CODE 1, else the registry's
    answer (``SimulatorState.query_document``)."""
    attention = ("NUM_ATENCION", f"{state.counters['document_queries'] + 1:06d} ( {_now()} )")
    if token is None:
        estado, glosa = ("002", "Token Inactivo") if problem == "expired" else ("003", "Token No Existe")
        return wire.respuesta([("ESTADO", estado), ("GLOSA", glosa)])
    part = {
        name: params.get(name, params.get(str(index), "")).strip()
        for index, name in enumerate(_EST_DTE_PARTS)
    }
    try:
        emitter = company(part["RutCompania"], part["DvCompania"])
        receiver = company(part["RutReceptor"], part["DvReceptor"])
        company(part["RutConsultante"], part["DvConsultante"])
        doc_type, folio, total = int(part["TipoDte"]), int(part["FolioDte"]), int(part["MontoDte"])
        when = part["FechaEmisionDte"]
        if len(when) != 8 or not when.isdigit():
            raise ValueError(f"FechaEmisionDte {when!r} is not DDMMAAAA")
        issued = date(int(when[4:]), int(when[2:4]), int(when[:2]))
    except (StorehubError, ValueError) as exc:
        state.count("document_queries_refused")
        return wire.respuesta(
            [("ESTADO", "-1"), ("GLOSA", f"Error en Entrada: {exc}"), ("SRV_CODE", "1"), attention]
        )
    answer = state.query_document(emitter, doc_type, folio, receiver, issued, total)
    return wire.respuesta(
        [
            ("ESTADO", answer.estado),
            ("GLOSA_ESTADO", answer.glosa_estado),
            ("ERR_CODE", answer.err_code),
            ("GLOSA_ERR", answer.glosa_err),
            attention,
        ]
    )


def _boleta_state(envelope: Envelope, estado: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "rut_emisor": envelope.company_rut,
        "rut_envia": envelope.sender_rut,
        "trackid": int(envelope.track_id),
        "fecha_recepcion": envelope.received_at,
        "estado": estado,
    }
    if estado != envelope.final_state:
        return answer
    if estado != "EPR":
        entry = wire.boleta_error("RCH", ENVELOPE_GLOSAS.get(estado, "Rechazado"), envelope.errors)
        answer["estadistica"] = []
        answer["detalle_rep_rech"] = [{"tipo": None, "folio": None, **entry}]
        return answer
    answer["estadistica"] = envelope.counts()
    answer["detalle_rep_rech"] = [
        {
            "tipo": document.doc_type,
            "folio": document.folio,
            **wire.boleta_error(
                document.state,
                "DTE Rechazado" if document.state == "RCH" else "DTE Aceptado con Reparos",
                [document.reason] if document.reason else [],
            ),
        }
        for document in envelope.documents
        if document.state != "DOK"
    ]
    return answer


__all__ = ["create_simulator_app"]
