"""A RegisterActor whose shared state (Redis, with several hub nodes) is unreachable sells on with its own
copy, and stores that copy, unconditionally, at its first change once the store answers again."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from actors.deps import ActorDeps
from actors.register import RegisterActor, TillCommand, register_address
from actors.register_state import SavedState
from actors.runtime import ActorSystem, Props
from actors.tenant import GetCatalog, TenantActor, tenant_address
from hub.auth.principal import Principal
from hub.db import Database
from hub.events.bus import LocalBus
from hub.redis_register_state import RedisRegisterState
from schema.messages.till import AddItem, CartView
from schema.models.identity import Role
from tests.support.procs import free_port
from tests.support.tenants import make_tenant


async def test_a_register_sells_on_while_its_shared_state_is_away(
    sqlite_db: Database, redis_url: str
) -> None:
    tenant = await make_tenant(sqlite_db)
    tid, rid = tenant.tenant_id, tenant.register_id
    away = Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))  # fails at once
    live = Redis.from_url(redis_url)
    store = RedisRegisterState(away, prefix="test-away:")
    # Another node's older cart is stored; this node cannot see it.
    older = SavedState(version=7, next_line_id=3, lines=[], session_id=None, applied=[])
    await RedisRegisterState(live, prefix="test-away:").swap(tid, rid, None, older)
    deps = ActorDeps(db=sqlite_db, bus=LocalBus(), registers=store)
    cashier = Principal(tenant_id=tid, kind="user", role=Role.CASHIER, user_id=tenant.users[Role.CASHIER])
    try:
        async with ActorSystem(idle_after=None) as system:
            catalog_of = system.ref(tenant_address(tid), Props(lambda: TenantActor(tid, deps)))

            async def catalog() -> object:
                return await catalog_of.ask(GetCatalog(), timeout=10)

            register = system.ref(
                register_address(tid, rid),
                Props(lambda: RegisterActor(tid, rid, deps, catalog)),  # type: ignore[arg-type]
            )

            async def till(payload: object, command_id: str) -> object:
                return await register.ask(TillCommand(payload, cashier, command_id), timeout=10)

            # The tenant's register has its cash session open already (in the database).
            cart = await till(AddItem(register_id=rid, code=tenant.barcode), "add-1")
            assert isinstance(cart, CartView) and [line.quantity for line in cart.lines] == [1000]
            cart = await till(AddItem(register_id=rid, code=tenant.barcode), "add-2")
            assert isinstance(cart, CartView) and [line.quantity for line in cart.lines] == [2000]

            store.redis = live  # Redis answers again
            cart = await till(AddItem(register_id=rid, code=tenant.barcode), "add-3")
            assert isinstance(cart, CartView) and [line.quantity for line in cart.lines] == [3000]
        stored = await store.load(tid, rid)
        assert stored is not None and stored.version == cart.version
        assert [line.quantity for line in stored.lines] == [3000] and stored.applied[-1] == "add-3"
        assert stored.session_id is not None
    finally:
        await away.aclose()
        await live.aclose()
