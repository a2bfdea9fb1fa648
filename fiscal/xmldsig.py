"""XML Signature (XMLDSig) as SII wants it; the base Ecuador's XAdES builds on.

A signed DTE looks like SII's accepted samples::

    <DTE version="1.0">
      <Documento ID="F170T33">…</Documento>
      <Signature xmlns="http://www.w3.org/2000/09/xmldsig#">
        <SignedInfo>
          <CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>
          <SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>
          <Reference URI="#F170T33">
            <Transforms><Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/></Transforms>
            <DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><DigestValue>…</DigestValue>
          </Reference>
        </SignedInfo>
        <SignatureValue>…</SignatureValue>
        <KeyInfo><KeyValue><RSAKeyValue><Modulus/><Exponent/></RSAKeyValue></KeyValue>
                 <X509Data><X509Certificate>…</X509Certificate></X509Data></KeyInfo>
      </Signature>
    </DTE>

Canonicalization is inclusive C14N 1.0, so the digest depends on the namespaces in scope where the signed
element sits: sign a DTE as its own document (SII's namespace on ``<DTE>``), and the envelope's ``SetDTE``
with ``xmlns:xsi`` in scope, exactly as they will be sent. xmlsec canonicalizes inside libxml2, on the real
tree, so lxml's own c14n pitfall (a spurious ``xmlns=""`` on grandchildren when serializing a subelement)
does not arise here; nothing in this module canonicalizes with lxml.

Verification checks the signature only, not whether the certificate was valid or trusted when it signed;
documents from years ago carry long-expired certificates and still verify. It runs on the tree as given,
in place: a DTE that was signed standalone and then put into an envelope must be taken out (serialized
and parsed on its own) to verify, since the envelope's namespaces would enter its inclusive C14N.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import weakref
from dataclasses import dataclass

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from fiscal.certificates import Signer
from fiscal.errors import SignatureError

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
ID_ATTRIBUTES = ("ID", "Id", "id")

C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = DSIG_NS + "enveloped-signature"
RSA_SHA1 = DSIG_NS + "rsa-sha1"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA1 = DSIG_NS + "sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
_ACCEPTED = {
    "CanonicalizationMethod": {C14N, EXC_C14N},
    "SignatureMethod": {RSA_SHA1, RSA_SHA256},
    "Transform": {C14N, EXC_C14N, ENVELOPED},
    "DigestMethod": {SHA1, SHA256},
}

_NS = {"ds": DSIG_NS}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
# Every ID attribute at or below the context element (each result knows its element and attribute name).
_ID_VALUES = etree.XPath(" | ".join(f"descendant-or-self::*/@{name}" for name in ID_ATTRIBUTES))


def _find_by_id(root: etree._Element, reference_id: str) -> tuple[etree._Element, str]:
    """The one element (root or below) whose ID attribute is ``reference_id``, and that attribute's name."""
    found = [(value.getparent(), value.attrname) for value in _ID_VALUES(root) if value == reference_id]
    if not found:
        raise SignatureError(f"no element has ID {reference_id!r}")
    if len(found) > 1:
        raise SignatureError(f"{len(found)} elements have ID {reference_id!r}: the reference is ambiguous")
    return found[0]


# --- signing --------------------------------------------------------------------------------------------
#
# What a signature costs beyond the RSA operation, and how it is avoided (bench/fiscal_sign.py):
# * Loading the private key into xmlsec (PEM -> OpenSSL, ~0.75 ms) and its certificate (~0.2 ms) is done
#   once per Signer (_SigningMaterial, cached while the Signer lives), not per signature.
# * xmlsec copies the whole key, certificate included, into every signing context (~0.15 ms), and
#   writing KeyInfo (KeyValue + X509Data) costs it ~0.7 ms per signature although KeyInfo is the same for
#   every signature of a signer and is not covered by the signature. So the context gets the bare private
#   key, the template has no KeyInfo, and the KeyInfo xmlsec wrote once for this signer (same bytes) is
#   appended after signing.
# * The template is built with lxml, not xmlsec.template: element nodes xmlsec creates in C do not have
#   their names in the document's dictionary, so lxml's find() and XPath cannot see them and the result
#   had to be serialized and parsed again. Filled by xmlsec, the template only gets text (DigestValue,
#   SignatureValue), which lxml sees fine; nothing is re-parsed.


