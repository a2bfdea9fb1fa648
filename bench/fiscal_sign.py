"""Chilean DTEs built, stamped and signed per second on one core, next to raw xmlsec signing.

    python bench/fiscal_sign.py --docs 2000 --type 39 --lines 10

Each document is ``fiscal.cl.dte.build_document`` of a ``--type`` document (boleta 39, factura 33 or nota
de crédito 61) with ``--lines`` lines: input checks, pricing, the XML, the TED signed with the CAF's key
and the XMLDSig with the taxpayer's certificate, ending in the parsed, signed ``<DTE>``. The CAF comes from
``DemoAuthority`` (a 512-bit key like SII's), the certificate from ``make_test_certificate`` (RSA-2048),
both made at start-up and not timed.

Baselines, in the same process and thread, alternating with the documents in rounds so all see the same
machine; both sign the same ``<DTE>`` whose ``<Documento>`` is already built (the first benchmarked
document with its signature taken off, as bytes), with the same key loaded into xmlsec once:

* ``raw_xmlsec`` (the ratio's baseline): the least any implementation must pay. Parse those bytes, add the
  signature template (inclusive C14N, rsa-sha1, sha1), sign with python-xmlsec, append the KeyInfo
  (KeyValue, X509Certificate), which is the same for every signature of a key and not signed, ready-made.
* ``xmlsec_key_info``: the plain python-xmlsec way, the key loaded with its certificate and xmlsec writing
  KeyInfo for every signature; shown for comparison.

Every signed document of the last round is verified (XMLDSig and TED) outside the timings. Prints p50/p99
per document and per second for each, the ratio; the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COMPANY_RUT = "76086428-5"
PASSWORD = "bench"  # noqa: S105 (the throwaway certificate made for the run)
ISSUE_DATE = date(2025, 3, 20)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _summary(times: list[float], wall: float, cpu: float) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(percentile(times, 99), 3),
        "per_s": round(len(times) / wall, 1),
        "cpu_ms_each": round(cpu / len(times) * 1000, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=2000, help="documents to build and sign (timed)")
    parser.add_argument("--type", type=int, choices=(39, 33, 61), default=39, dest="doc_type")
    parser.add_argument("--lines", type=int, default=10, help="lines per document")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of documents and baseline")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    if args.docs < args.rounds or args.lines < 1:
        parser.error("--docs must be at least --rounds, --lines at least 1")

    import xmlsec
    from cryptography.hazmat.primitives import serialization
    from lxml import etree

    from fiscal.certificates import load_pkcs12, make_test_certificate
    from fiscal.cl.authority_keys import DemoAuthority
    from fiscal.cl.caf import parse_caf
    from fiscal.cl.dte import DocLine, DocumentInput, Emitter, Receiver, Reference, build_document
    from fiscal.cl.ted import verify_ted
    from fiscal.xmldsig import DSIG_NS, verify_enveloped

    authority = DemoAuthority()
    total_docs = args.docs + args.warmup
    caf = parse_caf(
        authority.issue_caf(
            COMPANY_RUT, "MINIMARKET DONA ROSA LTDA", args.doc_type, 1, total_docs, ISSUE_DATE
        )
    )
    signer = load_pkcs12(make_test_certificate(COMPANY_RUT, "Rosa Muñoz Pérez", PASSWORD), PASSWORD)
    emitter = Emitter(
        rut=COMPANY_RUT,
        razon_social="Minimarket Doña Rosa & Cía. Ltda.",
        giro="Venta al por menor de alimentos",
        acteco=[472190],
        address="Av. Irarrázaval 2840",
        comuna="Ñuñoa",
        city="Santiago",
    )
    receiver = Receiver(
        rut="96874030-K",
        razon_social="Empresas La Polar S.A.",
        giro="Venta al por menor",
        address="Av. Santa Clara 207",
        comuna="Huechuraba",
    )
    lines = [
        DocLine(
            name=f"Producto {n} de la góndola {n % 7}",
            quantity=1250 + 10 * n if n % 3 == 0 else 1000 * (1 + n % 4),
            unit="KG" if n % 3 == 0 else "UN",
            unit_price=590 + 130 * n,
            discount_percent=10 if n % 5 == 4 else 0,
        )
        for n in range(args.lines)
    ]

    def document(folio: int) -> DocumentInput:
        extra: dict[str, Any] = {}
        if args.doc_type != 39:
            extra["receiver"] = receiver
        if args.doc_type == 61:
            extra["references"] = [
                Reference(doc_type=33, folio="7", date=ISSUE_DATE, cod_ref=3, reason="Devolución")
            ]
        return DocumentInput(
            doc_type=args.doc_type, folio=folio, issue_date=ISSUE_DATE, emitter=emitter, lines=lines, **extra
        )

    stamped_at = datetime(2025, 3, 20, 10, 0, 0)
    inputs = [document(folio) for folio in range(1, total_docs + 1)]
    for doc in inputs[: args.warmup]:
        build_document(doc, caf, signer, stamped_at)
    timed_inputs = inputs[args.warmup :]

    # The baselines' input: a built DTE without its signature, as bytes.
    sample = build_document(timed_inputs[0], caf, signer, stamped_at)
    signature = sample.find(f"{{{DSIG_NS}}}Signature")
    assert signature is not None
    key_info = signature.find(f"{{{DSIG_NS}}}KeyInfo")
    assert key_info is not None
    sample.remove(signature)
    unsigned: bytes = etree.tostring(sample)
    doc_id = sample[0].get("ID")
    key_pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    bare_key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem, None)
    key_with_certificate = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem, None)
    key_with_certificate.load_cert_from_memory(
        signer.certificate.public_bytes(serialization.Encoding.PEM), xmlsec.constants.KeyDataFormatCertPem
    )
    xml_parser = etree.XMLParser(resolve_entities=False, no_network=True)

    def raw_sign(xmlsec_writes_key_info: bool = False) -> etree._Element:
        """``raw``: KeyInfo (the same for every signature of a key, and not signed) is appended ready-made,
        so only canonicalization, digests and the RSA operation are paid: the floor. ``xmlsec_key_info``:
        the plain python-xmlsec way, xmlsec writing KeyValue and X509Data from a key with its certificate."""
        root = etree.fromstring(unsigned, xml_parser)
        template = xmlsec.template.create(
            root, xmlsec.constants.TransformInclC14N, xmlsec.constants.TransformRsaSha1
        )
        root.append(template)
        reference = xmlsec.template.add_reference(template, xmlsec.constants.TransformSha1, uri=f"#{doc_id}")
        xmlsec.template.add_transform(reference, xmlsec.constants.TransformInclC14N)
        if xmlsec_writes_key_info:
            info = xmlsec.template.ensure_key_info(template)
            xmlsec.template.add_key_value(info)
            xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(info))
        context = xmlsec.SignatureContext()
        context.register_id(root[0], "ID")
        context.key = key_with_certificate if xmlsec_writes_key_info else bare_key
        context.sign(template)
        if not xmlsec_writes_key_info:
            template.append(copy.deepcopy(key_info))
        return root

    for _ in range(args.warmup):
        raw_sign()
        raw_sign(True)
    for with_key_info in (False, True):  # the baselines sign for real
        verify_enveloped(etree.fromstring(etree.tostring(raw_sign(with_key_info))))

    times: dict[str, list[float]] = {"documents": [], "raw_xmlsec": [], "xmlsec_key_info": []}
    wall_s = dict.fromkeys(times, 0.0)
    cpu_s = dict.fromkeys(times, 0.0)
    per_round = args.docs // args.rounds
    built: list[Any] = []  # the round's signed documents
    runs: list[tuple[str, Callable[[Any], Any]]] = [
        ("documents", lambda doc: built.append(build_document(doc, caf, signer, stamped_at))),
        ("raw_xmlsec", lambda _: raw_sign()),
        ("xmlsec_key_info", lambda _: raw_sign(True)),
    ]
    for round_number in range(args.rounds):
        chunk = timed_inputs[round_number * per_round : (round_number + 1) * per_round]
        if round_number == args.rounds - 1:
            chunk = timed_inputs[round_number * per_round :]
        built.clear()
        for name, work in runs:
            cpu, wall = time.process_time(), time.perf_counter()
            for doc in chunk:
                started = time.perf_counter()
                work(doc)
                times[name].append((time.perf_counter() - started) * 1000)
            wall_s[name] += time.perf_counter() - wall
            cpu_s[name] += time.process_time() - cpu

    for dte in built:  # the last round's documents, each checked as a verifier would
        verify_enveloped(dte)
        ted = dte.find(".//{http://www.sii.cl/SiiDte}TED")
        assert ted is not None
        verify_ted(ted, authority.keys)

    figures = {name: _summary(times[name], wall_s[name], cpu_s[name]) for name in times}
    documents, raw = figures["documents"], figures["raw_xmlsec"]
    ratio = round(documents["per_s"] / raw["per_s"], 3)
    meets = documents["per_s"] >= 300 and ratio >= 0.5
    results: dict[str, Any] = {
        "docs": args.docs,
        "type": args.doc_type,
        "lines": args.lines,
        "unsigned_bytes": len(unsigned),
        **figures,
        "ratio": ratio,
        "ratio_to_xmlsec_key_info": round(documents["per_s"] / figures["xmlsec_key_info"]["per_s"], 3),
        "target": {"per_s": 300, "ratio": 0.5},
        "meets_target": meets,
        "verified": len(built),
    }
    for name, values in figures.items():
        print(
            f"{name:15} p50 {values['p50_ms']:6.3f} ms  p99 {values['p99_ms']:6.3f} ms  "
            f"{values['per_s']:8.1f}/s  cpu {values['cpu_ms_each']:.3f} ms each"
        )
    print(
        f"type {args.doc_type}, {args.lines} lines, {args.docs} documents: {ratio:.2f}x the raw signing rate "
        f"(target >= 300/s and >= 0.5x: {'met' if meets else 'NOT met'}); "
        f"{len(built)} signatures and TEDs verified"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
