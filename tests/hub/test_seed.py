"""The demo seed: what ``make run`` shows a newcomer must work as the README says."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from actors.floor_views import read_floor
from fiscal.certificates import rut_of
from fiscal.cl.setup import active_signer, caf_for_folio, folio_status, get_setup, list_cafs
from fiscal.keys import MISSING_SECRET, MissingSecretKeyError, at_rest_key
from hub.auth.passwords import default_passwords
from hub.db import Database
from hub.seed.demo import DEMO_MANAGER_PIN, seed_demo
from schema.models import FolioRange, Product, Store, User

README_TEXT = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SECRET = "seed-test-secret-key-" + "z" * 32


async def test_the_demo_manager_has_the_pin_the_readme_gives_and_credit_notes_have_folios(
    sqlite_db: Database,
) -> None:
    await seed_demo(sqlite_db, secret_key=SECRET)
    tenant_id = await sqlite_db.tenant_id_by_slug("donarosa")
    assert tenant_id is not None
    async with sqlite_db.tenant(tenant_id) as session:
        users = {u.username: u for u in (await session.execute(select(User))).scalars()}
        ranges = {r.doc_type for r in (await session.execute(select(FolioRange))).scalars()}
    passwords = default_passwords()
    assert passwords.verify_pin(users["encargado"].pin_hash, DEMO_MANAGER_PIN)
    assert not passwords.verify_pin(users["encargado"].pin_hash, "0000")
    assert users["caja1"].pin_hash is None and users["dueno"].pin_hash is None
    assert ranges == {39, 33, 61}
    assert f"PIN `{DEMO_MANAGER_PIN}`" in README_TEXT


async def test_the_minimarket_has_its_chilean_fiscal_setup(sqlite_db: Database) -> None:
    await seed_demo(sqlite_db, secret_key=SECRET)
    tenant_id = await sqlite_db.tenant_id_by_slug("donarosa")
    assert tenant_id is not None
    key = at_rest_key(SECRET)
    setup = await get_setup(sqlite_db, tenant_id)
    assert setup is not None
    assert (setup.rut, setup.sender_rut, setup.comuna) == ("76354771-K", "13185095-6", "Ñuñoa")
    assert (setup.resolution_number, setup.resolution_date.isoformat()) == (0, "2014-08-22")
    signer = await active_signer(sqlite_db, tenant_id, key)  # the sealed certificate opens with the secret
    assert rut_of(signer.certificate) == "13185095-6"
    assert "Rosa Pérez (certificado de prueba)" in signer.certificate.subject.rfc4514_string()
    # The same folio ranges as before CAFs, each now backed by a CAF of the simulator's authority.
    cafs = await list_cafs(sqlite_db, tenant_id)
    assert [(c.doc_type, c.first_folio, c.last_folio, c.next_folio) for c in cafs] == [
        (33, 1, 500, 1),
        (39, 1, 1000, 1),
        (61, 1, 200, 1),
    ]
    async with sqlite_db.tenant(tenant_id) as session:
        assert len((await session.execute(select(FolioRange))).scalars().all()) == 3
    caf = await caf_for_folio(sqlite_db, tenant_id, 39, 1000, key)
    assert caf.rut == "76354771-K" and caf.private_key is not None
    statuses = {s.doc_type: s for s in await folio_status(sqlite_db, tenant_id, 50)}
    assert {t: (s.remaining, s.next_folio, s.low) for t, s in statuses.items()} == {
        39: (1000, 1, False),
        33: (500, 1, False),
        61: (200, 1, False),
    }


async def test_without_a_secret_key_the_seed_writes_nothing(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STOREHUB_SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKeyError) as refused:
        await seed_demo(sqlite_db)
    assert refused.value.message == MISSING_SECRET
    assert await sqlite_db.tenant_id_by_slug("donarosa") is None
    monkeypatch.setenv("STOREHUB_SECRET_KEY", SECRET)  # what `storehub seed-demo` reads
    await seed_demo(sqlite_db)
    tenant_id = await sqlite_db.tenant_id_by_slug("donarosa")
    assert tenant_id is not None
    await active_signer(sqlite_db, tenant_id, at_rest_key(SECRET))


async def test_the_restaurant_has_its_floor_and_modifiers(sqlite_db: Database) -> None:
    await seed_demo(sqlite_db, secret_key=SECRET)
    tenant_id = await sqlite_db.tenant_id_by_slug("guayaquilena")
    assert tenant_id is not None
    async with sqlite_db.tenant(tenant_id) as session:
        store = (await session.execute(select(Store))).scalar_one()
        floor = await read_floor(session, store.id)
        query = select(Product.id).where(Product.name == "Churrasco")
        churrasco = (await session.execute(query)).scalar_one()
    assert store.mode == "restaurant" and floor.tip_percent == 10
    assert [(a.name, len(a.tables)) for a in floor.areas] == [("Salón", 8), ("Terraza", 4)]
    assert all(t.tab is None for a in floor.areas for t in a.tables)
    options = {(m.group, m.name, m.price_delta) for m in floor.modifiers if m.product_id == churrasco}
    assert {("Punto", "jugoso", 0), ("Punto", "a punto", 0), ("Punto", "bien cocido", 0)} <= options
    assert ("Agregado", "palta", 80) in options  # USD cents
