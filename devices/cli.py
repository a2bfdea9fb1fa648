"""``storehub devices`` (the in-store agent), ``storehub sim scale|printer|devices`` (the virtual devices)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
from typing import Any

TOKEN_ENV = "STOREHUB_DEVICE_TOKEN"  # noqa: S105  (the variable's name, not a secret)


def add_devices_command(subparsers: Any) -> None:
    agent = subparsers.add_parser(
        "devices",
        help="run the in-store device agent (scales and printers, connected out to the hub)",
        description="Connects out to the hub with a device token and drives the scales and printers listed "
        "in its TOML configuration. Exits with 3 when the hub revokes the token (pair it again).",
    )
    agent.add_argument("--hub", required=True, metavar="URL", help="the hub, e.g. https://hub.example.cl")
    agent.add_argument("--token", help=f"the agent's device token shd_… (default ${TOKEN_ENV})")
    agent.add_argument("--config", required=True, type=Path, metavar="FILE", help="the agent's TOML file")
    agent.set_defaults(run=_run_agent)


def add_sim_devices(simulators: Any) -> None:
    scale = simulators.add_parser(
        "scale",
        help="a virtual scale on a pseudo-terminal (Toledo 8217 or CAS PD-II)",
        description="Prints the pseudo-terminal to open as the scale's serial port (at 9600 8N1).",
    )
    scale.add_argument("--protocol", choices=["toledo8217", "cas_pd2"], default="toledo8217")
    scale.add_argument("--grams", type=int, default=1250, help="the weight on the plate (default 1250)")
    scale.add_argument("--noise", type=int, default=0, metavar="GRAMS", help="random jitter on each answer")
    scale.add_argument("--motion", action="store_true", help="the plate never settles")
    scale.set_defaults(run=_run_scale)
    printer = simulators.add_parser(
        "printer",
        help="a virtual ESC/POS network printer that renders what it receives (text and PNG)",
        description="Answers status queries like an Epson TM printer; each job is kept and rendered.",
    )
    printer.add_argument("--host", default="127.0.0.1")
    printer.add_argument("--port", type=int, default=9100)
    printer.add_argument("--paper", type=int, choices=[80, 58], default=80, help="paper width in mm")
    printer.add_argument("--jobs-dir", type=Path, metavar="DIR", help="write each job as .bin, .txt and .png")
    printer.set_defaults(run=_run_printer)
    demo = simulators.add_parser(
        "devices",
        help="the demo store's virtual scale and printer, driven by the device agent connected to a hub",
        description="What `storehub serve --simulators` runs beside its hub, for a hub that runs elsewhere "
        "(the scaled stack's devices service): a virtual Toledo scale on a pseudo-terminal, a virtual "
        "ESC/POS printer on 127.0.0.1 and the real device agent driving both. The agent's token is made in "
        "the database (STOREHUB_DATABASE_URL) for the demo store: run `storehub seed-demo` first. Exits "
        "with 2 when there is no demo store.",
    )
    demo.add_argument("--hub", required=True, metavar="URL", help="the hub (or its load balancer)")
    demo.add_argument(
        "--state-dir",
        type=Path,
        default=Path("var/demo-agent"),
        metavar="DIR",
        help="the agent's configuration and journal (default var/demo-agent)",
    )
    demo.set_defaults(run=_run_demo_devices)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")


def _run_agent(settings: Any, args: argparse.Namespace) -> int:
    from devices.agent.main import run_agent

    _logging()
    token = args.token or os.environ.get(TOKEN_ENV, "")
    return asyncio.run(run_agent(args.hub, token, args.config))


def _run_scale(settings: Any, args: argparse.Namespace) -> int:
    from devices.sim.scale import run_virtual_scale

    asyncio.run(run_virtual_scale(args.protocol, args.grams, noise_g=args.noise, motion=args.motion))
    return 0


def _run_printer(settings: Any, args: argparse.Namespace) -> int:
    from devices.sim.printer import run_virtual_printer

    width = 576 if args.paper == 80 else 384
    asyncio.run(run_virtual_printer(args.host, args.port, width, args.jobs_dir))
    return 0


def _run_demo_devices(settings: Any, args: argparse.Namespace) -> int:
    # The demo's devices are the hub's seed data: the agent's token is minted in the hub's database.
    from hub.seed.demo_devices import DemoDevices

    _logging()
    return asyncio.run(DemoDevices(settings.database_url, args.hub, args.state_dir).run())
