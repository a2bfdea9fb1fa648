"""The demo seed: what ``make run`` shows a newcomer must work as the README says."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from hub.auth.passwords import default_passwords
from hub.db import Database
from hub.seed.demo import DEMO_MANAGER_PIN, seed_demo
from schema.models import FolioRange, User

README_TEXT = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


async def test_the_demo_manager_has_the_pin_the_readme_gives_and_credit_notes_have_folios(
    sqlite_db: Database,
) -> None:
    await seed_demo(sqlite_db)
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
