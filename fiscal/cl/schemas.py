"""SII's XML schemas: load them once from a directory and validate a DTE, EnvioDTE or EnvioBOLETA.

The schemas ``include`` and ``import`` their siblings (``SiiTypes_v10.xsd``, ``xmldsignature_v10.xsd``) by
relative path, so each is parsed from its file, which gives libxml2 the base URL to resolve them; network
access is off. ``EnvioBOLETA_v11.xsd`` defines its own ``RUTType``, ``DTEType``... (it cannot share a
schema set with ``DTE_v10.xsd``) and declares the boleta's ``DTE`` only as a type, ``BOLETADefType``: a
standalone boleta is validated against a one-line wrapper schema that includes it and declares a ``DTE``
element of that type.

Documents are chosen by their root element: ``DTE`` (``TipoDTE`` 39 or 41 -> the boleta type, any other ->
``DTE_v10.xsd``), ``EnvioDTE``, ``EnvioBOLETA``. A document without the ``http://www.sii.cl/SiiDte``
namespace (common in the wild, like SII's own samples) is validated as if it had it.
"""

from __future__ import annotations

import threading
from copy import deepcopy
from pathlib import Path
from typing import Final

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from schema.errors import StorehubError, ValidationError

SII_NS: Final = "http://www.sii.cl/SiiDte"
DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"

_FILES: Final = {
    "DTE": "DTE_v10.xsd",
    "EnvioDTE": "EnvioDTE_v10.xsd",
    "EnvioBOLETA": "EnvioBOLETA_v11.xsd",
}
_BOLETA_DTE_WRAPPER: Final = f"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema targetNamespace="{SII_NS}" xmlns:SiiDte="{SII_NS}" xmlns:xs="http://www.w3.org/2001/XMLSchema"
    elementFormDefault="qualified" attributeFormDefault="unqualified">
  <xs:include schemaLocation="EnvioBOLETA_v11.xsd"/>
  <xs:element name="DTE" type="SiiDte:BOLETADefType"/>
</xs:schema>""".encode()
BOLETA_TYPES: Final = frozenset({39, 41})


class SchemaUnavailableError(StorehubError):
    """SII's schemas cannot be loaded (wrong directory or a damaged file): a configuration problem."""

    code = "sii_schemas_unavailable"
    status = 500


class UnreadableXmlError(ValidationError):
    """The bytes are not well-formed XML."""

    code = "unreadable_xml"


def xml_parser() -> etree.XMLParser:
    """The parser for documents from outside: no entities, no network, no huge trees."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def parse_xml(data: bytes) -> etree._Element:
    """Parse ``data`` with :func:`xml_parser`; malformed XML raises :class:`UnreadableXmlError`."""
    try:
        return etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableXmlError(f"not well-formed XML: {exc}") from exc


def local_name(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


def with_sii_namespace(root: etree._Element) -> etree._Element:
    """A copy of ``root`` where every element without a namespace is in ``http://www.sii.cl/SiiDte``.

    The copy declares the namespace as the default on the root (not a generated ``ns0:`` prefix), so it
    serializes and canonicalizes as if it had been written with ``xmlns="http://www.sii.cl/SiiDte"``.
    Elements already in a namespace (``ds:Signature``) are copied untouched, with their own declarations.
    """

    def copy(source: etree._Element, parent: etree._Element | None) -> etree._Element:
        if not isinstance(source.tag, str) or etree.QName(source).namespace is not None:
            node = deepcopy(source)  # comments, processing instructions, ds:Signature: as they are
        elif parent is None:
            nsmap: dict[str | None, str] = {None: SII_NS}
            nsmap.update((prefix, uri) for prefix, uri in source.nsmap.items() if prefix)
            node = etree.Element(f"{{{SII_NS}}}{source.tag}", nsmap=nsmap)
        else:
            node = etree.Element(f"{{{SII_NS}}}{source.tag}")
        if isinstance(source.tag, str) and etree.QName(source).namespace is None:
            for key, value in source.attrib.items():
                node.set(key, value)
            node.text = source.text
            for child in source:
                copy(child, node)
        node.tail = source.tail
        if source.sourceline is not None:
            # schema errors point at the original lines (writable at runtime, read-only in types-lxml)
            node.sourceline = source.sourceline  # type: ignore[misc, unused-ignore]
        if parent is not None:
            parent.append(node)
        return node

    return copy(root, None)


class SiiSchemas:
    """The SII schemas in ``directory`` (``DTE_v10.xsd``, ``EnvioDTE_v10.xsd``, ``EnvioBOLETA_v11.xsd`` and
    what they include), each compiled on first use and kept; safe to share between threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._compiled: dict[str, etree.XMLSchema] = {}
        self._lock = threading.Lock()

    def schema(self, name: str) -> etree.XMLSchema:
        """The compiled schema ``"DTE"``, ``"EnvioDTE"``, ``"EnvioBOLETA"`` or ``"DTE-boleta"``."""
        with self._lock:
            if name not in self._compiled:
                self._compiled[name] = self._load(name)
            return self._compiled[name]

    def _load(self, name: str) -> etree.XMLSchema:
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        try:
            if name == "DTE-boleta":
                base = self.directory / "EnvioBOLETA_v11.xsd"
                if not base.is_file():
                    raise OSError(f"{base} does not exist")
                document = etree.fromstring(
                    _BOLETA_DTE_WRAPPER, parser, base_url=str(self.directory / "DTE-boleta.xsd")
                ).getroottree()
            else:
                path = self.directory / _FILES[name]
                if not path.is_file():
                    raise OSError(f"{path} does not exist")
                document = etree.parse(str(path), parser)
            return etree.XMLSchema(document)
        except KeyError:
            raise SchemaUnavailableError(f"no SII schema called {name!r}") from None
        except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise SchemaUnavailableError(
                f"cannot load SII schema {name} from {self.directory}: {exc}", directory=str(self.directory)
            ) from exc

    def schema_for(self, root: etree._Element) -> str:
        """Which schema validates a document with this (namespaced) root."""
        name = local_name(root)
        if name == "DTE":
            tipo = root.findtext(
                f"{{{SII_NS}}}Documento/{{{SII_NS}}}Encabezado/{{{SII_NS}}}IdDoc/{{{SII_NS}}}TipoDTE"
            )
            return "DTE-boleta" if (tipo or "").strip() in {str(t) for t in BOLETA_TYPES} else "DTE"
        if name in ("EnvioDTE", "EnvioBOLETA"):
            return name
        raise ValidationError(f"root element <{name}> is not DTE, EnvioDTE or EnvioBOLETA", root=name)

    def validate(self, doc: bytes | etree._Element) -> list[str]:
        """The schema errors of ``doc`` ("line N: message"), empty when it is valid.

        Raises :class:`UnreadableXmlError` for bytes that are not XML and ``ValidationError`` for a root
        that is none of DTE, EnvioDTE, EnvioBOLETA.
        """
        root = parse_xml(doc) if isinstance(doc, bytes) else doc
        if etree.QName(root).namespace is None:
            root = with_sii_namespace(root)
        elif etree.QName(root).namespace != SII_NS:
            return [f"root element {etree.QName(root).text} is not in the {SII_NS} namespace"]
        schema = self.schema(self.schema_for(root))
        if schema.validate(root):
            return []
        return [_format(entry) for entry in schema.error_log]


def _format(entry: etree._LogEntry) -> str:
    message = entry.message.replace(f"{{{SII_NS}}}", "").replace(f"{{{DS_NS}}}", "ds:")
    return f"line {entry.line}: {message}" if entry.line else message
