"""Everything the SII simulator knows, in memory: seeds, tokens, envelopes, documents, counters.

What it decides, and how it mirrors SII:

* Seeds are 12 random digits, used once, valid ``seed_ttl`` seconds (SII: 2 minutes). Tokens are 13
  random characters, valid ``token_ttl`` seconds after they were issued, bound to the certificate
  holder's RUT (an upload whose ``rutSender`` is someone else is refused: STATUS 1).
* An upload is checked the way SII does, in order: the same bytes received before -> STATUS 99 with the
  first track id (boleta API: the first track id again); XML and SII's schema (``SiiSchemas``) ->
  STATUS 7 / ``RSC``; the SetDTE signature -> STATUS 8 / ``RFR``; the Carátula (emitter and sender
  against the upload's, SubTotDTE against the documents) -> ``RCT``. Then every document: its own
  signature, TED (against ``authority_keys``) and amounts (``fiscal.cl.verify.verify_file``), the folios
  chosen for rejection or objection (:class:`~fiscal.cl.simulator.faults.Faults`), and the registry of
  documents by (emitter RUT, type, folio): a folio first seen with other content is rejected (``RCH``)
  and counted in ``counters["conflicting_documents"]`` so tests can assert that the pipeline never
  submits one document twice with different content.
* The outcome is decided at upload, revealed by the state queries: the first ``processing_polls``
  queries (and any within ``processing_seconds`` of the upload) answer an in-process state
  (REC, SOK, CRT, FOK, PDR...), then the final one.
* QueryEstDte (:meth:`SimulatorState.query_document`) answers from :attr:`SimulatorState.registry`, the
  decided documents by (emitter RUT, type, folio), once their envelope's final state has been revealed:
  ``DOK`` for an accepted one (with or without objections) when the receiver, issue date and total asked
  about are its own, ``DNK`` when they are not; ``FAU`` ("not received") for a folio it never took, one
  whose envelope is still in process, and one it rejected, because SII registers only what it accepted.
  For a rejected one the simulator appends, to SII's own words, the reason it decided (real SII mails it).
  Like SII, QueryEstUp keeps giving counts per type only: which folio was rejected is for QueryEstDte.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import random
import secrets
import string
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

import msgspec
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.cl.authority_keys import simulator_authority
from fiscal.cl.rut import normalize
from fiscal.cl.schemas import SiiSchemas, local_name
from fiscal.cl.sii_states import DOCUMENT_QUERY_CODES, ENVELOPE_GLOSAS
from fiscal.cl.simulator.faults import Faults
from fiscal.cl.ted import CHILE
from fiscal.cl.verify import read_document, verify_file
from schema.errors import StorehubError

IN_PROCESS: Final = ("REC", "SOK", "CRT", "FOK", "PDR")
ENVIO_DTE: Final = "EnvioDTE"
ENVIO_BOLETA: Final = "EnvioBOLETA"
_TOKEN_ALPHABET: Final = string.ascii_uppercase + string.digits


@dataclass
class Token:
    value: str
    holder_rut: str
    service: str
    issued: float


@dataclass
class Document:
    doc_type: int
    folio: int
    state: str  # DOK, RPR, RCH
    reason: str = ""


@dataclass
class Envelope:
    track_id: str
    kind: str  # EnvioDTE or EnvioBOLETA
    company_rut: str
    sender_rut: str
    digest: str
    file_name: str
    received_at: str  # Chile local time, "YYYY-MM-DD HH:MM:SS"
    received: float  # monotonic
    final_state: str  # EPR, RSC, RFR, RCT
    glosa: str = ""
    errors: list[str] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)
    polls: int = 0
    revealed: bool = False  # a state query has answered its final state (its documents are registered)

    def counts(self) -> list[dict[str, int]]:
        by_type: dict[int, Counter[str]] = {}
        for document in self.documents:
            by_type.setdefault(document.doc_type, Counter())[document.state] += 1
        return [
            {
                "tipo": doc_type,
                "informados": sum(states.values()),
                "aceptados": states["DOK"],  # without reparos, as SII counts them
                "rechazados": states["RCH"],
                "reparos": states["RPR"],
            }
            for doc_type, states in sorted(by_type.items())
        ]


@dataclass
class Registered:
    """A decided DTE as QueryEstDte knows it: the decision, the envelope that brought it, its data."""

    document: Document
    envelope: Envelope
    receiver_rut: str  # RUTRecep
    issued: date | None  # FchEmis
    total: int | None  # MntTotal


@dataclass(frozen=True)
class DocumentAnswer:
    """QueryEstDte's RESP_HDR: ESTADO, GLOSA_ESTADO, ERR_CODE, GLOSA_ERR."""

    estado: str
    glosa_estado: str
    err_code: str
    glosa_err: str


