"""Every SII answer code, mapped to what it means for our documents, and the errors the SII client raises.

Our document states (:class:`DocState`), in the order a document moves through them::

    pending -> signed -> sent -> in_process -> accepted | accepted_with_objections | rejected

* ``pending``     the sale made it; nothing is built or signed yet.
* ``signed``      DTE built, TED stamped, XMLDSig applied; not yet handed to SII.
* ``sent``        SII acknowledged the upload (DTEUpload STATUS 0 / 99, boleta envío ``REC``): we have a
                  track id and nothing more.
* ``in_process``  SII answered a state query with a state that is not final (``REC``, ``SOK``, ``FOK``,
                  ``PDR``, ``PRD``, ``CRT``): keep polling.
* ``accepted``    final: accepted (envelope ``EPR``, document ``DOK``).
* ``accepted_with_objections``  final: accepted "con reparos" (``RPR``, ``RLV``: "reparos leves").
* ``rejected``    final: SII refused it (``RSC`` schema, ``RFR`` signature, ``RCT`` carátula, ``RCH``
                  rejected, ``RPT`` repeated, ``VOF`` no .xml file found, ``RCO`` consistency).

Envelope states come from QueryEstUp's ``ESTADO`` and the boleta API's ``estado``; per-document states
(``DOK``/``RPR``/``RLV``/``RCH``) from the boleta API's ``detalle_rep_rech``. An unknown code is *not*
guessed final: :func:`envelope_state` answers ``in_process`` for it (keep asking) and
:func:`is_known_envelope_code` lets the caller log it.

QueryEstDte (``getEstDte``) answers for one DTE (facturas, notas; not boletas) what SII has *registered*
under (emitter, type, folio), compared with the receiver, issue date and total asked about. SII registers
only the documents it accepted (with or without objections), so a document it rejected inside a processed
envelope is answered ``FAU`` exactly like one not processed yet. Codes from SII's "Consulta de Estado de
DTE" manual (OI2004_CEDTE_MDE 1.10, ``estado_dte.pdf``), as LibreDTE's ``ValidateDocumentResponse`` lists
them with their ``ERR_CODE``; :func:`document_query_state` maps them:

==== ======== ============================================================ ==================================
code ERR_CODE SII's meaning                                                our state
==== ======== ============================================================ ==================================
DOK  0        received, data coincide with the registered document         ``accepted`` (final)
DNK  1        received, but the data asked about do NOT coincide          ``in_process``: not *this* document
FAU  3        not received by SII (yet, or never: rejected ones)           ``in_process``: see below
FNA  4        not authorized (the folio is in no CAF SII granted)          ``rejected`` (final)
FAN  5        annulled (the folio was annulled before it was sent)         ``rejected`` (final)
EMP  6        the company is not authorized to issue DTEs                  :class:`SiiAuthenticationError`
TMD  10       received; a debit note modifies its texts                    ``accepted`` (final)
TMC  11       received; a credit note modifies its texts                   ``accepted`` (final)
MMD  12       received; a debit note modifies its amounts                  ``accepted`` (final)
MMC  13       received; a credit note modifies its amounts                 ``accepted`` (final)
AND  14       received; a debit note annuls it                             ``accepted`` (final)
ANC  15       received; a credit note annuls it                            ``accepted`` (final)
==== ======== ============================================================ ==================================

Why: the T../M../A.. codes say SII *registered* the document and a later note (a document of its own)
changed or voided it; voiding a sale issues such a note, and the factura it voids was still accepted.
``DOK`` cannot tell "with objections" from "without": the caller refines that with QueryEstUp's counts.
``FAU`` and ``DNK`` never settle a document alone: asked too early, or about data SII holds differently,
they would turn an accepted document into a rejected one. The pipeline decides a document that SII keeps
answering ``FAU`` is rejected only from QueryEstUp's counts: when its envelope is processed and every other
document of the type is confirmed registered, the ones left are exactly the ``RECHAZADOS``. ``EMP`` is
about the company, not the document: a person must act. Error answers: ``001``-``003`` (token, see
:data:`QUERY_TOKEN_ERRORS`), negative ``ESTADO`` (-1 to -4 "ERROR RETORNO", with ``SRV_CODE`` 1 input
error / 2 SQL error): retry. An unknown code is ``in_process``.

DTEUpload's ``STATUS`` (SII's upload manual, as LibreDTE documents each value):

====== ============================================== ==============================================
STATUS meaning                                        what we do (:func:`upload_outcome`)
====== ============================================== ==============================================
0      upload OK, TRACKID follows                     ``ACCEPTED_FOR_PROCESSING``: document ``sent``
1      the sender has no permission to send           ``NOT_AUTHORIZED``: a person must fix it
2      file too big or too small                      ``REJECTED``: this envelope can never pass
3      file cut (size differs from its header)        ``RETRY``: a transport accident
5      not authenticated (token expired or unknown)   ``REFRESH_TOKEN``: new token, send once more
6      company not authorized to send                 ``NOT_AUTHORIZED``
7      schema error                                   ``REJECTED`` (final)
8      signature error                                ``REJECTED`` (final)
9      SII's system is blocked / internal trouble     ``RETRY``
99     this very file was already received            ``ALREADY_RECEIVED``: not an error; ask the state
                                                      of the first upload, never resend other content
other  "otro error interno"                           ``RETRY``
====== ============================================== ==============================================

Errors: :class:`RetryableSiiError` (try later: the pipeline owns retries and backs off),
:class:`SiiRejectedError` (SII refused *this content*, final), :class:`SiiAuthenticationError` (SII refused
*us*: certificate not accepted, sender or company not authorized; no retry helps until a person acts, and
it says nothing about the document, which stays unsent).
"""

