"""Actor runtime benchmark: ask round trip and tell throughput against a bare asyncio baseline.

    .venv/bin/python bench/actor_runtime.py --actors 1000 --messages 20000

Also reports peak RSS with 10,000 live actors. The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import statistics
import sys
import time

from actors.runtime import Actor, ActorSystem, Props

SCALE_ACTORS = 10_000


class Sink(Actor):
    """Counts what it gets; answers asks with the message."""

    total = 0
    target = 0
    done: asyncio.Event | None = None

    async def receive(self, message: object) -> object:
        cls = type(self)
        cls.total += 1
        if cls.total == cls.target and cls.done is not None:
            cls.done.set()
        return message


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1e6, cuts[98] * 1e6  # microseconds


async def baseline_ask(messages: int) -> list[float]:
    """The floor: one queue, one consumer task, one future per round trip."""
    queue: asyncio.Queue[tuple[object, asyncio.Future[object]]] = asyncio.Queue(1000)

    async def consumer() -> None:
        while True:
            message, reply = await queue.get()
            reply.set_result(message)

    task = asyncio.create_task(consumer())
    loop = asyncio.get_running_loop()
    samples = []
    for i in range(messages):
        started = time.perf_counter()
        reply = loop.create_future()
        await queue.put((i, reply))
        await reply
        samples.append(time.perf_counter() - started)
    task.cancel()
    return samples


async def baseline_tell(messages: int) -> float:
    queue: asyncio.Queue[object] = asyncio.Queue(1000)
    done = asyncio.Event()

    async def consumer() -> None:
        for _ in range(messages):
            await queue.get()
        done.set()

    task = asyncio.create_task(consumer())
    started = time.perf_counter()
    for i in range(messages):
        await queue.put(i)
    await done.wait()
    elapsed = time.perf_counter() - started
    await task
    return messages / elapsed


async def runtime_ask(actors: int, messages: int) -> list[float]:
    async with ActorSystem(name="bench", idle_after=None) as system:
        refs = [system.spawn(f"sink/{i}", Props(Sink)) for i in range(actors)]
        for ref in refs:  # warm up: every actor started
            await ref.ask(None, timeout=10)
        samples = []
        for i in range(messages):
            ref = refs[i % actors]
            started = time.perf_counter()
            await ref.ask(i, timeout=10)
            samples.append(time.perf_counter() - started)
        return samples


async def runtime_tell(actors: int, messages: int) -> float:
    async with ActorSystem(name="bench", idle_after=None) as system:
        refs = [system.spawn(f"sink/{i}", Props(Sink)) for i in range(actors)]
        for ref in refs:
            await ref.ask(None, timeout=10)
        Sink.total, Sink.target, Sink.done = 0, messages, asyncio.Event()
        started = time.perf_counter()
        for i in range(messages):
            await refs[i % actors].tell(i)
        await asyncio.wait_for(Sink.done.wait(), 60)
        return messages / (time.perf_counter() - started)


async def scale(count: int) -> dict[str, float]:
    gc.collect()
    before = peak_rss_mib()
    async with ActorSystem(name="scale", idle_after=600.0) as system:
        started = time.perf_counter()
        refs = [system.spawn(f"sink/{i}", Props(Sink)) for i in range(count)]
        spawned = time.perf_counter() - started
        for ref in refs:  # sequential, so no transient task per ask inflates the peak
            await ref.ask(None, timeout=10)
        live = len(system)
        after = peak_rss_mib()
        stopping = time.perf_counter()
    stopped = time.perf_counter() - stopping
    assert live == count
    return {
        "scale_actors": count,
        "rss_peak_mib": round(after, 1),
        "rss_before_mib": round(before, 1),
        "rss_per_actor_kib": round((after - before) * 1024 / count, 2),
        "spawn_us_per_actor": round(spawned / count * 1e6, 1),
        "stop_all_s": round(stopped, 3),
    }


async def main(actors: int, messages: int) -> dict[str, float]:
    figures: dict[str, float] = {"actors": actors, "messages": messages}
    figures.update(await scale(SCALE_ACTORS))  # first, so the peak is not some later phase's
    base_p50, base_p99 = percentiles(await baseline_ask(messages))
    p50, p99 = percentiles(await runtime_ask(actors, messages))
    figures.update(
        baseline_ask_p50_us=round(base_p50, 1),
        baseline_ask_p99_us=round(base_p99, 1),
        ask_p50_us=round(p50, 1),
        ask_p99_us=round(p99, 1),
        baseline_tell_per_s=round(await baseline_tell(messages)),
        tell_per_s=round(await runtime_tell(actors, messages)),
    )
    return figures


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    figures = asyncio.run(main(args.actors, args.messages))
    f = figures
    print(f"python {sys.version.split()[0]}, {f['actors']} actors, {f['messages']} messages")
    print(f"ask round trip   runtime p50 {f['ask_p50_us']:7.1f} us  p99 {f['ask_p99_us']:7.1f} us")
    base_p50, base_p99 = f["baseline_ask_p50_us"], f["baseline_ask_p99_us"]
    print(f"  baseline       bare    p50 {base_p50:7.1f} us  p99 {base_p99:7.1f} us")
    print(f"tell throughput  runtime {f['tell_per_s']:>9,} msg/s")
    print(f"  baseline       bare    {f['baseline_tell_per_s']:>9,} msg/s")
    print(
        f"{f['scale_actors']:,} live actors: peak RSS {f['rss_peak_mib']} MiB "
        f"(was {f['rss_before_mib']} MiB; {f['rss_per_actor_kib']} KiB/actor), "
        f"spawn {f['spawn_us_per_actor']} us/actor, stop all {f['stop_all_s']} s"
    )
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    run()
