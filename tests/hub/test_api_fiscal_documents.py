"""``/api/v1/fiscal/documents``: who sees which documents, and what is refused (the PDF and XML of signed
documents are checked end to end in tests/hub/test_cli.py, against the served demo and its simulator)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from schema.models import FiscalDocument, Role, Sale
from tests.hub.conftest import Hub
from tests.support.tenants import add_store


async def test_managers_list_documents_of_their_tenant_and_store(hub: Hub) -> None:
    manager = await hub.auth(hub.a, Role.MANAGER)
    listed = (await hub.client.get("/api/v1/fiscal/documents", headers=manager)).json()
    assert [(d["doc_type"], d["folio"], d["status"]) for d in listed] == [(39, 1, "accepted")]
    document_id = listed[0]["id"]
    one = await hub.client.get(f"/api/v1/fiscal/documents/{document_id}", headers=manager)
    assert one.status_code == 200 and one.json()["authority_state"] == "DOK"
    by_status = await hub.client.get(
        "/api/v1/fiscal/documents", params={"status": "rejected"}, headers=manager
    )
    assert by_status.json() == []
    bad = await hub.client.get("/api/v1/fiscal/documents", params={"status": "lost"}, headers=manager)
    assert bad.status_code == 400

    # Tenant B's manager: A's document does not exist.
    other = await hub.auth(hub.b, Role.MANAGER)
    for path in ("", "/xml", "/pdf"):
        assert (
            await hub.client.get(f"/api/v1/fiscal/documents/{document_id}{path}", headers=other)
        ).status_code == 404
    assert [d["id"] for d in (await hub.client.get("/api/v1/fiscal/documents", headers=other)).json()] != [
        document_id
    ]

    # A manager bound to another store of A sees none of the first store's documents.
    store_id, _, _ = await add_store(hub.db, hub.a.tenant_id)
    elsewhere = await hub.auth(hub.a, Role.MANAGER, store_id=store_id)
    assert (await hub.client.get("/api/v1/fiscal/documents", headers=elsewhere)).json() == []
    assert (
        await hub.client.get(f"/api/v1/fiscal/documents/{document_id}", headers=elsewhere)
    ).status_code == 404


async def test_roles_and_unsigned_documents(hub: Hub) -> None:
    async with hub.db.tenant(hub.a.tenant_id) as session:
        document = (await session.execute(select(FiscalDocument))).scalar_one()
        sale = await session.get(Sale, (hub.a.tenant_id, document.sale_id))
        assert sale is not None and document.xml is None  # make_tenant's document has no XML
        document_id = document.id
    cashier = await hub.auth(hub.a, Role.CASHIER)
    assert (await hub.client.get("/api/v1/fiscal/documents", headers=cashier)).status_code == 403
    assert (
        await hub.client.get(f"/api/v1/fiscal/documents/{document_id}/xml", headers=cashier)
    ).status_code == 403
    kitchen = await hub.auth(hub.a, Role.KITCHEN)
    assert (
        await hub.client.get(f"/api/v1/fiscal/documents/{document_id}/pdf", headers=kitchen)
    ).status_code == 403
    # A cashier may print (a reprint at the till), but there is nothing signed to print yet.
    pdf = await hub.client.get(f"/api/v1/fiscal/documents/{document_id}/pdf", headers=cashier)
    assert pdf.status_code == 409 and "not signed yet" in pdf.json()["detail"]
    layout = await hub.client.get(
        f"/api/v1/fiscal/documents/{document_id}/pdf", params={"layout": "a4"}, headers=cashier
    )
    assert layout.status_code == 400
    unknown = await hub.client.get(f"/api/v1/fiscal/documents/{uuid.uuid4()}", headers=hub.owner(hub.a))
    assert unknown.status_code == 404
