"""Chile: SII electronic tax documents.

* ``rut``             RUT check digit, normalisation, display.
* ``caf``             CAF files (folio authorizations): parsing, SII's signature, RUT, type and expiry checks;
                      ``flatten``, the serialization SII signs (no whitespace between tags, no namespaces,
                      ISO-8859-1).
* ``authority_keys``  SII's CAF-signing keys (100 certification, 300 production) and ``DemoAuthority``, a
                      stand-in that issues CAFs for the simulator, the demo and the tests.
* ``ted``             the TED (timbre electrónico): stamping with the CAF's key and verifying.
* ``pdf417``          the TED as the PDF417 barcode of the printed document (security level 5).

The XML signature of documents and envelopes is ``fiscal.xmldsig``; the taxpayer's certificate is
``fiscal.certificates``.
"""
