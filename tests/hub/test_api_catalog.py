"""Categories and products: CRUD, search, validation."""

from __future__ import annotations

import uuid
from typing import Any, get_args

import pytest
from sqlalchemy import select

from hub.http.catalog_rules import TaxClass, Unit
from hub.http.common import search_key
from schema.barcodes import make_ean13
from schema.models import Product
from schema.models.catalog import TAX_CLASSES, UNITS
from tests.hub.conftest import Hub

PRODUCTS = "/api/v1/products"


def product(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sku": "A-100",
        "name": "Café Molido Tostado",
        "price": 3990,
        "tax_class": "cl_iva",
    }
    return body | overrides


def test_literals_match_the_model() -> None:
    assert get_args(TaxClass) == TAX_CLASSES
    assert get_args(Unit) == UNITS


def test_search_key() -> None:
    assert search_key("  Café   MOLIDO  Ñandú ") == "cafe molido nandu"
    assert search_key("Pingüino") == "pinguino"


async def test_category_crud(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    created = await hub.client.post("/api/v1/categories", json={"name": "Lácteos", "sort": 3}, headers=owner)
    assert created.status_code == 201
    cat = created.json()
    assert cat["name"] == "Lácteos" and cat["sort"] == 3
    listed = await hub.client.get("/api/v1/categories", headers=owner)
    assert {c["id"] for c in listed.json()} == {cat["id"], str(hub.a.category_id)}
    patched = await hub.client.patch(
        f"/api/v1/categories/{cat['id']}", json={"name": "Lácteos y huevos"}, headers=owner
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Lácteos y huevos"
    assert patched.json()["sort"] == 3
    empty = await hub.client.patch(f"/api/v1/categories/{cat['id']}", json={}, headers=owner)
    assert empty.status_code == 400
    used = await hub.client.delete(f"/api/v1/categories/{hub.a.category_id}", headers=owner)
    assert used.status_code == 409 and used.json()["code"] == "conflict"
    deleted = await hub.client.delete(f"/api/v1/categories/{cat['id']}", headers=owner)
    assert deleted.status_code == 204
    assert (await hub.client.get(f"/api/v1/categories/{cat['id']}", headers=owner)).status_code == 404


async def test_product_create_get_patch_deactivate(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    code = make_ean13("780123456789")
    created = await hub.client.post(
        PRODUCTS,
        json=product(barcodes=[code], category_id=str(hub.a.category_id), min_stock=5000),
        headers=owner,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["barcodes"] == [code] and body["active"] is True and body["unit"] == "unit"
    assert body["price"] == 3990 and body["min_stock"] == 5000
    async with hub.db.tenant(hub.a.tenant_id) as session:
        row = (await session.execute(select(Product).where(Product.id == uuid.UUID(body["id"])))).scalar_one()
    assert row.search_name == "cafe molido tostado"

    got = await hub.client.get(f"{PRODUCTS}/{body['id']}", headers=owner)
    assert got.json() == body

    other = make_ean13("780999999999")
    patched = await hub.client.patch(
        f"{PRODUCTS}/{body['id']}",
        json={"name": "Té Verde", "price": 1990, "barcodes": [other, code]},
        headers=owner,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Té Verde" and patched.json()["price"] == 1990
    assert sorted(patched.json()["barcodes"]) == sorted([other, code])
    found = await hub.client.get(PRODUCTS, params={"q": "te ver"}, headers=owner)
    assert [p["id"] for p in found.json()["items"]] == [body["id"]]
    cleared = await hub.client.patch(f"{PRODUCTS}/{body['id']}", json={"category_id": None}, headers=owner)
    assert cleared.json()["category_id"] is None

    gone = await hub.client.delete(f"{PRODUCTS}/{body['id']}", headers=owner)
    assert gone.status_code == 204
    still = await hub.client.get(f"{PRODUCTS}/{body['id']}", headers=owner)
    assert still.status_code == 200 and still.json()["active"] is False
    listed = await hub.client.get(PRODUCTS, headers=owner)
    assert body["id"] not in {p["id"] for p in listed.json()["items"]}
    everything = await hub.client.get(PRODUCTS, params={"include_inactive": "true"}, headers=owner)
    assert body["id"] in {p["id"] for p in everything.json()["items"]}


async def test_product_search_and_paging(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    names = ["Ácido Fólico", "Aceite Maravilla", "Aceituna Azapa", "Azúcar", "Arroz Grado 1"]
    for i, name in enumerate(names):
        response = await hub.client.post(PRODUCTS, json=product(sku=f"S-{i}", name=name), headers=owner)
        assert response.status_code == 201, response.text

    async def search(**params: Any) -> list[str]:
        response = await hub.client.get(PRODUCTS, params=params, headers=owner)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["items"]]

    assert await search(q="ace") == ["Aceite Maravilla", "Aceituna Azapa"]
    assert await search(q="ÁCI") == ["Ácido Fólico"]  # accents and case ignored
    assert await search(q="s-3") == ["Azúcar"]  # SKU prefix
    assert await search(q="%") == []  # LIKE wildcards are literal
    assert await search(q="_") == []
    assert await search(q=hub.a.barcode) == ["Pan amasado"]  # exact barcode
    page1 = await hub.client.get(PRODUCTS, params={"q": "a", "limit": 2}, headers=owner)
    assert page1.json()["next_offset"] == 2 and len(page1.json()["items"]) == 2
    page3 = await hub.client.get(PRODUCTS, params={"q": "a", "limit": 2, "offset": 4}, headers=owner)
    assert page3.json()["next_offset"] is None
    names_a = [p["name"] for p in page1.json()["items"] + page3.json()["items"]]
    assert len(names_a) == 3
    assert (await hub.client.get(PRODUCTS, params={"limit": 0}, headers=owner)).status_code == 400
    assert (await hub.client.get(PRODUCTS, params={"limit": 501}, headers=owner)).status_code == 400
    assert (await hub.client.get(PRODUCTS, params={"q": "x" * 201}, headers=owner)).status_code == 400


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (product(price=-1), "price"),
        (product(sku=""), "sku"),
        (product(sku="x" * 41), "sku"),
        (product(sku="has space"), "sku"),
        (product(name=""), "name"),
        (product(name="n" * 201), "name"),
        (product(tax_class="vat"), "tax_class"),
        (product(tax_class="ec_iva15"), "does not apply in CL"),
        (product(unit="litre"), "unit"),
        (product(weighable=True), "kg"),
        (product(barcodes=["12ab5"]), "barcodes"),
        (product(barcodes=["7801234567890"]), "check digit"),
        (product(barcodes=["1234", "1234"]), "repeat"),
        (product(min_stock=-5), "min_stock"),
        (product(price=1.5), "price"),
        (product(extra="field"), "extra"),
        ({"sku": "A"}, "name"),
    ],
)
async def test_product_validation(hub: Hub, body: dict[str, Any], needle: str) -> None:
    response = await hub.client.post(PRODUCTS, json=body, headers=hub.owner(hub.a))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid"
    assert needle in response.text


async def test_product_conflicts(hub: Hub) -> None:
    owner = hub.owner(hub.a)
    assert (await hub.client.post(PRODUCTS, json=product(), headers=owner)).status_code == 201
    same_sku = await hub.client.post(PRODUCTS, json=product(name="Otro"), headers=owner)
    assert same_sku.status_code == 409 and "SKU" in same_sku.json()["detail"]
    same_code = await hub.client.post(
        PRODUCTS, json=product(sku="B-1", barcodes=[hub.a.barcode]), headers=owner
    )
    assert same_code.status_code == 409 and hub.a.barcode in same_code.json()["detail"]
    # another tenant may use the same SKU and barcode
    other = await hub.client.post(PRODUCTS, json=product(barcodes=[hub.a.barcode]), headers=hub.owner(hub.b))
    assert other.status_code == 201, other.text


async def test_weighable_products(hub: Hub) -> None:
    response = await hub.client.post(
        PRODUCTS, json=product(sku="PLU-21", name="Queso Gauda", weighable=True, unit="kg", price=12990),
        headers=hub.owner(hub.a),
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json()["weighable"] is True and response.json()["unit"] == "kg"
    bad = await hub.client.patch(
        f"{PRODUCTS}/{response.json()['id']}", json={"unit": "unit"}, headers=hub.owner(hub.a)
    )
    assert bad.status_code == 400


async def test_ecuador_tax_classes(hub_factory: Any) -> None:
    from tests.support.tenants import make_tenant

    hub: Hub = await hub_factory()
    ec = await make_tenant(hub.db, country="EC")
    headers = {"Authorization": f"Bearer {ec.api_token}"}
    ok = await hub.client.post(PRODUCTS, json=product(tax_class="ec_iva15", price=125), headers=headers)
    assert ok.status_code == 201
    bad = await hub.client.post(PRODUCTS, json=product(sku="Z", tax_class="cl_iva"), headers=headers)
    assert bad.status_code == 400
