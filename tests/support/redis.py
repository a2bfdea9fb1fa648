"""A Redis server for the tests, with a database number of our own.

Which server: ``STOREHUB_TEST_REDIS_URL`` used as it is (the value ``private`` forces a private server);
otherwise the one on 127.0.0.1:6379 when it answers PING; otherwise a private ``redis-server`` on a free
loopback port without persistence, stopped at the end of the session.

On a shared server (the local one) each test session claims one database number 1..15 that is empty or
was left by an earlier test session, so parallel runs and the developer's own data never meet: the claim
is a key with an expiry in database 0, the database is flushed when the session ends (and when claimed,
if an earlier test session that crashed left keys there). Pub/sub channels are
not per database, so suites that publish should also prefix their channels (the ``redis_prefix`` fixture).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.procs import free_port, stop, wait_until

ENV_URL = "STOREHUB_TEST_REDIS_URL"
LOCAL_URL = "redis://127.0.0.1:6379"
_CLAIM = "storehub-test:claim:{db}"
_USED = "storehub-test:used:{db}"  # in database 0: the database holds only test leftovers
_CLAIM_SECONDS = 6 * 3600


def answers_ping(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@contextmanager
def redis_server() -> Iterator[str]:
    """Yield the URL (with a database number) the tests may use freely."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured and configured != "private":
        yield configured
    elif not configured and answers_ping(LOCAL_URL):
        with claimed_database(LOCAL_URL) as url:
            yield url
    else:
        with private_redis() as base, claimed_database(base) as url:
            yield url


@contextmanager
def private_redis() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server: install redis-server or set STOREHUB_TEST_REDIS_URL")
    root = Path(tempfile.mkdtemp(prefix="storehub-redis-"))
    port = free_port()
    log = root / "redis.log"
    url = f"redis://127.0.0.1:{port}"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(root)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(lambda: answers_ping(url), what="private Redis", timeout=30, proc=proc, log=log)
        yield url
    finally:
        if proc is not None:
            stop(proc, signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def claimed_database(base_url: str) -> Iterator[str]:
    """Claim a free database number on the server at ``base_url``; yield its URL; flush and release it."""
    token = secrets.token_hex(8)
    admin = redis.Redis.from_url(base_url, db=0)
    try:
        db = _claim(admin, base_url, token)
        url = f"{base_url.rstrip('/')}/{db}"
        try:
            yield url
        finally:
            client = redis.Redis.from_url(url)
            try:
                client.flushdb()
            finally:
                client.close()
            claim = _CLAIM.format(db=db)
            if admin.get(claim) == token.encode():
                admin.delete(claim)
    finally:
        admin.close()


def _claim(admin: redis.Redis, base_url: str, token: str) -> int:
    for db in range(1, 16):
        if not admin.set(_CLAIM.format(db=db), token, nx=True, ex=_CLAIM_SECONDS):
            continue
        client = redis.Redis.from_url(base_url, db=db)
        try:
            if client.dbsize() == 0 or admin.exists(_USED.format(db=db)):
                admin.set(_USED.format(db=db), "1")
                client.flushdb()
                return db
        finally:
            client.close()
        admin.delete(_CLAIM.format(db=db))  # someone else's data lives there: leave it alone
    raise RuntimeError(f"no free Redis database on {base_url}; set {ENV_URL}")
