"""``storehub sim sii``: arguments, faults at start, and the simulator running as its own process."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from fiscal.cl.schemas import SchemaUnavailableError
from fiscal.cl.simulator.cli import add_sim_sii, build_state, read_faults, run
from schema.errors import ValidationError
from tests.support.procs import free_port, listening, stop, wait_until

ROOT = Path(__file__).resolve().parents[4]


def parse(*argv: str) -> argparse.Namespace:
    """As ``hub.cli`` mounts it: ``storehub sim sii ...``."""
    parser = argparse.ArgumentParser(prog="storehub")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim")
    add_sim_sii(sim.add_subparsers(dest="simulator", required=True))
    return parser.parse_args(["sim", "sii", *argv])


def test_arguments(reference: Path) -> None:
    args = parse("--port", "9999", "--schemas", str(reference / "sii" / "schemas"), "--processing-polls", "3")
    assert (args.host, args.port, args.processing_polls, args.token_ttl) == ("127.0.0.1", 9999, 3, 3600.0)
    assert args.run is run
    state = build_state(args)
    assert state.schemas is not None and state.processing_polls == 3


def test_faults_inline_or_from_a_file(tmp_path: Path) -> None:
    assert read_faults('{"html": {"next": 2}}').html.next == 2
    path = tmp_path / "faults.json"
    path.write_text('{"reject_folios": {"39": [1]}}')
    assert read_faults(f"@{path}").reject_folios == {39: [1]}
    assert read_faults(None).html.next == 0
    with pytest.raises(ValidationError, match="timeout"):
        read_faults('{"timeout": {"probability": -1}}')
    with pytest.raises(ValidationError, match="cannot read"):
        read_faults(f"@{tmp_path / 'missing.json'}")


def test_a_wrong_schema_directory_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(SchemaUnavailableError):
        build_state(parse("--schemas", str(tmp_path)))


def test_the_simulator_runs_on_its_own(reference: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "sim.log"
    command = [
        sys.executable,
        "-m",
        "fiscal.cl.simulator.cli",
        "sii",
        "--port",
        str(port),
        "--schemas",
        str(reference / "sii" / "schemas"),
        "--faults",
        '{"html": {"next": 1}, "paths": ["semilla"]}',
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: listening("127.0.0.1", port), what="the SII simulator", proc=process, log=log)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            assert http.get("/_sim/state").json()["faults"]["html"]["next"] == 1
            first = http.get("/recursos/v1/boleta.electronica.semilla")
            assert first.status_code == 200 and first.headers["content-type"].startswith("text/html")
            second = http.get("/recursos/v1/boleta.electronica.semilla")
            assert b"<SEMILLA>" in second.content
    finally:
        stop(process, signal.SIGINT, timeout=10)
    assert "SII simulator on http://127.0.0.1:" in log.read_text()