from __future__ import annotations

import enum
from typing import Any, Final

from fiscal.errors import FiscalError


class DocState(enum.Enum):
    """Our document states; ``.value`` is the stable name to store or send. Deliberately not a ``str``
    enum: a DocState put where SII's own code (a string) is expected is then a type error."""

    PENDING = "pending"
    SIGNED = "signed"
    SENT = "sent"
    IN_PROCESS = "in_process"
    ACCEPTED = "accepted"
    ACCEPTED_WITH_OBJECTIONS = "accepted_with_objections"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in _FINAL


_FINAL: Final = frozenset({DocState.ACCEPTED, DocState.ACCEPTED_WITH_OBJECTIONS, DocState.REJECTED})

ENVELOPE_STATES: Final[dict[str, DocState]] = {
    "EPR": DocState.ACCEPTED,  # envío procesado
    "RPR": DocState.ACCEPTED_WITH_OBJECTIONS,  # aceptado con reparos
    "RLV": DocState.ACCEPTED_WITH_OBJECTIONS,  # aceptado con reparos leves
    "RSC": DocState.REJECTED,  # rechazado por error en schema
    "RCH": DocState.REJECTED,  # rechazado
    "RPT": DocState.REJECTED,  # repetido
    "RFR": DocState.REJECTED,  # rechazado por error en firma
    "VOF": DocState.REJECTED,  # no se encontró el archivo .xml
    "RCT": DocState.REJECTED,  # rechazado por error en carátula
    "RCO": DocState.REJECTED,  # rechazado por consistencia (boletas)
    "REC": DocState.IN_PROCESS,  # recibido
    "SOK": DocState.IN_PROCESS,  # schema validado
    "FOK": DocState.IN_PROCESS,  # firma de envío validada
    "PDR": DocState.IN_PROCESS,  # envío en proceso
    "PRD": DocState.IN_PROCESS,  # envío en proceso (boletas)
    "CRT": DocState.IN_PROCESS,  # carátula OK
}
ENVELOPE_GLOSAS: Final[dict[str, str]] = {
    "EPR": "Envio Procesado",
    "RPR": "Aceptado con Reparos",
    "RLV": "Aceptado con Reparos Leves",
    "RSC": "Rechazado por Error en Schema",
    "RCH": "Rechazado",
    "RPT": "Repetido Rechazado",
    "RFR": "Rechazado por Error en Firma",
    "VOF": "No se encontró el archivo .xml",
    "RCT": "Rechazado por Error en Caratula",
    "RCO": "Rechazado por Consistencia",
    "REC": "Envio Recibido",
    "SOK": "Schema Validado",
    "FOK": "Firma de Envio Validada",
    "PDR": "Envio en Proceso",
    "PRD": "Envio en Proceso",
    "CRT": "Caratula OK",
}
DOCUMENT_STATES: Final[dict[str, DocState]] = {
    "DOK": DocState.ACCEPTED,
    "RPR": DocState.ACCEPTED_WITH_OBJECTIONS,
    "RLV": DocState.ACCEPTED_WITH_OBJECTIONS,
    "RCH": DocState.REJECTED,
}

