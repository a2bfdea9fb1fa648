"""``storehub sim sii``: run the SII simulator.

::

    storehub sim sii [--host 127.0.0.1] [--port 8090] [--schemas DIR] [--faults JSON|@FILE]
                     [--token-ttl SECONDS] [--processing-polls N] [--processing-seconds SECONDS]

Without ``--schemas`` envelopes are not checked against SII's XSD (signatures, TEDs and Carátula still
are); SII's schemas are in ``shared/reference/sii/schemas``. CAFs must be signed by the simulator's
authority (``fiscal.cl.authority_keys.simulator_authority``), as the demo's are. Faults can be changed
while it runs: ``curl -d '{"html": {"next": 1}}' http://127.0.0.1:8090/_sim/faults``; ``GET /_sim/state``
shows counters, envelopes and documents.

``hub.cli`` mounts it under ``storehub sim`` with :func:`add_sim_sii`; :func:`main` runs it on its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from fiscal.cl.simulator.faults import Faults, parse_faults
from schema.errors import StorehubError, ValidationError

if TYPE_CHECKING:
    from fiscal.cl.simulator.state import SimulatorState

DEFAULT_PORT = 8090


def add_sim_sii(subparsers: Any) -> None:
    """Add ``sii`` to an ``argparse`` sub-parser set (``storehub sim``'s); sets ``run(settings, args)``."""
    sii = subparsers.add_parser(
        "sii",
        help="run the SII simulator (seed/token, DTEUpload, QueryEstUp, boleta API) with fault injection",
        description="A local SII speaking SII's formats under one base URL, with faults settable at runtime "
        "(POST /_sim/faults) and its state at GET /_sim/state.",
    )
    sii.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    sii.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    sii.add_argument("--schemas", type=Path, metavar="DIR", help="directory with SII's XSD files")
    sii.add_argument(
        "--faults",
        metavar="JSON",
        help='faults at start, as JSON or @FILE, e.g. \'{"rate_limit": {"probability": 0.1}}\'',
    )
    sii.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS", help="token lifetime")
    sii.add_argument(
        "--processing-polls",
        type=int,
        default=1,
        metavar="N",
        help="state queries answered 'in process' before the final state (default 1)",
    )
    sii.add_argument(
        "--processing-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="and for at least this long after the upload (default 0)",
    )
    sii.set_defaults(run=run)


def read_faults(text: str | None) -> Faults:
    if not text:
        return Faults()
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"cannot read the faults file {text[1:]}: {exc.strerror or exc}") from None
    try:
        return parse_faults(text)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValidationError(f"--faults is not valid: {exc}") from None


def build_state(args: argparse.Namespace) -> SimulatorState:
    from fiscal.cl.schemas import SiiSchemas
    from fiscal.cl.simulator.state import SimulatorState

    schemas = None
    if args.schemas is not None:
        schemas = SiiSchemas(args.schemas)
        for name in ("EnvioDTE", "EnvioBOLETA"):
            schemas.schema(name)  # a wrong directory fails now, not at the first upload
    return SimulatorState(
        schemas=schemas,
        faults=read_faults(args.faults),
        token_ttl=args.token_ttl,
        processing_polls=args.processing_polls,
        processing_seconds=args.processing_seconds,
    )


def run(settings: object, args: argparse.Namespace) -> int:
    import uvicorn

    from fiscal.cl.simulator.app import create_simulator_app

    state = build_state(args)
    base = f"http://{args.host}:{args.port}"
    print(
        f"SII simulator on {base}  (SiiEndpoints.simulator({base!r}); state at {base}/_sim/state)", flush=True
    )
    uvicorn.run(create_simulator_app(state), host=args.host, port=args.port, log_config=None, lifespan="on")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The simulator on its own: ``python -m fiscal.cl.simulator.cli sii --port 8090``."""
    parser = argparse.ArgumentParser(prog="storehub sim")
    add_sim_sii(parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR"))
    args = parser.parse_args(argv)
    try:
        return int(args.run(None, args))
    except StorehubError as exc:
        print(f"storehub sim: {exc.message}")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
