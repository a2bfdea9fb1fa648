"""Storehub as several processes, for the scale-out tests: hub nodes, a worker and the SII simulator.

Each is the real ``storehub`` command of this environment, in its own process, with its output kept in a
log file that a failing test shows (``Proc.tail``). The shared engines (Postgres, Redis, Kafka) come from the
test's fixtures; ``cluster_env`` is the environment every process of one cluster shares.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.procs import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
STOREHUB = Path(sys.executable).parent / "storehub"


def cluster_env(
    *, database_url: str, redis_url: str, kafka_url: str, secret_key: str, sii_url: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREHUB_")}
    env.update(
        STOREHUB_DATABASE_URL=database_url,
        STOREHUB_REDIS_URL=redis_url,
        STOREHUB_KAFKA_URL=kafka_url,
        STOREHUB_SECRET_KEY=secret_key,
        STOREHUB_SII_SIMULATOR_URL=sii_url,
        STOREHUB_LOG_LEVEL="WARNING",
        STOREHUB_SII_TIMEOUT_SECONDS="5",
    )
    return env


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, *, timeout: float = 60.0) -> None:
        with self.log.open("ab") as out:
            out.write(f"\n--- {self.name}: storehub {' '.join(self.args)}\n".encode())
            self.process = subprocess.Popen(
                [str(STOREHUB), *self.args], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        wait_until(
            self._ready,
            what=f"{self.name} at {self.ready_url}",
            timeout=timeout,
            proc=self.process,
            log=self.log,
        )

    def _ready(self) -> bool:
        try:
            return httpx.get(self.ready_url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush; as a machine losing power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 4000) -> str:
        with contextlib.suppress(OSError):
            return f"--- {self.name} log ---\n" + self.log.read_text(errors="replace")[-chars:]
        return ""


def hub_node(name: str, env: dict[str, str], logs: Path) -> tuple[Proc, str]:
    """A hub node (``storehub serve``) on a free port; returns it and its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    node = Proc(name, ["serve", "--port", str(port)], env, logs / f"{name}.log", f"{base}/readyz")
    return node, base


def worker(env: dict[str, str], logs: Path) -> tuple[Proc, str]:
    """``storehub worker`` with its status pages on a free port; returns it and their base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = Proc("worker", ["worker", "--web-port", str(port)], env, logs / "worker.log", f"{base}/health/")
    return proc, base


def sii_simulator(env: dict[str, str], logs: Path) -> tuple[Proc, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    return Proc("sii", ["sim", "sii", "--port", str(port)], env, logs / "sii.log", f"{base}/_sim/state"), base