@dataclass(frozen=True, slots=True)
class _SigningMaterial:
    key: xmlsec.Key  # the private key alone
    key_info: etree._Element  # <KeyInfo>…</KeyInfo> exactly as xmlsec writes it for this key and certificate


# Keyed by the Signer object itself (its id, while it lives): hashing a Signer hashes its certificate.
_MATERIAL: dict[int, tuple[weakref.ref[Signer], _SigningMaterial]] = {}


def _dsig(parent: etree._Element | None, name: str, algorithm: str | None = None) -> etree._Element:
    tag = f"{{{DSIG_NS}}}{name}"
    if parent is None:
        element = etree.Element(tag, nsmap={None: DSIG_NS})
    else:
        if not len(parent):
            parent.text = "\n"  # xmlsec's layout: each child on its own line
        element = etree.SubElement(parent, tag)
        element.tail = "\n"
    if algorithm is not None:
        element.set("Algorithm", algorithm)
    return element


@functools.cache
def _template(enveloped: bool) -> etree._Element:
    """A ``<Signature>`` without KeyInfo, as ``xmlsec.template`` lays it out; the Reference has no URI."""
    signature = _dsig(None, "Signature")
    signed_info = _dsig(signature, "SignedInfo")
    _dsig(signed_info, "CanonicalizationMethod", C14N)
    _dsig(signed_info, "SignatureMethod", RSA_SHA1)
    reference = _dsig(signed_info, "Reference")
    _dsig(_dsig(reference, "Transforms"), "Transform", ENVELOPED if enveloped else C14N)
    _dsig(reference, "DigestMethod", SHA1)
    _dsig(reference, "DigestValue")
    _dsig(signature, "SignatureValue")
    return signature


def _signing_material(signer: Signer) -> _SigningMaterial:
    entry = _MATERIAL.get(id(signer))
    if entry is not None and entry[0]() is signer:
        return entry[1]
    key_pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem, None)
        # KeyInfo as xmlsec writes it: sign a throwaway document with a KeyInfo template once.
        with_certificate = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem, None)
        with_certificate.load_cert_from_memory(
            signer.certificate.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
        )
        probe = etree.Element("Probe", ID="probe")
        signature = xmlsec.template.create(
            probe, xmlsec.constants.TransformInclC14N, xmlsec.constants.TransformRsaSha1
        )
        probe.append(signature)
        reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha1, uri="#probe")
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
        key_info = xmlsec.template.ensure_key_info(signature)
        xmlsec.template.add_key_value(key_info)
        xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
        context = xmlsec.SignatureContext()
        context.register_id(probe, "ID")
        context.key = with_certificate
        context.sign(signature)
    except xmlsec.Error as exc:
        raise SignatureError(f"xmlsec cannot use the certificate's key to sign: {exc}") from None
    # Serialized and parsed: lxml cannot see the nodes xmlsec made (see above).
    key_info = etree.fromstring(etree.tostring(key_info, with_tail=False), _PARSER)
    material = _SigningMaterial(key=key, key_info=key_info)
    number = id(signer)
    _MATERIAL[number] = (weakref.ref(signer, lambda _: _MATERIAL.pop(number, None)), material)
    return material


def sign_enveloped(root: etree._Element, reference_id: str, signer: Signer) -> etree._Element:
    """Sign the element with ``ID=reference_id`` and append the ``<Signature>`` as ``root``'s last child.

    Returns ``root``. When the signed element is ``root`` itself (the signature then sits inside what it
    signs, as in Ecuador's comprobantes), the reference's transform is enveloped-signature instead of C14N
    (inclusive C14N 1.0 still applies: it is the default after a node-set transform).
    """
    if root.find("ds:Signature", _NS) is not None:
        raise SignatureError("the document is already signed: it has a <Signature>")
    target, attribute = _find_by_id(root, reference_id)
    material = _signing_material(signer)
    signature = copy.deepcopy(_template(target is root))
    signature[0][2].set("URI", f"#{reference_id}")  # SignedInfo/Reference
    root.append(signature)
    try:
        context = xmlsec.SignatureContext()
        context.register_id(target, attribute)
        context.key = material.key
        context.sign(signature)
    except xmlsec.Error as exc:
        root.remove(signature)
        raise SignatureError(f"could not sign #{reference_id}: {exc}") from None
    key_info = copy.deepcopy(material.key_info)
    key_info.tail = "\n"
    signature.append(key_info)
    return root


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _embedded_certificate(signature: etree._Element) -> x509.Certificate:
    texts = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS)
    if not texts:
        raise SignatureError("the signature carries no certificate (KeyInfo/X509Data/X509Certificate)")
    certificates: list[x509.Certificate] = []
    for element in texts:
        try:
            certificates.append(x509.load_der_x509_certificate(_b64(element.text)))
        except (ValueError, binascii.Error):
            raise SignatureError("the signature's X509Certificate is not a valid certificate") from None
    modulus = signature.findtext("ds:KeyInfo/ds:KeyValue/ds:RSAKeyValue/ds:Modulus", namespaces=_NS)
    if modulus is not None and len(certificates) > 1:
        for certificate in certificates:
            public = certificate.public_key()
            if isinstance(public, rsa.RSAPublicKey) and public.public_numbers().n == _int(modulus):
                return certificate
    return certificates[0]


