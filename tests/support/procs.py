"""Small helpers for test servers: free ports, listening checks, bounded waits, clean stops."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``ready`` until it is true; fail fast if ``proc`` exits, fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready{_tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout}s{_tail(log)}")
        time.sleep(0.05)  # polling interval of a readiness probe, not a correctness wait


def stop(proc: subprocess.Popen[bytes], sig: int, timeout: float = 30.0) -> None:
    """Send ``sig``, wait for the process, kill it if it does not go."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None:
        return ""
    with contextlib.suppress(OSError):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        return "; log:\n" + "\n".join(text)
    return ""
