"""Run the agent: load its configuration, open its journal, connect, drive the devices the hub accepts.

Exit codes of :func:`run_agent` and :func:`agent_main`: 0 stopped on request, 2 the configuration, the
hub URL, the token or the state directory is not usable, 3 the hub revoked the device token (pair the
agent again).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import msgspec

from devices.agent.config import AgentConfig, load_config
from devices.agent.journal import Journal, Offer
from devices.agent.link import Link
from devices.agent.printer_worker import PrinterWorker
from devices.agent.protocol import AgentRevokedError, ws_url
from devices.agent.scale_worker import ScaleWorker
from devices.errors import DeviceConfigError
from schema.messages.devices import AgentDevice, AgentHello, AgentWelcome, PrintDirective, ScaleDirective

__all__ = ["EXIT_OK", "EXIT_REVOKED", "EXIT_UNUSABLE", "Agent", "agent_main", "run_agent"]

log = logging.getLogger("devices.agent")

EXIT_OK = 0
EXIT_UNUSABLE = 2
EXIT_REVOKED = 3
TOKEN_ENV = "STOREHUB_DEVICE_TOKEN"  # noqa: S105  (a variable name, not a secret)
NOT_HERE = "la impresora no está configurada en este agente"
PRUNE_EVERY_S = 3600.0
RESTART_WORKER_S = 2.0

_print_directive = msgspec.json.Decoder(PrintDirective)
_scale_directive = msgspec.json.Decoder(ScaleDirective)

Worker = ScaleWorker | PrinterWorker


class Agent:
    """The devices of one agent: starts a worker per device the hub accepts and routes directives."""

    def __init__(self, config: AgentConfig, journal: Journal) -> None:
        self.config = config
        self.journal = journal
        self.link: Link | None = None
        self.workers: dict[uuid.UUID, Worker] = {}
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._orders: set[asyncio.Task[None]] = set()

    def hello(self) -> AgentHello:
        devices = [AgentDevice(device_id=s.device_id, kind="scale") for s in self.config.scale]
        devices += [AgentDevice(device_id=p.device_id, kind="printer") for p in self.config.printer]
        return AgentHello(agent=f"{self.config.agent.name} storehub-agent/{_version()}"[:80], devices=devices)

    async def on_welcome(self, welcome: AgentWelcome) -> None:
        assert self.link is not None
        accepted = {d.device_id for d in welcome.devices if d.accepted}
        for device_id in list(self.workers):
            if device_id not in accepted:
                log.warning("device %s is no longer accepted by the hub: stopping it", device_id)
                await self._stop(device_id)
        for scale in self.config.scale:
            if scale.device_id in accepted and scale.device_id not in self.workers:
                self._start(ScaleWorker(scale, self.link))
        for printer in self.config.printer:
            if printer.device_id in accepted and printer.device_id not in self.workers:
                self._start(PrinterWorker(printer, self.journal, self.link))

    async def on_directive(self, name: str, payload: msgspec.Raw) -> None:
        assert self.link is not None
        match name:
            case "print":
                await self._print(_print_directive.decode(payload))
            case "tare" | "zero":
                order = _scale_directive.decode(payload)
                worker = self.workers.get(order.device_id)
                if not isinstance(worker, ScaleWorker):
                    log.warning("%s for %s, which is not a scale this agent drives", name, order.device_id)
                    return
                # Not awaited: a scale slow to take the order must not hold up the frames behind it.
                action = worker.tare if name == "tare" else worker.zero
                task = asyncio.create_task(action(), name=f"{name} {order.device_id}")
                self._orders.add(task)
                task.add_done_callback(self._orders.discard)
            case _:
                log.warning("ignoring unknown directive %r", name)

    async def _print(self, directive: PrintDirective) -> None:
        assert self.link is not None
        worker = self.workers.get(directive.device_id)
        if not isinstance(worker, PrinterWorker):
            log.warning(
                "print job %s for %s, which is not a printer this agent drives",
                directive.job_id,
                directive.device_id,
            )
            await asyncio.to_thread(self.journal.queue_failed, directive, NOT_HERE)
            self.link.acks_changed()
            return
        offer = await asyncio.to_thread(self.journal.offer, directive)
        if offer is Offer.QUEUED:
            worker.wake()
        elif offer is Offer.IN_QUEUE:
            worker.repeated(directive.job_id)
        else:
            log.info("print job %s is already finished: acknowledging it again", directive.job_id)
            self.link.acks_changed()

    def _start(self, worker: Worker) -> None:
        log.info("driving %s %s", type(worker).__name__, worker.device_id)
        self.workers[worker.device_id] = worker
        self._tasks[worker.device_id] = asyncio.create_task(
            _supervise(worker.run, f"device {worker.device_id}"), name=f"worker {worker.device_id}"
        )

    async def _stop(self, device_id: uuid.UUID) -> None:
        self.workers.pop(device_id, None)
        task = self._tasks.pop(device_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        for task in self._orders:
            task.cancel()
        for device_id in list(self.workers):
            await self._stop(device_id)

    async def housekeeping(self) -> None:
        while True:
            removed = await asyncio.to_thread(self.journal.prune)
            if removed:
                log.info("journal: forgot %d finished job(s)", removed)
            await asyncio.sleep(PRUNE_EVERY_S)


async def _supervise(run: Callable[[], Awaitable[None]], what: str) -> None:
    # Workers handle device trouble themselves; this only catches bugs, so one device cannot end the agent.
    while True:
        try:
            await run()
            return
        except Exception:
            log.exception("%s crashed; restarting it in %g s", what, RESTART_WORKER_S)
            await asyncio.sleep(RESTART_WORKER_S)


async def run_agent(hub_url: str, token: str, config_path: Path, *, stop: asyncio.Event | None = None) -> int:
    """Run until ``stop`` is set (0) or the hub revokes the token (3); 2 when it cannot start."""
    try:
        config = load_config(config_path)
        ws_url(hub_url)
    except (DeviceConfigError, ValueError) as exc:
        log.error("%s", exc)
        return EXIT_UNUSABLE
    if not token:
        log.error("no device token: pass --token or set %s", TOKEN_ENV)
        return EXIT_UNUSABLE
    if not config.device_ids:
        log.warning("%s lists no [[scale]] or [[printer]]: the agent has nothing to drive", config_path)
    try:
        lock = _lock(config.state_dir)
    except OSError as exc:
        log.error("cannot use the state directory %s: %s", config.state_dir, exc)
        return EXIT_UNUSABLE
    if lock is None:
        log.error("another agent is running with the state directory %s", config.state_dir)
        return EXIT_UNUSABLE
    try:
        journal = await asyncio.to_thread(Journal.open, config.state_dir)
    except Exception as exc:
        lock.close()
        log.error("cannot open the journal in %s: %s", config.state_dir, exc)
        return EXIT_UNUSABLE
    agent = Agent(config, journal)
    tasks: list[asyncio.Task[Any]] = []
    try:
        for job in await asyncio.to_thread(journal.recover):
            log.warning(
                "job %s was being printed when the agent stopped: reported failed, not printed again",
                job.job_id,
            )
        agent.link = link = Link(
            hub_url,
            token,
            agent.hello(),
            journal,
            on_welcome=agent.on_welcome,
            on_directive=agent.on_directive,
        )
        counts = await asyncio.to_thread(journal.counts)
        log.info(
            "agent %r starting: hub %s, journal %s (%d job(s) pending, %d ack(s) to deliver)",
            config.agent.name,
            link.url,
            journal.path,
            counts.get("pending", 0),
            counts.get("acks", 0),
        )
        link_task = asyncio.create_task(link.run(), name="agent-link")
        tasks = [link_task, asyncio.create_task(agent.housekeeping(), name="agent-housekeeping")]
        waiting: set[asyncio.Task[Any]] = {link_task}
        if stop is not None:
            tasks.append(stop_task := asyncio.create_task(stop.wait(), name="agent-stop"))
            waiting.add(stop_task)
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if link_task.done():
            try:
                link_task.result()
            except AgentRevokedError as exc:
                log.error(
                    "%s: the device token is unknown or revoked; pair this agent with the hub again", exc
                )
                return EXIT_REVOKED
        log.info("agent stopping")
        return EXIT_OK
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await agent.close()  # after the link: a job being sent is recorded before the journal closes
        journal.close()
        lock.close()


def _lock(state_dir: Path) -> IO[bytes] | None:
    """Hold an exclusive lock on the state directory: two agents on one journal could print twice."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "agent.lock").open("ab")
    if sys.platform == "win32":  # no flock there; one agent per machine is the rule
        return handle
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _version() -> str:
    try:
        return metadata.version("storehub")
    except metadata.PackageNotFoundError:
        return "dev"


def agent_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="storehub devices agent", description="Drive this store's scales and printers for the hub."
    )
    parser.add_argument("--hub", required=True, help="the hub's URL, e.g. https://hub.example.cl")
    parser.add_argument("--token", default=None, help=f"the device token (better: the {TOKEN_ENV} variable)")
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML configuration")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # a library may have configured the root logger on import
    )
    token = args.token or os.environ.get(TOKEN_ENV, "")
    return asyncio.run(_main(args.hub, token, args.config))


async def _main(hub_url: str, token: str, config_path: Path) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still ends asyncio.run
            loop.add_signal_handler(signum, stop.set)
    return await run_agent(hub_url, token, config_path, stop=stop)
