"""A local SII: the same endpoints and formats as SII's certification environment, under one base URL,
with fault injection. For the demo, the tests and anyone developing the fiscal pipeline offline.

* ``state``   :class:`SimulatorState`: seeds, tokens, envelopes, documents and counters, in memory; how
              uploads are judged.
* ``app``     :func:`create_simulator_app`: the Litestar app (SII's paths plus ``/_sim/faults`` and
              ``/_sim/state``).
* ``faults``  :class:`Faults`: latency, timeouts, 5xx, HTML pages, 429 + Retry-After, early token death,
              rejected folios; settable at start and at runtime.
* ``wire``    SII's formats, server side.
* ``cli``     ``storehub sim sii``.

Point a client at it with ``fiscal.cl.sii_endpoints.SiiEndpoints.simulator(base_url)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fiscal.cl.simulator.app import create_simulator_app
    from fiscal.cl.simulator.faults import FaultRule, Faults, parse_faults
    from fiscal.cl.simulator.state import SimulatorState

# Imported on first use, so ``storehub``'s command line (which mounts ``cli``) does not load Litestar.
_WHERE = {
    "create_simulator_app": "fiscal.cl.simulator.app",
    "FaultRule": "fiscal.cl.simulator.faults",
    "Faults": "fiscal.cl.simulator.faults",
    "parse_faults": "fiscal.cl.simulator.faults",
    "SimulatorState": "fiscal.cl.simulator.state",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FaultRule", "Faults", "SimulatorState", "create_simulator_app", "parse_faults"]
