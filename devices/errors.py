"""Errors of the devices package: scales, printers, the agent and the simulators.

Every class is a :class:`schema.errors.StorehubError`, so it reaches clients with its stable ``code`` through
``hub.problems`` and the agent's error frames. Messages name the device and what it did ("the scale on
/dev/ttyUSB0 answered 3 bytes that are not a Toledo 8217 frame"), never just "invalid".
"""

from __future__ import annotations

from schema.errors import StorehubError


class DeviceError(StorehubError):
    """A device or the agent that drives it failed."""

    code = "device_error"
    status = 502


class ScaleProtocolError(DeviceError):
    """Bytes from a scale are not a frame of its protocol."""

    code = "scale_protocol"


class ScaleUnavailableError(DeviceError):
    """The scale does not answer, or its port cannot be opened."""

    code = "scale_unavailable"


class PrinterError(DeviceError):
    """A printer refused or could not complete a job."""

    code = "printer_error"


class PrinterOfflineError(PrinterError):
    """The printer cannot be reached, or reports paper out, cover open or an error."""

    code = "printer_offline"


class DeviceConfigError(DeviceError):
    """The agent's configuration file is not valid."""

    code = "device_config"
    status = 400
