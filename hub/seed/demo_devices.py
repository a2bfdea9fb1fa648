"""The demo's in-store devices: a virtual Toledo scale on a pseudo-terminal, a virtual ESC/POS printer on TCP
and the real device agent driving both, connected to this hub like a store's agent would be.

They run in a side thread with its own event loop (``storehub serve --simulators``), or in the foreground
beside a hub that runs elsewhere (``storehub sim devices --hub URL``, the scaled stack's ``devices``
service). The demo's agent gets a fresh token at every start (only its hash is stored, so the last one
cannot be read back) and a TOML configuration under ``var/demo-agent/``. With ``serve --simulators``,
``/simdevices/`` shows what the printer printed and lets a presenter put weight on the scale or take the
paper out.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from devices.sim.printer import PrintedJob, VirtualPrinter
from devices.sim.scale import VirtualScale
from hub.auth.tokens import DEVICE_TOKEN_PREFIX, bearer_token, digest, new_secret
from hub.db import Database
from schema.models import Device

log = logging.getLogger("hub.demo_devices")

DEMO_TENANT = "donarosa"
DEMO_PRINTER_PORT = 9100


async def prepare_agent(
    db: Database, state_dir: Path, scale_port: str, printer_port: int
) -> tuple[str, Path] | None:
    """Give the demo store's agent a new token and write its configuration; None without the demo."""
    tenant_id = await db.tenant_id_by_slug(DEMO_TENANT)
    if tenant_id is None:
        return None
    secret = new_secret()
    async with db.tenant(tenant_id) as session:
        devices = list((await session.execute(select(Device).where(Device.revoked_at.is_(None)))).scalars())
        scale = next((d for d in devices if d.kind == "scale"), None)
        printer = next((d for d in devices if d.kind == "printer"), None)
        if scale is None or printer is None:
            return None
        agent = next((d for d in devices if d.kind == "agent"), None)
        if agent is None:
            agent = Device(id=uuid.uuid4(), store_id=scale.store_id, kind="agent", name="Agente demo")
            session.add(agent)
        agent.token_hash, agent.paired_at = digest(secret), datetime.now(UTC)
        scale_id, printer_id = scale.id, printer.id
    config = await asyncio.to_thread(_write_config, state_dir, scale_id, scale_port, printer_id, printer_port)
    return bearer_token(DEVICE_TOKEN_PREFIX, tenant_id, secret), config


def _write_config(
    state_dir: Path, scale_id: uuid.UUID, scale_port: str, printer_id: uuid.UUID, printer_port: int
) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    config = state_dir / "agent.toml"
    config.write_text(
        f"""# Written by `storehub serve --simulators` at every start: the demo's virtual devices.
[agent]
name = "demo"
state_dir = "."

[[scale]]
device_id = "{scale_id}"
port = "{scale_port}"
protocol = "toledo8217"
bytesize = 8   # a pseudo-terminal takes 8N1 only; the scale's bytes are the same
parity = "N"

[[printer]]
device_id = "{printer_id}"
transport = {{ type = "network", host = "127.0.0.1", port = {printer_port} }}
""",
        encoding="utf-8",
    )
    return config


class DemoDevices:
    def __init__(self, database_url: str, hub_url: str, state_dir: Path) -> None:
        self.database_url = database_url
        self.hub_url = hub_url
        self.state_dir = state_dir
        self.scale: VirtualScale | None = None
        self.printer: VirtualPrinter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._in_hub = False

    def start(self, timeout: float = 15.0) -> None:
        """In a side thread of the hub's process (``storehub serve --simulators``)."""
        self._in_hub = True
        threading.Thread(target=self._thread, name="demo-devices", daemon=True).start()
        if not self._ready.wait(timeout):
            log.warning("the demo devices did not start within %g s", timeout)

    def _thread(self) -> None:
        asyncio.run(self.run())

    async def run(self) -> int:
        """Start the virtual devices and run the agent until it ends: the agent's exit code, or
        ``EXIT_UNUSABLE`` when there is no demo store to drive (``storehub seed-demo`` makes it)."""
        from devices.agent.main import EXIT_UNUSABLE, run_agent

        self.loop = asyncio.get_running_loop()
        try:
            scale = self.scale = await VirtualScale("toledo8217", 0).start()
            self.printer = await _printer()
            db = Database(self.database_url)
            try:
                prepared = await prepare_agent(db, self.state_dir, scale.path, self.printer.port)
            finally:
                await db.dispose()
        finally:
            self._ready.set()
        if prepared is None:
            log.warning("no demo store with a scale and a printer: run `storehub seed-demo` first")
            return EXIT_UNUSABLE
        token, config = prepared
        # The controls page is served by the hub that started these devices in its own process only.
        page = f"  (see {self.hub_url}/simdevices/)" if self._in_hub else ""
        print(
            f"Virtual scale on {scale.path}, virtual printer on 127.0.0.1:{self.printer.port}, "
            f"device agent connected to {self.hub_url}{page}",
            flush=True,
        )
        return await run_agent(self.hub_url, token, config)

    # -- called from the hub's thread --------------------------------------------------------------------

    def _call(self, change: Any) -> None:
        if self.loop is None:
            raise RuntimeError("the demo devices are not running")
        self.loop.call_soon_threadsafe(change)

    def set_scale(self, grams: int, motion: bool) -> None:
        scale = self.scale
        if scale is None:
            raise RuntimeError("the demo scale is not running")

        def change() -> None:
            scale.grams, scale.motion = grams, motion

        self._call(change)

    def set_printer(self, paper_out: bool, cover_open: bool) -> None:
        printer = self.printer
        if printer is None:
            raise RuntimeError("the demo printer is not running")

        def change() -> None:
            printer.paper_out, printer.cover_open = paper_out, cover_open

        self._call(change)

    def state(self) -> dict[str, Any]:
        scale, printer = self.scale, self.printer
        return {
            "scale": None
            if scale is None
            else {"grams": scale.grams, "motion": scale.motion, "path": scale.path},
            "printer": None
            if printer is None
            else {
                "port": printer.port,
                "paper_out": printer.paper_out,
                "cover_open": printer.cover_open,
                "jobs": printer.snapshot()[-30:],
            },
        }

    def job(self, job_id: int) -> PrintedJob | None:
        printer = self.printer
        if printer is None:
            return None
        return next((j for j in list(printer.jobs) if j.id == job_id), None)


async def _printer() -> VirtualPrinter:
    """On the usual port 9100 when it is free, else any."""
    printer = VirtualPrinter("127.0.0.1", DEMO_PRINTER_PORT)
    try:
        await printer.start()
    except OSError:
        printer = VirtualPrinter("127.0.0.1", 0)
        await printer.start()
    return printer
