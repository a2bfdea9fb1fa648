"""The ``storehub`` command: serve, worker, migrate, seed-demo, create-tenant, create-user.

Every command reads its settings from ``STOREHUB_*`` environment variables (see ``hub.settings``). Errors
print one clear line on stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from devices.cli import add_devices_command, add_sim_devices
from fiscal.cl.cli import add_fiscal_commands
from fiscal.cl.simulator.cli import add_sim_sii
from hub.db import Database
from hub.settings import Settings, load_settings
from schema.errors import StorehubError, ValidationError

T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        return int(args.run(settings, args) or 0)
    except StorehubError as exc:
        print(f"storehub: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storehub", description="Storehub: the store hub.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the hub (HTTP + WebSocket)")
    serve.add_argument("--host", help="bind address (default STOREHUB_HOST)")
    serve.add_argument("--port", type=int, help="port (default STOREHUB_PORT)")
    serve.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    serve.add_argument(
        "--simulators",
        action="store_true",
        help="also run the SII simulator at STOREHUB_SII_SIMULATOR_URL (the demo's tax authority) and the "
        "demo store's virtual scale and printer with their device agent (/simdevices/)",
    )
    serve.set_defaults(run=_serve)

    worker = sub.add_parser(
        "worker",
        help="run the scaled mode's pipelines (fiscal, dashboard aggregates, stock alerts) on the Kafka "
        "event stream at STOREHUB_KAFKA_URL (a faust-streaming app)",
    )
    worker.add_argument("--web-host", default="127.0.0.1", help="address of the worker's status pages")
    worker.add_argument("--web-port", type=int, default=6066, help="port of the worker's status pages")
    worker.set_defaults(run=_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(run=_migrate)

    seed = sub.add_parser("seed-demo", help="create the demo minimarket (CL) and restaurant (EC)")
    seed.add_argument("--reset", action="store_true", help="delete and recreate the demo tenants")
    seed.set_defaults(run=_seed)

    tenant = sub.add_parser("create-tenant", help="create a tenant with its first store and register")
    tenant.add_argument("--slug", required=True, help="short login name, e.g. donarosa")
    tenant.add_argument("--name", required=True)
    tenant.add_argument("--country", required=True, choices=["CL", "EC"])
    tenant.add_argument("--tax-id", required=True, help="RUT (CL) or RUC (EC)")
    tenant.add_argument("--legal-name", default="")
    tenant.add_argument("--mode", choices=["retail", "restaurant"], default="retail")
    tenant.set_defaults(run=_create_tenant)

    user = sub.add_parser("create-user", help="create a user (password read from a prompt or stdin)")
    user.add_argument("--tenant", required=True, help="tenant slug")
    user.add_argument("--username", required=True)
    user.add_argument("--role", required=True, choices=["owner", "manager", "cashier", "kitchen"])
    user.add_argument("--display-name", default="")
    user.add_argument("--store", help="store code the user is bound to (default: all stores)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.set_defaults(run=_create_user)
    add_fiscal_commands(sub)
    add_devices_command(sub)
    sim = sub.add_parser(
        "sim",
        help="run a simulator: sii (Chile's tax authority), scale (serial, on a pty), printer (ESC/POS), "
        "devices (the demo store's virtual scale and printer with their agent)",
    )
    simulators = sim.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    add_sim_sii(simulators)
    add_sim_devices(simulators)
    return parser


def _with_db(settings: Settings, work: Callable[[Database], Coroutine[Any, Any, T]]) -> T:
    """Run ``work`` against the configured database in a fresh event loop, closing the pool after."""

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from schema.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"migrated {_safe_url(settings.database_url)} to {args.revision}")
    return 0


def _seed(settings: Settings, args: argparse.Namespace) -> int:
    from hub.seed.demo import DEMO_PASSWORD, seed_demo

    logins = _with_db(settings, lambda db: seed_demo(db, reset=args.reset))
    print(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for login in logins:
        print(f"  tienda {login.tenant:<14} usuario {login.username:<10} ({login.role})")
    return 0


def _create_tenant(settings: Settings, args: argparse.Namespace) -> int:
    from hub.admin import create_tenant

    new = _with_db(
        settings,
        lambda db: create_tenant(
            db,
            slug=args.slug,
            name=args.name,
            country=args.country,
            tax_id=args.tax_id,
            legal_name=args.legal_name,
            store_mode=args.mode,
        ),
    )
    print(f"tenant {args.slug} created: id {new.tenant_id}, store {new.store_id}, register {new.register_id}")
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from hub.admin import create_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("storehub: passwords do not match", file=sys.stderr)
            return 2

    user_id = _with_db(
        settings,
        lambda db: create_user(
            db,
            tenant_slug=args.tenant,
            username=args.username,
            role=args.role,
            password=password,
            display_name=args.display_name,
            store_code=args.store,
        ),
    )
    print(f"user {args.username} created in {args.tenant}: id {user_id}")
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from hub.worker.app import run

    if "STOREHUB_SECRET_KEY" not in os.environ:
        # The worker opens the sealed certificates and CAFs: it needs the hub's key, not a random one.
        raise ValidationError("storehub worker needs STOREHUB_SECRET_KEY, the same as the hub nodes'")
    print(f"Storehub worker on {settings.kafka_url}  (status http://{args.web_host}:{args.web_port}/health/)")
    return run(settings, web_host=args.web_host, web_port=args.web_port, loglevel=settings.log_level.lower())


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import create_app

    if args.migrate:
        _migrate(settings, argparse.Namespace(revision="head"))
    host = args.host or settings.host
    port = args.port or settings.port
    if "STOREHUB_SECRET_KEY" not in os.environ:
        print("storehub: STOREHUB_SECRET_KEY is not set; using a random key (demo only)", file=sys.stderr)
    app = create_app(settings, settle_heap=True)
    base = f"http://{host}:{port}"
    if args.simulators:
        _start_simulators(settings)
        app.state.demo_devices = _start_demo_devices(settings, f"http://127.0.0.1:{port}")
    print(f"Storehub serving on {base}  (login {base}/login/, API docs {base}/docs)", flush=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        ws_max_size=max(settings.ws_max_frame_bytes * 16, 1 << 20),
        # Frames are small JSON: compressing each one costs more CPU than the bytes it saves.
        ws_per_message_deflate=False,
        proxy_headers=settings.trust_proxy_headers,
        lifespan="on",
    )
    return 0


def _start_simulators(settings: Settings) -> None:
    """The SII simulator in a side thread (its own event loop), where the hub's settings expect it."""
    import threading
    from urllib.parse import urlsplit

    import uvicorn

    from fiscal.cl.authority_keys import simulator_authority
    from fiscal.cl.schemas import SiiSchemas
    from fiscal.cl.simulator import SimulatorState, create_simulator_app

    if settings.sii_environment != "simulator":
        raise ValidationError("--simulators needs STOREHUB_SII_ENVIRONMENT=simulator")
    where = urlsplit(settings.sii_simulator_url)
    schemas_dir = settings.sii_schemas_path
    state = SimulatorState(
        schemas=SiiSchemas(schemas_dir) if schemas_dir is not None else None,
        authority_keys=simulator_authority().keys,
    )
    config = uvicorn.Config(
        create_simulator_app(state),
        host=where.hostname or "127.0.0.1",
        port=where.port or 8090,
        log_config=None,
        lifespan="on",
    )
    threading.Thread(target=uvicorn.Server(config).run, name="sii-simulator", daemon=True).start()
    url = settings.sii_simulator_url.rstrip("/")
    print(f"SII simulator on {url}  (faults: POST {url}/_sim/faults; state: {url}/_sim/state)", flush=True)


def _start_demo_devices(settings: Settings, hub_url: str) -> Any:
    """The demo store's virtual scale and printer, and the device agent that connects them to this hub."""
    from pathlib import Path

    from hub.seed.demo_devices import DemoDevices

    # Beside the embedded database, so each demo database has its agent's journal; else under var/.
    where = Path("var")
    if settings.database_url.startswith("sqlite") and ":///" in settings.database_url:
        where = Path(settings.database_url.split(":///", 1)[1]).parent
    demo = DemoDevices(settings.database_url, hub_url, where / "demo-agent")
    demo.start()
    return demo


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    raise SystemExit(main())