def _int(text: str | None) -> int:
    try:
        return int.from_bytes(_b64(text), "big")
    except binascii.Error:
        raise SignatureError("the signature's RSAKeyValue is not valid base64") from None


def _check_key_value(signature: etree._Element, certificate: x509.Certificate) -> None:
    key_value = signature.find("ds:KeyInfo/ds:KeyValue/ds:RSAKeyValue", _NS)
    if key_value is None:
        return
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise SignatureError("the certificate's key is not RSA")
    numbers = public.public_numbers()
    modulus = _int(key_value.findtext("ds:Modulus", namespaces=_NS))
    exponent = _int(key_value.findtext("ds:Exponent", namespaces=_NS))
    if (modulus, exponent) != (numbers.n, numbers.e):
        raise SignatureError("the signature's KeyValue is not the key of its certificate")


def _verification_context() -> xmlsec.SignatureContext:
    """A context that accepts only the algorithms SII and SRI use (no XSLT, XPath or external URIs)."""
    context = xmlsec.SignatureContext()
    constants = xmlsec.constants
    for transform in (
        constants.TransformEnveloped,
        constants.TransformInclC14N,
        constants.TransformExclC14N,
        constants.TransformSha1,
        constants.TransformSha256,
    ):
        context.enable_reference_transform(transform)
    for transform in (
        constants.TransformInclC14N,
        constants.TransformExclC14N,
        constants.TransformRsaSha1,
        constants.TransformRsaSha256,
    ):
        context.enable_signature_transform(transform)
    return context


def verify_enveloped(root: etree._Element, certificate: x509.Certificate | None = None) -> x509.Certificate:
    """Verify the ``<Signature>`` child of ``root``; return the certificate whose key verified it.

    Without ``certificate``, the one in KeyInfo is used. KeyInfo's KeyValue must be the key of KeyInfo's
    certificate (SII's samples and ours carry both), whichever certificate verifies. Each reference
    must point at ``root``, a child of ``root`` or something inside the signature itself (XAdES), so a
    signature over some other element cannot pass for the document's. Nothing is modified.
    """
    signatures = root.findall("ds:Signature", _NS)
    if not signatures:
        raise SignatureError("the document is not signed: it has no <Signature>")
    if len(signatures) > 1:
        raise SignatureError(f"the document has {len(signatures)} signatures where one is expected")
    signature = signatures[0]
    signed_info = signature.find("ds:SignedInfo", _NS)
    references = signature.findall("ds:SignedInfo/ds:Reference", _NS)
    if signed_info is None or not references:
        raise SignatureError("the signature has no SignedInfo or references nothing")
    for element in signed_info.iter(etree.Element):
        accepted = _ACCEPTED.get(etree.QName(element).localname)
        if accepted is not None and element.get("Algorithm") not in accepted:
            raise SignatureError(f"the signature uses {element.get('Algorithm')!r}, which is not accepted")
    context = _verification_context()
    for reference in references:
        uri = reference.get("URI") or ""
        if not uri.startswith("#") or len(uri) < 2:
            raise SignatureError(f"unsupported signature reference {uri!r}: expected '#<ID>'")
        target, attribute = _find_by_id(root, uri[1:])
        inside_signature = any(ancestor is signature for ancestor in target.iterancestors())
        if not (target is root or target.getparent() is root or inside_signature):
            raise SignatureError(f"the signature covers {uri}, which is not the document")
        context.register_id(target, attribute)

    embedded = None
    if certificate is None or signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS) is not None:
        embedded = _embedded_certificate(signature)
        _check_key_value(signature, embedded)
    certificate = certificate or embedded
    assert certificate is not None
    try:
        context.key = xmlsec.Key.from_memory(
            certificate.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem, None
        )
        context.verify(signature)
    except xmlsec.Error:
        ids = ", ".join(reference.get("URI") or "" for reference in references)
        raise SignatureError(
            f"the signature of {ids} does not verify: the document was changed after it was signed, "
            "or it was not signed with this certificate's key"
        ) from None
    return certificate


