"""Where SII's services live: certification, production, or the local simulator.

Two families of services, on different hosts:

* the DTE web services (SOAP, rpc/encoded) and the upload form: ``maullin.sii.cl`` (certification) and
  ``palena.sii.cl`` (production) — ``/DTEWS/CrSeed.jws`` (seed), ``/DTEWS/GetTokenFromSeed.jws`` (token),
  ``/DTEWS/QueryEstUp.jws`` (state of an upload), ``/DTEWS/QueryEstDte.jws`` (state of one document),
  ``/cgi_dte/UPL/DTEUpload`` (multipart upload of an EnvioDTE). Source: SII's "Autenticación
  Automática" manual v1.9 (chapter 7 names both hosts), the upload, QueryEstUp and "Consulta de Estado de
  DTE" (OI2004_CEDTE_MDE) manuals as used by LibreDTE and Odoo's l10n_cl_edi.
* the boleta REST API (Res. 74/2020), base path ``/recursos/v1``: seed, token and the state of an envío
  on ``apicert.sii.cl`` (certification) / ``api.sii.cl`` (production); the envío itself (``POST
  boleta.electronica.envio``) on ``pangal.sii.cl`` / ``rahue.sii.cl``, which SII's OpenAPI lists as the
  hosts "exclusivo envío". The state of an envío is ``GET boleta.electronica.envio/{rut}-{dv}-{trackid}``
  on the API host (that is where Odoo and LibreDTE ask), not on the envío host.

:meth:`SiiEndpoints.simulator` puts every service under one base URL with the same paths, which is what
``fiscal.cl.simulator`` serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SEED_PATH: Final = "/DTEWS/CrSeed.jws"
TOKEN_PATH: Final = "/DTEWS/GetTokenFromSeed.jws"  # noqa: S105 (a path, not a secret)
QUERY_UPLOAD_PATH: Final = "/DTEWS/QueryEstUp.jws"
QUERY_DOCUMENT_PATH: Final = "/DTEWS/QueryEstDte.jws"
UPLOAD_PATH: Final = "/cgi_dte/UPL/DTEUpload"
BOLETA_PREFIX: Final = "/recursos/v1"
BOLETA_SEED_PATH: Final = BOLETA_PREFIX + "/boleta.electronica.semilla"
BOLETA_TOKEN_PATH: Final = BOLETA_PREFIX + "/boleta.electronica.token"
BOLETA_UPLOAD_PATH: Final = BOLETA_PREFIX + "/boleta.electronica.envio"


@dataclass(frozen=True)
class SiiEndpoints:
    """Base URLs (scheme and host, no trailing slash) of each family of SII services."""

    environment: str  # "certification", "production" or "simulator"; part of the token cache key
    dte_base: str  # SOAP services and DTEUpload
    boleta_api_base: str  # boleta seed, token and envío state
    boleta_upload_base: str  # boleta envío

    @classmethod
    def certification(cls) -> SiiEndpoints:
        return cls(
            environment="certification",
            dte_base="https://maullin.sii.cl",
            boleta_api_base="https://apicert.sii.cl",
            boleta_upload_base="https://pangal.sii.cl",
        )

    @classmethod
    def production(cls) -> SiiEndpoints:
        return cls(
            environment="production",
            dte_base="https://palena.sii.cl",
            boleta_api_base="https://api.sii.cl",
            boleta_upload_base="https://rahue.sii.cl",
        )

    @classmethod
    def simulator(cls, base_url: str) -> SiiEndpoints:
        """Every service under ``base_url`` (e.g. ``http://127.0.0.1:8090``), same paths as SII's."""
        base = base_url.rstrip("/")
        return cls(environment="simulator", dte_base=base, boleta_api_base=base, boleta_upload_base=base)

    # --- DTE (SOAP + upload form) ---

    @property
    def seed_url(self) -> str:
        return self.dte_base + SEED_PATH

    @property
    def token_url(self) -> str:
        return self.dte_base + TOKEN_PATH

    @property
    def upload_status_url(self) -> str:
        return self.dte_base + QUERY_UPLOAD_PATH

    @property
    def query_document_url(self) -> str:
        """QueryEstDte (``getEstDte``): the state of one DTE (not boletas) SII registered."""
        return self.dte_base + QUERY_DOCUMENT_PATH

    @property
    def upload_url(self) -> str:
        return self.dte_base + UPLOAD_PATH

    # --- boletas (REST) ---

    @property
    def boleta_seed_url(self) -> str:
        return self.boleta_api_base + BOLETA_SEED_PATH

    @property
    def boleta_token_url(self) -> str:
        return self.boleta_api_base + BOLETA_TOKEN_PATH

    @property
    def boleta_upload_url(self) -> str:
        return self.boleta_upload_base + BOLETA_UPLOAD_PATH

    def boleta_status_url(self, company_rut: str, track_id: str) -> str:
        """``…/boleta.electronica.envio/{rut}-{dv}-{trackid}``, ``company_rut`` normalized (76086428-5)."""
        body, dv = company_rut.split("-")
        return f"{self.boleta_api_base}{BOLETA_UPLOAD_PATH}/{body}-{dv}-{track_id}"


__all__ = [
    "BOLETA_SEED_PATH",
    "BOLETA_TOKEN_PATH",
    "BOLETA_UPLOAD_PATH",
    "QUERY_DOCUMENT_PATH",
    "QUERY_UPLOAD_PATH",
    "SEED_PATH",
    "TOKEN_PATH",
    "UPLOAD_PATH",
    "SiiEndpoints",
]
