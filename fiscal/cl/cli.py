"""``storehub fiscal ...``: command-line tools for tax documents.

``storehub fiscal sample --type 39|33|61 --out DIR [--tenant SLUG]`` writes a signed sample envelope made
with the tenant's own certificate and CAF (:mod:`fiscal.cl.sample`).

``storehub fiscal verify PATH [--schemas DIR] [--sii-cert FILE ...]`` checks a DTE, EnvioDTE or
EnvioBOLETA (see :mod:`fiscal.cl.verify`) and prints one line per document and one for the envelope::

    OK 33 folio 170: schema: valid; XMLDSig: signed by ...; TED: stamp verifies, ...
    FAIL 33 folio 171: XMLDSig: digest mismatch: Documento T33F171 was changed after it was signed (...)

Exit status: 0 when everything verified, 1 when anything did not, 2 when the input (or a ``--schemas``
directory, or a ``--sii-cert`` file) cannot be read.

``hub.cli`` mounts these commands with :func:`add_fiscal_commands`; :func:`main` runs them on their own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from fiscal.cl.authority_keys import load_sii_keys
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.verify import verify_file
from schema.errors import StorehubError

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def add_fiscal_commands(subparsers: Any) -> None:
    """Add ``fiscal verify`` to an ``argparse`` sub-parser set (``hub.cli``'s ``storehub`` command).

    Each command sets ``run=callable(settings, args) -> int`` as ``hub.cli`` expects.
    """
    fiscal = subparsers.add_parser("fiscal", help="tax documents: verify DTEs and envelopes, write samples")
    commands = fiscal.add_subparsers(dest="fiscal_command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        help="verify a DTE, EnvioDTE or EnvioBOLETA: schema, XMLDSig, TED, amounts",
        description="Verify a Chilean DTE or envelope. Exit 0 if all valid, 1 if not, 2 if unreadable.",
    )
    verify.add_argument("path", type=Path, help="the XML file")
    verify.add_argument(
        "--schemas",
        type=Path,
        metavar="DIR",
        help="directory with SII's XSD files; without it no schema check",
    )
    verify.add_argument(
        "--sii-cert",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="SII certificate that signs CAFs (100.cer, 300.cer), to check each CAF's FRMA; repeatable",
    )
    verify.set_defaults(run=_run_verify)
    sample = commands.add_parser(
        "sample",
        help="write a signed sample envelope made with a tenant's certificate and CAF (default: the demo's)",
        description="Build, stamp and sign one sample document with the tenant's own certificate and CAF "
        "(its newest CAF's last folio) and write its envelope to DIR. Nothing is sent or recorded. Needs "
        "STOREHUB_SECRET_KEY (after `make run`: the contents of var/demo-secret-key, read when unset).",
    )
    sample.add_argument("--type", dest="doc_type", type=int, choices=(39, 33, 61), required=True)
    sample.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write into")
    sample.add_argument("--tenant", default="donarosa", help="tenant slug (default: the demo's donarosa)")
    sample.set_defaults(run=_run_sample)


DEMO_SECRET_KEY = Path("var/demo-secret-key")  # where `make run` keeps the demo's key


def _run_sample(settings: Any, args: argparse.Namespace) -> int:
    import asyncio
    import os

    from fiscal.cl.sample import sample_envelope
    from fiscal.keys import at_rest_key
    from hub.db import Database

    secret = os.environ.get("STOREHUB_SECRET_KEY", "")
    if not secret and DEMO_SECRET_KEY.is_file():
        secret = DEMO_SECRET_KEY.read_text(encoding="utf-8").strip()

    async def make() -> tuple[bytes, int]:
        db = Database(settings.database_url)
        try:
            return await sample_envelope(db, at_rest_key(secret), args.tenant, args.doc_type)
        finally:
            await db.dispose()

    envelope, folio = asyncio.run(make())
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sample-{args.doc_type}-folio-{folio}.xml"
    path.write_bytes(envelope)
    print(f"wrote {path} ({'EnvioBOLETA' if args.doc_type == 39 else 'EnvioDTE'}, 1 document, folio {folio})")
    return EXIT_OK


def _run_verify(settings: object, args: argparse.Namespace) -> int:
    return verify_command(args.path, schemas_dir=args.schemas, sii_certs=args.sii_cert)


def verify_command(
    path: Path,
    *,
    schemas_dir: Path | None = None,
    sii_certs: Sequence[Path] = (),
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        schemas = SiiSchemas(schemas_dir) if schemas_dir is not None else None
        if schemas is not None:
            for name in ("DTE", "EnvioDTE", "EnvioBOLETA", "DTE-boleta"):
                schemas.schema(name)  # a wrong directory is an unreadable input, not an invalid document
        keys = load_sii_keys(sii_certs) if sii_certs else None
        verdict = verify_file(path, schemas=schemas, authority_keys=keys)
    except OSError as exc:
        print(f"storehub fiscal verify: cannot read {exc.filename or path}: {exc.strerror or exc}", file=err)
        return EXIT_UNREADABLE
    except StorehubError as exc:
        print(f"storehub fiscal verify: {exc.message}", file=err)
        return EXIT_UNREADABLE
    for line in verdict.lines():
        print(line, file=out)
    return EXIT_OK if verdict.ok else EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    """``storehub``'s fiscal commands on their own (tests, scripts): ``main(["fiscal", "verify", PATH])``."""
    parser = argparse.ArgumentParser(prog="storehub")
    add_fiscal_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.run(None, args))


if __name__ == "__main__":
    raise SystemExit(main())