# --- whole-document signatures (Reference URI="") --------------------------------------------------------


def sign_whole_document(root: etree._Element, signer: Signer) -> etree._Element:
    """Sign the whole document ``root`` belongs to (``Reference URI=""``, enveloped-signature transform) and
    append the ``<Signature>`` as ``root``'s last child; returns ``root``.

    This is how SII wants the token request signed (autenticacion-automatica-v1.9, figure 1.4)::

        <getToken><item><Semilla>…</Semilla></item><Signature>… <Reference URI=""> …</Signature></getToken>

    ``root`` has no ID to point at, so the reference is the empty URI: the document without comments, minus
    the signature itself, in inclusive C14N 1.0.
    """
    if root.find("ds:Signature", _NS) is not None:
        raise SignatureError("the document is already signed: it has a <Signature>")
    signature = xmlsec.template.create(
        root, xmlsec.constants.TransformInclC14N, xmlsec.constants.TransformRsaSha1
    )
    root.append(signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.constants.TransformSha1, uri="")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.add_key_value(key_info)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
    key_pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem, None)
        key.load_cert_from_memory(
            signer.certificate.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
        )
        context = xmlsec.SignatureContext()
        context.key = key
        context.sign(signature)
    except xmlsec.Error as exc:
        root.remove(signature)
        raise SignatureError(f"could not sign the document: {exc}") from None
    fresh = etree.fromstring(etree.tostring(signature, with_tail=False), _PARSER)  # see sign_enveloped
    fresh.tail = signature.tail
    root.replace(signature, fresh)
    return root


def verify_whole_document(
    root: etree._Element, certificate: x509.Certificate | None = None
) -> x509.Certificate:
    """Verify a signature made by :func:`sign_whole_document`: the ``<Signature>`` child of ``root`` with one
    ``Reference URI=""`` whose first transform is enveloped-signature; return the certificate that verified.

    ``root`` must be the document element (the empty URI means the whole document). As in
    :func:`verify_enveloped`, KeyInfo's KeyValue must be the key of KeyInfo's certificate.
    """
    if root.getparent() is not None:
        raise SignatureError("a whole-document signature is verified on the document element")
    signatures = root.findall("ds:Signature", _NS)
    if len(signatures) != 1:
        raise SignatureError(f"expected one <Signature> on the document, found {len(signatures)}")
    signature = signatures[0]
    signed_info = signature.find("ds:SignedInfo", _NS)
    references = signature.findall("ds:SignedInfo/ds:Reference", _NS)
    if signed_info is None or len(references) != 1:
        raise SignatureError("the signature must have a SignedInfo with exactly one Reference")
    for element in signed_info.iter(etree.Element):
        accepted = _ACCEPTED.get(etree.QName(element).localname)
        if accepted is not None and element.get("Algorithm") not in accepted:
            raise SignatureError(f"the signature uses {element.get('Algorithm')!r}, which is not accepted")
    reference = references[0]
    if reference.get("URI") != "":
        raise SignatureError(f'expected Reference URI="" (the whole document), got {reference.get("URI")!r}')
    transforms = [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", _NS)]
    if not transforms or transforms[0] != ENVELOPED:
        raise SignatureError("a whole-document signature needs the enveloped-signature transform first")
    embedded = None
    if certificate is None or signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS) is not None:
        embedded = _embedded_certificate(signature)
        _check_key_value(signature, embedded)
    certificate = certificate or embedded
    assert certificate is not None
    context = _verification_context()
    try:
        context.key = xmlsec.Key.from_memory(
            certificate.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem, None
        )
        context.verify(signature)
    except xmlsec.Error:
        raise SignatureError(
            "the document's signature does not verify: it was changed after it was signed, or it was not "
            "signed with this certificate's key"
        ) from None
    return certificate
