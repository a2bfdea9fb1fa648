"""A sale at the till becomes an accepted boleta without the cashier waiting, and the owner's dashboard
socket sees every state of the document as it happens (real hub, real SII simulator over HTTP)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fiscal.certificates import make_test_certificate
from fiscal.cl.authority_keys import simulator_authority
from fiscal.cl.schemas import SiiSchemas
from fiscal.cl.setup import SetupData, save_setup, upload_caf, upload_certificate
from fiscal.cl.verify import verify_file
from fiscal.keys import at_rest_key
from schema.models import FiscalDocument
from tests.hub.gateway.conftest import Client, World, connect
from tests.support.sii_simulator import sii_simulator

SCHEMAS = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "sii" / "schemas"
COMPANY, SENDER = "76354771-K", "13185095-6"


async def fiscal_setup(world: World) -> None:
    db, tenant_id = world.db, world.a.tenant_id
    key = at_rest_key(world.services.settings.secret_key)
    authority = simulator_authority()
    await save_setup(
        db, tenant_id,
        SetupData(rut=COMPANY, sender_rut=SENDER, razon_social="Tienda A SpA", giro="Minimarket",
                  acteco=[471100], address="Av. Irarrázaval 2100", comuna="Ñuñoa",
                  resolution_date=date(2014, 8, 22)),
    )  # fmt: skip
    await upload_certificate(db, tenant_id, make_test_certificate(SENDER, "Rosa", "clave"), "clave", key=key,
                             user_id=None)  # fmt: skip
    caf = authority.issue_caf(COMPANY, "Tienda A SpA", 39, 1, 50, date.today())
    await upload_caf(db, tenant_id, caf, authority_keys=authority.keys, key=key, user_id=None)


async def open_socket(world: World, role: str) -> Client:
    socket = await connect(world, world.a.tokens[role])
    world.sockets.append(socket)
    client = Client(socket)
    await client.recv()
    return client


def ok(frame: dict[str, Any]) -> Any:
    assert frame["type"] == "reply", frame
    return frame["payload"]


async def test_a_till_sale_becomes_an_accepted_boleta_seen_live_by_the_owner(world: World) -> None:
    await fiscal_setup(world)
    async with sii_simulator(schemas=SiiSchemas(SCHEMAS), authority_keys=simulator_authority().keys) as sim:
        world.services.fiscal.endpoints = sim.endpoints  # the hub's SII is this simulator
        owner = await open_socket(world, "owner")
        assert (await owner.call("subscribe", {"stream": "tenant"}))["type"] == "subscribed"
        till = await open_socket(world, "cashier")
        register = str(world.a.register_id)
        ok(await till.call("cash.open", {"register_id": register, "float_amount": 0}))
        ok(await till.call("cart.add", {"register_id": register, "code": world.a.barcode}))
        pay = {"register_id": register, "tenders": [{"kind": "card", "amount": 1090}]}
        receipt = ok(await till.call("checkout", pay))
        assert receipt["folio"] == 1  # the checkout answered with its folio; the document comes after

        seen: list[str] = []
        while "accepted" not in seen:
            frame = await owner.recv(timeout=20)
            if frame.get("type") == "event" and frame["event"] == "FiscalDocumentChanged":
                assert frame["payload"]["sale_id"] == receipt["sale_id"]
                seen.append(frame["payload"]["status"])
        assert seen == ["signed", "sent", "accepted"]
        snapshot = await sim.snapshot()
        assert [(d["type"], d["folio"]) for d in snapshot["documents"]] == [(39, 1)]

    async with world.db.tenant(world.a.tenant_id) as session:
        document = (await session.execute(select(FiscalDocument))).scalar_one()
    assert document.xml is not None and document.authority_state == "DOK"
    assert verify_file(document.xml, schemas=None, authority_keys=simulator_authority().keys).ok
