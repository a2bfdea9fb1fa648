"""SII's formats, server side: SOAP requests in, ``<SII:RESPUESTA>`` / ``<RECEPCIONDTE>`` / JSON out.

Written independently of the client's parsers (``fiscal.cl.sii_auth``) so the tests exercise one against
the other rather than one piece of code against itself. The shapes follow SII's manuals and the answers
integrators record from maullin/palena and apicert (see ``fiscal.cl.sii_client``'s docstring).
"""

from __future__ import annotations

from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

SOAP_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC: Final = "http://schemas.xmlsoap.org/soap/encoding/"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XSD: Final = "http://www.w3.org/2001/XMLSchema"
SII_SCHEMA: Final = "http://www.sii.cl/XMLSchema"
XML_TYPE: Final = "text/xml; charset=utf-8"

_PARSER: Final = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class BadRequestError(Exception):
    """The request is not what the service takes (answered as a SOAP fault or HTTP 400)."""


def parse(data: bytes) -> etree._Element:
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise BadRequestError(f"not XML: {exc}") from None


def _local(element: etree._Element) -> str:
    return str(etree.QName(element).localname) if isinstance(element.tag, str) else ""


def soap_operation(data: bytes) -> tuple[str, dict[str, str]]:
    """(operation, {parameter: text}) of an rpc SOAP request; parameters by local name, and by position
    as ``"0"``, ``"1"``... (Axis matches rpc parameters by position; SII's manuals and WSDLs disagree on
    some names, e.g. getEstUp's ``Rut`` vs ``RutCompania``)."""
    root = parse(data)
    if _local(root) != "Envelope":
        raise BadRequestError("not a SOAP envelope")
    body = next((child for child in root if _local(child) == "Body"), None)
    call = next((child for child in body if isinstance(child.tag, str)), None) if body is not None else None
    if call is None:
        raise BadRequestError("the SOAP body is empty")
    children = [child for child in call if isinstance(child.tag, str)]
    params = {_local(child): child.text or "" for child in children}
    params.update((str(index), child.text or "") for index, child in enumerate(children))
    return _local(call), params


def respuesta(header: list[tuple[str, str]], body: list[tuple[str, str]] | None = None) -> bytes:
    """``<SII:RESPUESTA>`` with RESP_HDR (and RESP_BODY) fields in order, as a standalone document."""
    root = etree.Element(f"{{{SII_SCHEMA}}}RESPUESTA", nsmap={"SII": SII_SCHEMA})
    hdr = etree.SubElement(root, f"{{{SII_SCHEMA}}}RESP_HDR")
    for name, value in header:
        etree.SubElement(hdr, name).text = value
    if body is not None:
        resp_body = etree.SubElement(root, f"{{{SII_SCHEMA}}}RESP_BODY")
        for name, value in body:
            etree.SubElement(resp_body, name).text = value
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data


def soap_answer(namespace: str, operation: str, returned: bytes) -> bytes:
    """``<opResponse><opReturn xsi:type="xsd:string">escaped XML</opReturn></opResponse>`` (Axis 1, rpc)."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV, "xsd": XSD, "xsi": XSI})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    response = etree.SubElement(body, f"{{{namespace}}}{operation}Response", nsmap={"ns1": namespace})
    response.set(f"{{{SOAP_ENV}}}encodingStyle", SOAP_ENC)
    value = etree.SubElement(response, f"{operation}Return")
    value.set(f"{{{XSI}}}type", "xsd:string")
    value.text = returned.decode("utf-8")
    data: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return data


def soap_fault(message: str) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soapenv": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soapenv:Server.userException"
    etree.SubElement(fault, "faultstring").text = message
    data: bytes = etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    return data


def recepcion_dte(
    *,
    sender: str,
    company: str,
    file_name: str,
    timestamp: str,
    status: int,
    track_id: str | None = None,
    errors: list[str] | None = None,
) -> bytes:
    """DTEUpload's answer: ``<RECEPCIONDTE>`` with STATUS, TRACKID when there is one, DETAIL/ERROR."""
    root = etree.Element("RECEPCIONDTE")
    for name, value in (("RUTSENDER", sender), ("RUTCOMPANY", company), ("FILE", file_name)):
        etree.SubElement(root, name).text = value
    etree.SubElement(root, "TIMESTAMP").text = timestamp
    etree.SubElement(root, "STATUS").text = str(status)
    if errors:
        detail = etree.SubElement(root, "DETAIL")
        for error in errors:
            etree.SubElement(detail, "ERROR").text = error
    if track_id is not None:
        etree.SubElement(root, "TRACKID").text = track_id
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0"?>\n' + data + b"\n"


def boleta_error(estado: str, description: str, errors: list[str]) -> dict[str, Any]:
    """A ``detalle_rep_rech`` entry."""
    return {
        "estado": estado,
        "descripcion": description,
        "error": [
            {"seccion": "DTE", "linea": 0, "nivel": 3, "codigo": index, "descripcion": text, "detalle": None}
            for index, text in enumerate(errors, start=1)
        ],
    }


__all__ = [
    "XML_TYPE",
    "BadRequestError",
    "boleta_error",
    "parse",
    "recepcion_dte",
    "respuesta",
    "soap_answer",
    "soap_fault",
    "soap_operation",
]
