"""The agent as a real process, killed with SIGKILL in the middle of a print queue and started again.

Whatever instant the kill lands on, no job may print twice: a job the dead agent had begun to send is
reported failed (the maybe-printed rule) and never sent again; every other job prints exactly once; the
hub gets a final acknowledgement for every job.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import sys
import uuid
from pathlib import Path

import pytest

from devices.agent.journal import MAYBE_PRINTED_REASON
from devices.sim.printer import VirtualPrinter
from tests.devices.agent.conftest import write_config
from tests.devices.agent.fake_hub import FakeHub

REPO = Path(__file__).resolve().parents[3]
PRINTER = uuid.uuid4()
JOBS = 30


async def start_agent(hub: FakeHub, config: Path, log: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "STOREHUB_DEVICE_TOKEN": "good-token", "PYTHONPATH": str(REPO)}
    with log.open("ab") as stderr:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "import sys; from devices.agent.main import agent_main; sys.exit(agent_main())",
            "--hub",
            hub.url,
            "--config",
            str(config),
            cwd=REPO,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )


def copies(printer: VirtualPrinter) -> collections.Counter[int]:
    return collections.Counter(
        int(n) for job in printer.jobs for n in re.findall(r"BOLETA (\d{3})", job.text)
    )


# Each job is two connections to the printer (status query, then the job): killing at consecutive counts
# lands the kill both between jobs and while a job is being sent (the maybe-printed case).
@pytest.mark.parametrize("kill_at_connection", [9, 10, 11])
async def test_a_killed_agent_never_prints_a_job_twice_and_acks_every_job(
    tmp_path: Path, kill_at_connection: int
) -> None:
    hub = await FakeHub(resend_unfinished=True).start()
    printer = VirtualPrinter()
    await printer.start()
    config = write_config(
        tmp_path,
        f'[[printer]]\ndevice_id = "{PRINTER}"\n'
        f'transport = {{ type = "network", host = "127.0.0.1", port = {printer.port} }}\n',
    )
    log = tmp_path / "agent.log"
    agent = await start_agent(hub, config, log)
    try:
        await hub.wait_until(lambda: hub.hellos == 1, 30)
        jobs = {
            await hub.print_job(PRINTER, b"\x1b@" + f"BOLETA {n:03d}\n".encode() + b"\x1dV\x00"): n
            for n in range(JOBS)
        }
        await printer.wait_for(lambda: printer.connections >= kill_at_connection, 30)
        agent.send_signal(signal.SIGKILL)
        await agent.wait()
        await printer.idle()
        printed_before = sum(copies(printer).values())
        assert printed_before < JOBS, "the kill was meant to land in the middle of the queue"

        agent = await start_agent(hub, config, log)
        await hub.wait_until(lambda: all(hub.final_acks().get(job) for job in jobs), 60)
        await printer.idle()

        printed = copies(printer)
        final = {job: hub.final_acks()[job] for job in jobs}
        failed = [job for job, outcomes in final.items() if "failed" in outcomes]
        assert all(count == 1 for count in printed.values()), f"printed twice: {printed}"
        assert len(failed) <= 1, f"more than the one interrupted job failed: {failed}"
        for job, n in jobs.items():
            if job in failed:
                assert set(final[job]) == {"failed"}, "a maybe-printed job is never printed afterwards"
                assert printed[n] <= 1
            else:
                assert set(final[job]) == {"printed"} and printed[n] == 1, f"job {n}: {final[job]}"
        reasons = {a["reason"] for a in hub.of_type("print.ack") if a["outcome"] == "failed"}
        assert reasons <= {MAYBE_PRINTED_REASON}
        assert hub.hellos == 2

        agent.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(agent.wait(), 15) == 0
    except BaseException:
        sys.stderr.write(log.read_text())
        raise
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
        await printer.close()
        await hub.stop()