# QueryEstDte's ESTADO -> (ERR_CODE, SII's GLOSA_ERR); see the module docstring for what each means.
DOCUMENT_QUERY_CODES: Final[dict[str, tuple[str, str]]] = {
    "DOK": ("0", "Documento Recibido por el SII. Datos Coinciden con los Registrados"),
    "DNK": ("1", "Documento Recibido por el SII pero Datos NO Coinciden con los registrados"),
    "FAU": ("3", "Documento No Recibido por el SII"),
    "FNA": ("4", "Documento No Autorizado"),
    "FAN": ("5", "Documento Anulado"),
    "EMP": ("6", "Empresa no autorizada a Emitir Documentos Tributarios Electrónicos"),
    "TMD": ("10", "Existe Nota de Débito que Modifica Texto Documento"),
    "TMC": ("11", "Existe Nota de Crédito que Modifica Textos Documento"),
    "MMD": ("12", "Existe Nota de Débito que Modifica Montos Documento"),
    "MMC": ("13", "Existe Nota de Crédito que Modifica Montos Documento"),
    "AND": ("14", "Existe Nota de Débito que Anula Documento"),
    "ANC": ("15", "Existe Nota de Crédito que Anula Documento"),
}
DOCUMENT_QUERY_STATES: Final[dict[str, DocState]] = {
    "DOK": DocState.ACCEPTED,
    "TMD": DocState.ACCEPTED,
    "TMC": DocState.ACCEPTED,
    "MMD": DocState.ACCEPTED,
    "MMC": DocState.ACCEPTED,
    "AND": DocState.ACCEPTED,
    "ANC": DocState.ACCEPTED,
    "FNA": DocState.REJECTED,
    "FAN": DocState.REJECTED,
    "FAU": DocState.IN_PROCESS,
    "DNK": DocState.IN_PROCESS,
}
# QueryEstDte: SII refuses the company, not the document (raised as SiiAuthenticationError).
DOCUMENT_QUERY_REFUSALS: Final = frozenset({"EMP"})

# QueryEstUp and QueryEstDte answer these ESTADO values when the token is the problem (001 cookie/token
# inactive, 002 token inactive, 003 token does not exist): fetch a new token and ask once more.
QUERY_TOKEN_ERRORS: Final = frozenset({"001", "002", "003"})


def envelope_state(code: str) -> DocState:
    """Our state for an envelope state code; unknown codes are ``in_process`` (keep asking)."""
    return ENVELOPE_STATES.get(code.strip().upper(), DocState.IN_PROCESS)


def is_known_envelope_code(code: str) -> bool:
    return code.strip().upper() in ENVELOPE_STATES


def document_state(code: str) -> DocState | None:
    """Our state for a per-document code (DOK, RPR, RLV, RCH); ``None`` for anything else."""
    return DOCUMENT_STATES.get(code.strip().upper())


def document_query_state(code: str) -> DocState:
    """Our state for a QueryEstDte ``ESTADO`` (module docstring); unknown codes are ``in_process``."""
    return DOCUMENT_QUERY_STATES.get(code.strip().upper(), DocState.IN_PROCESS)


class UploadOutcome(enum.Enum):
    ACCEPTED_FOR_PROCESSING = "accepted_for_processing"
    ALREADY_RECEIVED = "already_received"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 (an outcome, not a secret)
    REJECTED = "rejected"
    NOT_AUTHORIZED = "not_authorized"
    RETRY = "retry"


