"""A PostgreSQL server for the tests, and throwaway databases on it.

Which server: ``STOREHUB_TEST_PG_URL`` (an admin URL, e.g. ``postgresql://postgres@db:5432/postgres``);
the value ``private`` forces a private server even when one listens locally. Otherwise the one on
127.0.0.1:5432 (user ``postgres``, trust auth) when something listens there; otherwise a private server:
``initdb`` into a temporary directory and ``postgres`` on a free loopback port, run as the ``postgres`` OS
user when we are root (both refuse to run as root), stopped and deleted at the end of the session.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.support.procs import free_port, listening, stop, wait_until

ENV_URL = "STOREHUB_TEST_PG_URL"
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin URL (``postgresql://...``) of a server the tests may create databases on."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured and configured != "private":
        yield configured
    elif not configured and listening("127.0.0.1", 5432):
        yield LOCAL_URL
    else:
        with private_postgres() as url:
            yield url


def _bindir() -> Path:
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise RuntimeError("no PostgreSQL server binaries: install postgresql or set STOREHUB_TEST_PG_URL")


@contextmanager
def private_postgres() -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield its admin URL; stop it and delete its files."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="storehub-pg-"))
    as_user: dict[str, Any] = {}
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    data, log = root / "data", root / "postgres.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            cwd=root,
            env=env,
            **as_user,
        )
        port = free_port()
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [
                    bindir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", root,
                    # Durability is worthless for a throwaway server; speed is not.
                    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                    "-c", "max_connections=200",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=root,
                env=env,
                start_new_session=True,
                **as_user,
            )  # fmt: skip

        def ready() -> bool:
            probe: list[str | Path] = [
                bindir / "pg_isready",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-t",
                "1",
            ]
            return subprocess.run(probe, check=False, env=env).returncode == 0

        wait_until(ready, what="private PostgreSQL", timeout=60, proc=proc, log=log)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
    finally:
        if proc is not None:
            stop(proc, signal.SIGINT)  # "fast" shutdown: roll back and disconnect clients
        shutil.rmtree(root, ignore_errors=True)


def url_for(admin_url: str, database: str, *, driver: str = "postgresql+asyncpg", **parts: Any) -> str:
    """The URL of ``database`` on the admin URL's server (optionally another user/password)."""
    url = make_url(admin_url).set(drivername=driver, database=database, **parts)
    return url.render_as_string(hide_password=False)


def _check_name(name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe identifier {name!r}")
    return name


async def admin_connect(admin_url: str, database: str | None = None) -> asyncpg.Connection:
    url = make_url(admin_url).set(drivername="postgresql")
    if database is not None:
        url = url.set(database=database)
    return await asyncpg.connect(url.render_as_string(hide_password=False))


async def create_database(admin_url: str, prefix: str = "storehub_test") -> str:
    """Create an empty database with a random name; return the name."""
    name = _check_name(f"{prefix}_{secrets.token_hex(6)}")
    conn = await admin_connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(admin_url: str, name: str) -> None:
    """Disconnect everyone from ``name`` and drop it."""
    _check_name(name)
    conn = await admin_connect(admin_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_login_role(
    admin_url: str, *, member_of: tuple[str, ...] = (), createrole: bool = False
) -> tuple[str, str]:
    """Create a non-superuser LOGIN role (random name and password); return (name, password)."""
    name = _check_name(f"storehub_test_login_{secrets.token_hex(4)}")
    password = secrets.token_hex(16)
    attributes = "LOGIN NOSUPERUSER NOBYPASSRLS" + (" CREATEROLE" if createrole else "")
    conn = await admin_connect(admin_url)
    try:
        await conn.execute(f"CREATE ROLE {name} {attributes} PASSWORD '{password}'")
        for role in member_of:
            await conn.execute(f"GRANT {_check_name(role)} TO {name}")
    finally:
        await conn.close()
    return name, password


async def drop_role(admin_url: str, name: str) -> None:
    _check_name(name)
    conn = await admin_connect(admin_url)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await conn.execute(f"DROP ROLE IF EXISTS {name}")
    finally:
        await conn.close()
