"""One scale: open its serial port, forward every reading, tare and zero on the hub's order.

The port is opened again every ``retry_s`` while it cannot be; once open, :class:`SerialScale` keeps
polling (and reopens the port itself), so a silent scale only makes :meth:`SerialScale.readings` raise
and this worker reports the scale offline until readings come back. Nothing here raises out of
:meth:`ScaleWorker.run` but cancellation: a scale in trouble is a status, never a dead agent.
"""

from __future__ import annotations

import asyncio
import logging
import time

from devices.agent.config import ScaleEntry
from devices.agent.link import Link
from devices.errors import DeviceError, ScaleProtocolError, ScaleUnavailableError
from devices.scales.serial_scale import SerialScale
from schema.messages.devices import DeviceStatusReport

__all__ = ["ScaleWorker"]

log = logging.getLogger("devices.agent.scale")

NOT_ANSWERING = "la balanza no responde"
CANNOT_OPEN = "no se puede abrir el puerto de la balanza"
NO_COMMAND = "la balanza no acepta esa orden: use la tecla de la balanza"


class ScaleWorker:
    def __init__(self, entry: ScaleEntry, link: Link, *, retry_s: float = 2.0) -> None:
        self.entry = entry
        self.device_id = entry.device_id
        self._link = link
        self._retry_s = retry_s
        self._scale: SerialScale | None = None
        self._online: bool | None = None
        self._detail = ""  # why it is offline
        self._failed_order = ""  # the last tare/zero that failed, shown until one works

    async def run(self) -> None:
        while True:
            try:
                scale = await SerialScale.open(
                    self.entry.port, self.entry.protocol, **self.entry.serial_options()
                )
            except Exception as exc:
                # Broad on purpose: pyserial lets termios.error (not an OSError) through when the port
                # refuses the line settings; any failure to open is the scale's state, not the agent's end.
                self._set_online(False, CANNOT_OPEN, f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(self._retry_s)
                continue
            self._scale = scale
            try:
                await self._stream(scale)
            except (DeviceError, OSError) as exc:
                self._set_online(False, NOT_ANSWERING, str(exc))
            finally:
                self._scale = None
                await scale.close()
            await asyncio.sleep(self._retry_s)

    async def _stream(self, scale: SerialScale) -> None:
        while True:
            try:
                async for reading in scale.readings():
                    read_at = time.monotonic()
                    if self._online is not True:
                        self._set_online(True, "", "answering")
                    self._link.publish_weight(self.device_id, reading, read_at)
                return  # the scale was closed
            except ScaleUnavailableError as exc:
                # SerialScale goes on polling: iterating again resumes as soon as the scale answers.
                self._set_online(False, NOT_ANSWERING, exc.message)

    async def tare(self) -> None:
        await self._order("tare", "tarar")

    async def zero(self) -> None:
        await self._order("zero", "poner en cero")

    async def _order(self, what: str, verb: str) -> None:
        scale = self._scale
        try:
            if scale is None:
                raise ScaleUnavailableError(f"the scale on {self.entry.port} is not open")
            await (scale.tare() if what == "tare" else scale.zero())
        except (DeviceError, OSError) as exc:
            log.warning("scale %s: %s failed: %s", self.device_id, what, exc)
            reason = NO_COMMAND if isinstance(exc, ScaleProtocolError) else NOT_ANSWERING
            self._failed_order = f"no se pudo {verb}: {reason}"
        else:
            log.info("scale %s: %s sent", self.device_id, what)
            self._failed_order = ""
        self._report()

    def _set_online(self, online: bool, detail: str, why: str) -> None:
        if online != self._online:
            log.log(
                logging.INFO if online else logging.WARNING,
                "scale %s on %s is %s: %s",
                self.device_id,
                self.entry.port,
                "online" if online else "offline",
                why,
            )
            if online:
                self._failed_order = ""  # a scale that came back starts with a clean slate
        self._online = online
        self._detail = detail
        self._report()

    def _report(self) -> None:
        self._link.publish_status(
            DeviceStatusReport(
                device_id=self.device_id,
                online=bool(self._online),
                error=bool(self._failed_order),
                detail=self._failed_order or self._detail,
            )
        )
