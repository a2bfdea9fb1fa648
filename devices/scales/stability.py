"""A second opinion on stability: the weight must hold still for a while, not just for one frame.

A scale's own motion flag reacts to a few internal samples; a jittering platform (a fan, a shaky counter, a
hand resting on the goods) can pass that check frame after frame while the number on the display keeps
moving. :class:`StableWeight` only lets a reading be stable when the scale says so and every weight seen
in the last ``window_ms`` stayed within ``tolerance_g`` of the others.
"""

from __future__ import annotations

import msgspec

from devices.scales.reading import WeightReading

__all__ = ["StableWeight"]


class StableWeight:
    """Filter a stream of readings so that ``stable`` means "held still for the whole window"."""

    def __init__(self, window_ms: int = 500, tolerance_g: int = 2) -> None:
        if window_ms < 0 or tolerance_g < 0:
            raise ValueError("window_ms and tolerance_g must not be negative")
        self.window_ms = window_ms
        self.tolerance_g = tolerance_g
        self._since_ms: int | None = None
        self._low = 0
        self._high = 0
        self._net = False

    def reset(self) -> None:
        """Forget the current window (after a tare or zero, or when the port was reopened)."""
        self._since_ms = None

    def feed(self, reading: WeightReading, now_ms: int) -> WeightReading:
        """Return ``reading``, with ``stable`` True only if it has held within tolerance for the window."""
        if not reading.stable or reading.overload or reading.under_zero:
            self._since_ms = None
            return _unstable(reading)
        grams = reading.grams
        since = self._since_ms
        if (
            since is None
            or reading.net != self._net
            or max(self._high, grams) - min(self._low, grams) > self.tolerance_g
        ):
            # This reading opens a new window: earlier ones are too far from it to count towards it.
            since = self._since_ms = now_ms
            self._low = self._high = grams
            self._net = reading.net
        else:
            self._low = min(self._low, grams)
            self._high = max(self._high, grams)
        if now_ms - since >= self.window_ms:
            return reading
        return _unstable(reading)


def _unstable(reading: WeightReading) -> WeightReading:
    return msgspec.structs.replace(reading, stable=False) if reading.stable else reading
