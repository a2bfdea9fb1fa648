from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from fiscal.cl.schemas import (
    SII_NS,
    SchemaUnavailableError,
    SiiSchemas,
    UnreadableXmlError,
    with_sii_namespace,
)
from schema.errors import ValidationError


def test_real_samples_validate_once_given_the_namespace_they_lack(
    schemas: SiiSchemas, sii_samples: dict[str, bytes]
) -> None:
    for name, raw in sii_samples.items():
        assert b"xmlns=" not in raw.split(b"<Documento")[0], name  # really namespace-less
        assert schemas.validate(raw) == [], name


def test_errors_name_the_element_and_the_line_of_the_original_file(
    schemas: SiiSchemas, sii_samples: dict[str, bytes]
) -> None:
    raw = sii_samples["DTE--76354771-K--33--170.xml"]
    broken = raw.replace(b"<Folio>170</Folio>", b"<Folio>x</Folio>").replace(
        b"<MntTotal>2996301", b"<MntTotal>-2996301"
    )
    errors = schemas.validate(broken)
    assert errors == [
        "line 8: Element 'Folio': 'x' is not a valid value of the atomic type 'FolioType'.",
        "line 38: Element 'MntTotal': '-2996301' is not a valid value of the atomic type 'MontoType'.",
    ]


def test_missing_element_is_reported(schemas: SiiSchemas, sii_samples: dict[str, bytes]) -> None:
    raw = sii_samples["DTE--76399752-9--33--25568.xml"]
    errors = schemas.validate(raw.replace(b"<TmstFirma>2019-03-28T13:59:52</TmstFirma>", b""))
    assert len(errors) == 1 and "TmstFirma" in errors[0]


def test_schema_is_chosen_by_root_and_boleta_type(
    schemas: SiiSchemas, build: Callable[..., etree._Element]
) -> None:
    boleta, factura = build(39, 11), build(33, 11)
    assert schemas.schema_for(boleta) == "DTE-boleta"
    assert schemas.schema_for(factura) == "DTE"
    assert schemas.validate(boleta) == []
    assert schemas.validate(etree.tostring(factura)) == []
    # a boleta is not a valid DTE_v10 document (TipoDTE 39 is not in its DTEType) and vice versa
    assert schemas.schema("DTE").validate(boleta) is False
    assert schemas.schema("DTE-boleta").validate(factura) is False
    envelope = etree.Element(f"{{{SII_NS}}}EnvioBOLETA")
    assert schemas.schema_for(envelope) == "EnvioBOLETA"
    with pytest.raises(ValidationError, match=r"root element <Factura> is not DTE, EnvioDTE or EnvioBOLETA"):
        schemas.validate(b"<Factura/>")


def test_schemas_are_compiled_once(schemas: SiiSchemas) -> None:
    assert schemas.schema("EnvioDTE") is schemas.schema("EnvioDTE")


def test_unreadable_input_and_foreign_namespace(schemas: SiiSchemas) -> None:
    with pytest.raises(UnreadableXmlError, match="not well-formed"):
        schemas.validate(b"<DTE><Documento>")
    assert schemas.validate(b'<DTE xmlns="urn:other"/>') == [
        "root element {urn:other}DTE is not in the http://www.sii.cl/SiiDte namespace"
    ]


def test_a_wrong_directory_is_a_clear_configuration_error(tmp_path: Path) -> None:
    schemas = SiiSchemas(tmp_path)
    with pytest.raises(
        SchemaUnavailableError, match=r"cannot load SII schema DTE from .*DTE_v10.xsd does not exist"
    ):
        schemas.validate(b'<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0"/>')
    (tmp_path / "EnvioDTE_v10.xsd").write_text("<not a schema")
    with pytest.raises(SchemaUnavailableError, match="EnvioDTE"):
        schemas.schema("EnvioDTE")


def test_with_sii_namespace_keeps_signature_and_structure(sii_samples: dict[str, bytes]) -> None:
    root = etree.fromstring(sii_samples["DTE--76354771-K--33--170.xml"])
    named = with_sii_namespace(root)
    assert named.tag == f"{{{SII_NS}}}DTE" and named.nsmap[None] == SII_NS
    assert (
        named.find(f"{{{SII_NS}}}Documento/{{{SII_NS}}}TED/{{{SII_NS}}}DD/{{{SII_NS}}}MNT").text == "2996301"
    )
    assert named.find("{http://www.w3.org/2000/09/xmldsig#}Signature") is not None
    serialized = etree.tostring(named)
    assert serialized.startswith(b'<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">')
    assert b"ns0:" not in serialized