UPLOAD_STATUS: Final[dict[int, tuple[UploadOutcome, str]]] = {
    0: (UploadOutcome.ACCEPTED_FOR_PROCESSING, "upload OK"),
    1: (UploadOutcome.NOT_AUTHORIZED, "the sender is not allowed to send documents for this company"),
    2: (UploadOutcome.REJECTED, "the file is too big or too small"),
    3: (UploadOutcome.RETRY, "the file arrived cut (its size differs from the declared one)"),
    5: (UploadOutcome.REFRESH_TOKEN, "not authenticated: the token expired or is unknown"),
    6: (UploadOutcome.NOT_AUTHORIZED, "the company is not authorized to send electronic documents"),
    7: (UploadOutcome.REJECTED, "the envelope does not validate against SII's schema"),
    8: (UploadOutcome.REJECTED, "the envelope's signature does not verify"),
    9: (UploadOutcome.RETRY, "SII's reception system is blocked"),
    99: (UploadOutcome.ALREADY_RECEIVED, "this file was already received: ask for its state"),
}


def upload_outcome(status: int) -> tuple[UploadOutcome, str]:
    """What a DTEUpload STATUS means (see the module's table); unknown values are SII-internal: retry."""
    return UPLOAD_STATUS.get(status, (UploadOutcome.RETRY, f"SII internal error (STATUS {status})"))


# --- errors ---------------------------------------------------------------------------------------------


class SiiError(FiscalError):
    """Something went wrong talking to SII."""

    code = "sii_error"
    status = 502


class RetryableSiiError(SiiError):
    """SII could not be reached or did not answer properly; the same request may work later.

    ``retry_after`` is SII's own ``Retry-After`` in seconds when it gave one (a floor for the backoff).
    ``details["kind"]`` says what happened: ``timeout``, ``connection``, ``http`` (5xx, 429 or another
    unexpected status, in ``details["http_status"]``), ``html`` (a web page instead of XML/JSON),
    ``garbled`` (unreadable or incomplete answer), ``fault`` (SOAP fault), ``token`` (refused twice),
    ``sii`` (an SII-internal status).
    """

    code = "sii_unavailable"
    status = 503

    def __init__(self, reason: str, retry_after: float | None = None, **details: Any) -> None:
        super().__init__(f"SII is not available right now: {reason}", **details)
        self.reason = reason
        self.retry_after = retry_after


class SiiRejectedError(SiiError):
    """SII refused this content for good (schema, signature, ...). Sending the same bytes again will not
    help; the document is rejected and must be corrected and issued anew.

    ``sii_code`` is SII's own code ("7", "8", "RSC"...): ``code`` stays the stable machine code every
    :class:`~schema.errors.StorehubError` carries.
    """

    code = "sii_rejected"
    status = 422

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        super().__init__(f"SII rejected it ({code}): {reason}", sii_code=code, **details)
        self.sii_code = code
        self.reason = reason


class SiiAuthenticationError(SiiError):
    """SII does not accept our credentials or permissions: the certificate is not registered or valid for
    SII, or the sender / company is not authorized. A person must act; the documents stay unsent."""

    code = "sii_not_authorized"
    status = 502

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        super().__init__(f"SII refused the credentials ({code}): {reason}", sii_code=code, **details)
        self.sii_code = code
        self.reason = reason


__all__ = [
    "DOCUMENT_QUERY_CODES",
    "DOCUMENT_QUERY_REFUSALS",
    "DOCUMENT_QUERY_STATES",
    "DOCUMENT_STATES",
    "ENVELOPE_GLOSAS",
    "ENVELOPE_STATES",
    "QUERY_TOKEN_ERRORS",
    "UPLOAD_STATUS",
    "DocState",
    "RetryableSiiError",
    "SiiAuthenticationError",
    "SiiError",
    "SiiRejectedError",
    "UploadOutcome",
    "document_query_state",
    "document_state",
    "envelope_state",
    "is_known_envelope_code",
    "upload_outcome",
]
