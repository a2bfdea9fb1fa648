"""The benchmarks' store signs and submits its boletas, as a real Chilean store does.

With ``--fiscal on`` (the default) the bench tenant gets what the demo minimarket has (emitter data, a test
certificate, a boleta CAF from the simulator's authority), a SII simulator runs in its own process, and the
hubs submit to it: every sale's boleta is built, signed, put in an envelope, uploaded and polled while the
load runs, as in a shop. ``--fiscal off`` leaves the setup out: the pipeline then only notes once per boleta
that it cannot sign, which is far less work than a shop's hub does (the figures of earlier sessions were
taken that way). The run reports how many boletas reached each state, so a pipeline that did nothing shows.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

from hub.seed.demo import MINIMARKET

# The hubs' STOREHUB_SECRET_KEY: the certificate is sealed with the key derived from it.
SECRET_KEY = "storehub-bench-secret-key-not-for-production-use"  # noqa: S105 - a bench database's
BOLETA_FOLIOS = 200_000
SCHEMAS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "sii" / "schemas"


def add_fiscal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fiscal",
        choices=["on", "off"],
        default="on",
        help="on: the tenant signs and submits every boleta to a SII simulator while the load runs (as a "
        "shop does); off: no fiscal setup, the pipeline has nothing to sign",
    )


TAX_ID = MINIMARKET["tax_id"]  # the demo minimarket's RUT, which its fiscal setup and CAFs carry


async def make_ready(db_url: str, tenant_id: uuid.UUID) -> None:
    """The tenant's fiscal setup, certificate and one boleta CAF large enough for any run."""
    from fiscal.keys import at_rest_key
    from hub.db import Database
    from hub.seed.demo import fiscal_ready

    db = Database(db_url)
    try:
        await fiscal_ready(db, tenant_id, at_rest_key(SECRET_KEY), cafs=((39, 1, BOLETA_FOLIOS),))
    finally:
        await db.dispose()


def start_simulator(start: Callable[[list[str], dict[str, str]], Popen[bytes]], port: int) -> Popen[bytes]:
    """The SII simulator on ``port``, checking what it gets against the official schemas if they are here."""
    args = ["-m", "fiscal.cl.simulator.cli", "sii", "--port", str(port)]
    if SCHEMAS.is_dir():
        args += ["--schemas", str(SCHEMAS)]
    return start(args, dict(os.environ))


def hub_env(simulator_port: int | None) -> dict[str, str]:
    """What the hubs need to submit to the simulator (nothing with ``--fiscal off``)."""
    env = {"STOREHUB_SECRET_KEY": SECRET_KEY}
    if simulator_port is not None:
        env["STOREHUB_SII_SIMULATOR_URL"] = f"http://127.0.0.1:{simulator_port}"
    return env


async def document_states(db_url: str) -> dict[str, int]:
    """How many of the run's fiscal documents are in each state (pending, signed, sent, accepted...)."""
    import asyncpg

    connection = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await connection.fetch("SELECT status, count(*) FROM fiscal_documents GROUP BY status")
    finally:
        await connection.close()
    return {row["status"]: int(row["count"]) for row in sorted(rows, key=lambda r: r["status"])}