@dataclass(frozen=True)
class Received:
    """What an upload produced: DTEUpload's STATUS (0, 7, 8, 99) with the track id and errors."""

    status: int
    envelope: Envelope | None = None
    errors: tuple[str, ...] = ()

    @property
    def track_id(self) -> str | None:
        return self.envelope.track_id if self.envelope is not None else None


class SimulatorState:
    def __init__(
        self,
        *,
        schemas: SiiSchemas | None = None,
        authority_keys: Mapping[int, RSAPublicKey] | None = None,
        faults: Faults | None = None,
        token_ttl: float = 3600.0,
        seed_ttl: float = 120.0,
        processing_polls: int = 1,
        processing_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.schemas = schemas
        self.authority_keys = (
            dict(authority_keys) if authority_keys is not None else simulator_authority().keys
        )
        self.faults = faults or Faults()
        self.token_ttl = token_ttl
        self.seed_ttl = seed_ttl
        self.processing_polls = processing_polls
        self.processing_seconds = processing_seconds
        self.clock = clock
        self.rng = rng or random.Random()
        self.counters: Counter[str] = Counter()
        self.seeds: dict[str, float] = {}  # unused seeds -> issued
        self.tokens: dict[str, Token] = {}
        self.envelopes: dict[str, Envelope] = {}
        self.by_digest: dict[str, str] = {}  # envelope SHA-256 -> track id
        self.documents: dict[tuple[str, int, int], str] = {}  # (emitter, type, folio) -> first content digest
        self.registry: dict[tuple[str, int, int], Registered] = {}  # what QueryEstDte answers from
        self._track_ids = itertools.count(1_000_001)

    def count(self, name: str, amount: int = 1) -> None:
        self.counters[name] += amount

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults

    # --- seeds and tokens ---

    def issue_seed(self) -> str:
        now = self.clock()
        self.seeds = {seed: issued for seed, issued in self.seeds.items() if now - issued < self.seed_ttl}
        while True:
            seed = f"{secrets.randbelow(10**12):012d}"
            if seed not in self.seeds:
                break
        self.seeds[seed] = now
        self.count("seeds_issued")
        return seed

    def take_seed(self, seed: str) -> str | None:
        """Use a seed up; None if fine, else why not (GetTokenFromSeed's ESTADO 08 glosas)."""
        issued = self.seeds.pop(seed.strip(), None)
        if issued is None:
            return "NO Existe SEED"
        if self.clock() - issued >= self.seed_ttl:
            return "TIME-OUT DEL SEED"
        return None

    def issue_token(self, holder_rut: str, service: str) -> str:
        value = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(13))
        self.tokens[value] = Token(value, holder_rut, service, self.clock())
        self.count("tokens_issued")
        return value

    def check_token(self, value: str | None) -> tuple[Token | None, str]:
        """(token, "") when valid, else (None, "missing" | "unknown" | "expired")."""
        if not value:
            self.count("requests_without_token")
            return None, "missing"
        token = self.tokens.get(value)
        if token is None:
            self.count("requests_with_unknown_token")
            return None, "unknown"
        if self.faults.token_expiry.fire(self.rng):
            self.count("fault_token_expiry")
            del self.tokens[value]
            return None, "expired"
        if self.clock() - token.issued >= self.token_ttl:
            self.count("requests_with_expired_token")
            del self.tokens[value]
            return None, "expired"
        return token, ""

    # --- uploads ---

    def receive(
        self, kind: str, data: bytes, *, sender_rut: str, company_rut: str, file_name: str
    ) -> Received:
        """Take an envelope of ``kind`` (EnvioDTE via DTEUpload, EnvioBOLETA via the boleta API)."""
        self.count("uploads")
        digest = hashlib.sha256(data).hexdigest()
        first = self.by_digest.get(digest)
        if first is not None:
            self.count("duplicate_envelopes")
            return Received(99, self.envelopes[first])
        try:
            root = read_document(data)
        except StorehubError as exc:
            return self._refused(7, [exc.message])
        if local_name(root) != kind:
            return self._refused(7, [f"se esperaba un {kind}, llegó un <{local_name(root)}>"])
        if self.schemas is not None:
            try:
                errors = self.schemas.validate(root)
            except StorehubError as exc:
                errors = [exc.message]
            if errors:
                return self._refused(7, errors[:10])
        verdict = verify_file(data, authority_keys=self.authority_keys)
        checks = {check.name: check for check in verdict.envelope}
        signature = checks.get("SetDTE XMLDSig")
        if signature is not None and not signature.ok:
            return self._refused(8, [signature.detail])

        envelope = self._new_envelope(
            kind, data, sender_rut=sender_rut, company_rut=company_rut, file_name=file_name
        )
        self.count("envelopes_received")
        caratula_errors = self._caratula_errors(root, sender_rut, company_rut)
        caratula = checks.get("Caratula")
        if caratula is not None and not caratula.ok:
            caratula_errors.append(caratula.detail)
        if caratula_errors:
            envelope.final_state, envelope.errors = "RCT", caratula_errors
        else:
            dtes = root.findall("{*}SetDTE/{*}DTE")
            for dte, document in zip(dtes, verdict.documents, strict=True):
                envelope.documents.append(
                    self._decide(dte, document.doc_type, document.folio, document, envelope)
                )
        envelope.glosa = ENVELOPE_GLOSAS.get(envelope.final_state, "")
        return Received(0, envelope)

    def _new_envelope(
        self,
        kind: str,
        data: bytes,
        *,
        sender_rut: str,
        company_rut: str,
        file_name: str,
        final_state: str = "EPR",
    ) -> Envelope:
        envelope = Envelope(
            track_id=str(next(self._track_ids)),
            kind=kind,
            company_rut=company_rut,
            sender_rut=sender_rut,
            digest=hashlib.sha256(data).hexdigest(),
            file_name=file_name,
            received_at=datetime.now(CHILE).strftime("%Y-%m-%d %H:%M:%S"),
            received=self.clock(),
            final_state=final_state,
            glosa=ENVELOPE_GLOSAS.get(final_state, ""),
        )
        self.envelopes[envelope.track_id] = envelope
        self.by_digest[envelope.digest] = envelope.track_id
        return envelope

    def record_refused(
        self, kind: str, data: bytes, received: Received, *, sender_rut: str, company_rut: str, file_name: str
    ) -> Envelope:
        """An envelope refused at reception (STATUS 7 / 8) kept as one whose state is RSC / RFR: that is how
        the boleta API reports it (its envío always answers REC and a track id)."""
        envelope = self._new_envelope(
            kind,
            data,
            sender_rut=sender_rut,
            company_rut=company_rut,
            file_name=file_name,
            final_state="RSC" if received.status == 7 else "RFR",
        )
        envelope.errors = list(received.errors)
        return envelope

    def _refused(self, status: int, errors: list[str]) -> Received:
        self.count("schema_rejections" if status == 7 else "signature_rejections")
        return Received(status, None, tuple(errors))

    @staticmethod
    def _caratula_errors(root: etree._Element, sender_rut: str, company_rut: str) -> list[str]:
        errors = []
        emitter = (root.findtext("{*}SetDTE/{*}Caratula/{*}RutEmisor") or "").strip().upper()
        sender = (root.findtext("{*}SetDTE/{*}Caratula/{*}RutEnvia") or "").strip().upper()
        if emitter != company_rut:
            errors.append(f"RUT Emisor {emitter} diferente al Upload ({company_rut})")
        if sender != sender_rut:
            errors.append(f"RUT Envia {sender} diferente al Upload ({sender_rut})")
        return errors

    def _decide(
        self, dte: etree._Element, doc_type: int | None, folio: int | None, verdict: Any, envelope: Envelope
    ) -> Document:
        self.count("documents_received")
        kind, number = doc_type or 0, folio or 0
        emitter = (dte.findtext("{*}Documento/{*}Encabezado/{*}Emisor/{*}RUTEmisor") or "").strip().upper()
        key = (emitter, kind, number)
        content = hashlib.sha256(etree.tostring(dte)).hexdigest()
        first = self.documents.setdefault(key, content)
        if first != content:
            self.count("conflicting_documents")
            document = Document(kind, number, "RCH", "Folio ya recibido con otro contenido (DTE repetido)")
        elif not verdict.ok:
            failed = "; ".join(str(check) for check in verdict.checks if not check.ok)
            document = Document(kind, number, "RCH", failed)
        elif number in self.faults.reject_folios.get(kind, ()):
            document = Document(kind, number, "RCH", self.faults.reject_reason)
        elif number in self.faults.objection_folios.get(kind, ()):
            document = Document(kind, number, "RPR", "Aceptado con reparos (objection_folios)")
        else:
            document = Document(kind, number, "DOK")
        self.count("documents_rejected" if document.state == "RCH" else "documents_accepted")
        # QueryEstDte knows the first content of a folio; the same content decided again (another envelope)
        # replaces an earlier rejection of it, never an acceptance.
        known = self.registry.get(key)
        if first == content and (known is None or known.document.state == "RCH"):
            self.registry[key] = _registered(dte, document, envelope)
        return document

    # --- state queries ---

    def find(self, track_id: str, company_rut: str) -> Envelope | None:
        envelope = self.envelopes.get(track_id.strip())
        return envelope if envelope is not None and envelope.company_rut == company_rut else None

    def poll(self, envelope: Envelope) -> str:
        """The state this query reveals: in process for a while, then the final one."""
        self.count("status_queries")
        envelope.polls += 1
        waiting = envelope.polls <= self.processing_polls or (
            self.clock() - envelope.received < self.processing_seconds
        )
        if waiting:
            return IN_PROCESS[min(envelope.polls, len(IN_PROCESS)) - 1]
        envelope.revealed = True
        return envelope.final_state

    def query_document(
        self, emitter: str, doc_type: int, folio: int, receiver: str, issued: date, total: int
    ) -> DocumentAnswer:
        """QueryEstDte's answer for one DTE (see the module docstring)."""
        self.count("document_queries")
        known = self.registry.get((emitter, doc_type, folio))
        if known is None or not known.envelope.revealed or known.document.state == "RCH":
            self.count("document_queries_not_received")
            glosa = DOCUMENT_QUERY_CODES["FAU"][1]
            if known is not None and known.envelope.revealed and known.document.reason:
                glosa = f"{glosa}. {known.document.reason}"
            return DocumentAnswer("FAU", "DTE No Recibido", DOCUMENT_QUERY_CODES["FAU"][0], glosa)
        if (known.receiver_rut, known.issued, known.total) != (receiver, issued, total):
            self.count("document_queries_not_matching")
            return DocumentAnswer("DNK", "DTE Recibido", *DOCUMENT_QUERY_CODES["DNK"])
        return DocumentAnswer("DOK", "DTE Recibido", *DOCUMENT_QUERY_CODES["DOK"])

    # --- for tests and the demo ---

    def snapshot(self) -> dict[str, Any]:
        return {
            "counters": dict(sorted(self.counters.items())),
            "faults": msgspec.to_builtins(self.faults),
            "processing_polls": self.processing_polls,
            "processing_seconds": self.processing_seconds,
            "seeds_outstanding": len(self.seeds),
            "tokens": len(self.tokens),
            "envelopes": [
                {
                    "track_id": envelope.track_id,
                    "kind": envelope.kind,
                    "company_rut": envelope.company_rut,
                    "sender_rut": envelope.sender_rut,
                    "received_at": envelope.received_at,
                    "final_state": envelope.final_state,
                    "polls": envelope.polls,
                    "errors": envelope.errors,
                    "documents": [
                        {"type": d.doc_type, "folio": d.folio, "state": d.state, "reason": d.reason}
                        for d in envelope.documents
                    ],
                }
                for envelope in self.envelopes.values()
            ],
            "documents": [
                {"rut": rut, "type": doc_type, "folio": folio, "digest": digest}
                for (rut, doc_type, folio), digest in sorted(self.documents.items())
            ],
        }


def _registered(dte: etree._Element, document: Document, envelope: Envelope) -> Registered:
    header = "{*}Documento/{*}Encabezado/"
    receiver = (dte.findtext(header + "{*}Receptor/{*}RUTRecep") or "").strip().upper()
    with contextlib.suppress(StorehubError):  # not a RUT: kept as written, no query matches it
        receiver = normalize(receiver)
    try:
        issued: date | None = date.fromisoformat((dte.findtext(header + "{*}IdDoc/{*}FchEmis") or "").strip())
    except ValueError:
        issued = None
    try:
        total: int | None = int((dte.findtext(header + "{*}Totales/{*}MntTotal") or "").strip())
    except ValueError:
        total = None
    return Registered(document, envelope, receiver, issued, total)


def company(rut: str, dv: str) -> str:
    """``rutCompany`` + ``dvCompany`` as a normalized RUT; raises ``ValidationError``."""
    return normalize(f"{rut.strip()}-{dv.strip()}")


__all__ = [
    "ENVIO_BOLETA",
    "ENVIO_DTE",
    "IN_PROCESS",
    "Document",
    "DocumentAnswer",
    "Envelope",
    "Received",
    "Registered",
    "SimulatorState",
    "Token",
]
