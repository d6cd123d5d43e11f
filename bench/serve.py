"""`jobstream serve` against its workers: echo jobs/s and submit-to-Completed latency.

    python bench/serve.py [--jobs 500] [--sequential 50] [--concurrency 4 16] [--rounds 2]
                          [--profile DIR]

For each concurrency, on a fresh data directory each run, alternately:

- `worker`: `jobstream worker --concurrency C` alone (no views); a job is done when its
  Completed event is in the log;
- `serve`: `jobstream serve --concurrency C` (worker, projector and API in one process); a
  job is done when the views say so (`GET /jobs/{id}/status`, `GET /stats`).

Each run starts the process, runs one warm-up job, then `--sequential` jobs one at a time
(submit, wait for Completed: p50, p99), then appends `--jobs` JobSubmitted in one append,
as a burst of `jobstream submit`s would queue them, and times until all are Completed
(jobs/s; p50, p99 of submit-to-Completed). Both use the same builder (`--builder`, the
settings' default: sandbox). The ratio serve/worker is of the median of the rounds, all
measured in this one run, so machine load touches both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobstream import runtime  # noqa: E402
from jobstream.dispatcher.submit import submission  # noqa: E402
from jobstream.events.documents.models import JobDocument  # noqa: E402
from jobstream.events.documents.secrets import Keyring, SecretBox  # noqa: E402
from jobstream.events.log.base import to_message  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.settings import Settings  # noqa: E402

MODES = ("worker", "serve")
TOPICS = Topics()
# How often completion is looked for: often enough to resolve a ~20 ms job, rarely enough
# that the looking does not load the server it measures.
POLL = 0.005
POLL_QUEUED = 0.25


@dataclass
class Run:
    mode: str
    concurrency: int
    jobs_per_s: float
    queued_ms: list[float]
    sequential_ms: list[float]
    cpu_ms_per_job: float


def _cpu_seconds(pid: int) -> float:
    """CPU time of process `pid` and of its children it has waited for (the jobs' bwrap,
    shell and echo): what a job costs the machine whatever else loads it."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), counted after the name.
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _echo() -> JobDocument:
    return JobDocument.model_validate(
        {
            "name": "bench-echo",
            "sequence": [{"stage": "s"}],
            "stages": [{"name": "s", "steps": [{"action": "command", "cmd": "echo hi"}]}],
        }
    )


class Watcher:
    """Knows when submitted jobs are Completed: in the log (`worker`) or the views (`serve`)."""

    def __init__(self, mode: str, data: Path, log: EmbeddedLog) -> None:
        self.mode = mode
        self.data = data
        self.log = log
        self.box = SecretBox(Keyring.generate())
        self.document = _echo()
        self._http: httpx.AsyncClient | None = None
        self._done: set[str] = set()
        self._consumer = log.consumer([TOPICS.events], start="earliest")

    async def __aenter__(self) -> Watcher:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()
        if self._http is not None:
            await self._http.aclose()

    async def http(self, process: subprocess.Popen[bytes]) -> httpx.AsyncClient:
        if self._http is None:
            deadline = time.monotonic() + 120
            while (info := runtime.discover(self.data)) is None:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("jobstream serve did not start")
                await asyncio.sleep(0.05)
            self._http = httpx.AsyncClient(base_url=info.url, timeout=60)
        return self._http

    async def submit(self, count: int) -> list[str]:
        events = [submission(self.document, self.box) for _ in range(count)]
        await self.log.append(TOPICS.jobs, [to_message(e) for e in events])
        return [e.job_id for e in events]

    async def _read_log(self) -> None:
        for r in await self._consumer.getmany(timeout=POLL):
            if r.headers.get("type") == "Completed":
                self._done.add(r.key)

    async def wait_one(self, job_id: str, process: subprocess.Popen[bytes]) -> None:
        """Until `job_id` is Completed: in the log, then (serve) in the views. Asking the
        views only once the log has it keeps the asking off the views' thread meanwhile."""
        deadline = time.monotonic() + 120
        while job_id not in self._done:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"jobstream {self.mode}: job {job_id} not Completed")
            await self._read_log()
        if self.mode == "worker":
            return
        http = await self.http(process)
        while time.monotonic() < deadline:
            answer = await http.get(f"/jobs/{job_id}/status")
            if answer.status_code == 200 and answer.json()["completed"]:
                return
            await asyncio.sleep(POLL)
        raise TimeoutError(f"job {job_id} not Completed in the views within 120 s")

    async def wait_all(
        self, job_ids: list[str], started: float, process: subprocess.Popen[bytes]
    ) -> list[float]:
        """Seconds from `started` at which each job was seen Completed, in order."""
        wanted = set(job_ids)
        seen: list[float] = []
        base = 0
        if self.mode == "serve":
            http = await self.http(process)
            base = (await http.get("/stats")).json()["finished"]
        deadline = time.monotonic() + 600
        while len(seen) < len(job_ids):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"jobstream {self.mode}: {len(seen)} of {len(job_ids)} done")
            if self.mode == "worker":
                await self._read_log()
                done = len(wanted & self._done)
            else:
                await asyncio.sleep(POLL_QUEUED)
                done = (await http.get("/stats")).json()["finished"] - base
            at = time.perf_counter() - started
            seen.extend([at] * (done - len(seen)))
        return seen


async def _drive(
    mode: str, data: Path, process: subprocess.Popen[bytes], jobs: int, sequential: int
) -> tuple[float, list[float], list[float], float]:
    async with (
        EmbeddedLog(data / "log.sqlite", partitions=Settings().partitions) as log,
        Watcher(mode, data, log) as watcher,
    ):
        for job_id in await watcher.submit(1):  # warm-up: waits for the start, not counted
            await watcher.wait_one(job_id, process)
        one_at_a_time = []
        for _ in range(sequential):
            started = time.perf_counter()
            (job_id,) = await watcher.submit(1)
            await watcher.wait_one(job_id, process)
            one_at_a_time.append(time.perf_counter() - started)
        cpu = _cpu_seconds(process.pid)
        started = time.perf_counter()
        job_ids = await watcher.submit(jobs)
        queued = await watcher.wait_all(job_ids, started, process)
        cpu = _cpu_seconds(process.pid) - cpu
    return (
        jobs / queued[-1],
        [s * 1000 for s in queued],
        [s * 1000 for s in one_at_a_time],
        cpu * 1000 / jobs,
    )


def measure(
    mode: str, concurrency: int, builder: str, jobs: int, sequential: int, profile: Path | None
) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir(mode=0o700)
        env = {
            **os.environ,
            "JOBSTREAM_DATA_DIR": str(data),
            "JOBSTREAM_BUILDER": builder,
            "JOBSTREAM_PORT": "0",
        }
        env.pop("JOBSTREAM_SERVER", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "jobstream", mode, "--concurrency", str(concurrency)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        spy = None
        if profile is not None and mode == "serve":
            # Collapsed stacks, one line each with its sample count (flamegraph.pl input).
            out = profile / f"serve-{concurrency}-{process.pid}.txt"
            spy = subprocess.Popen(
                ["py-spy", "record", "--pid", str(process.pid), "--format", "raw", "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            rate, queued, one, cpu = asyncio.run(_drive(mode, data, process, jobs, sequential))
        finally:
            process.terminate()
            process.wait(timeout=60)
            if spy is not None:
                spy.wait(timeout=60)
    return Run(mode, concurrency, rate, queued, one, cpu)


def _pct(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="jobs queued at once")
    parser.add_argument("--sequential", type=int, default=50, help="jobs one at a time")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--rounds", type=int, default=2, help="worker/serve pairs per concurrency")
    parser.add_argument("--builder", default=Settings().builder)
    parser.add_argument(
        "--profile", type=Path, help="record each serve run with py-spy into this directory"
    )
    args = parser.parse_args()
    if args.profile is not None:
        if shutil.which("py-spy") is None:
            raise SystemExit("--profile needs py-spy on PATH (pip install py-spy)")
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"{args.jobs} queued echo jobs, {args.sequential} one at a time, {args.builder} builder")
    header = "mode    conc  jobs/s  queued p50  queued p99  one p50  one p99  cpu/job"
    print(header)
    runs: list[Run] = []
    for concurrency in args.concurrency:
        for _ in range(args.rounds):
            for mode in MODES:
                run = measure(
                    mode, concurrency, args.builder, args.jobs, args.sequential, args.profile
                )
                runs.append(run)
                print(
                    f"{mode:7} {concurrency:4} {run.jobs_per_s:7.1f} "
                    f"{_pct(run.queued_ms, 0.5):9.0f}ms {_pct(run.queued_ms, 0.99):9.0f}ms "
                    f"{_pct(run.sequential_ms, 0.5):6.1f}ms {_pct(run.sequential_ms, 0.99):6.1f}ms "
                    f"{run.cpu_ms_per_job:6.1f}ms",
                    flush=True,
                )
    print()
    for concurrency in args.concurrency:
        rate = {
            mode: statistics.median(
                r.jobs_per_s for r in runs if r.mode == mode and r.concurrency == concurrency
            )
            for mode in MODES
        }
        print(
            f"concurrency {concurrency}: serve {rate['serve']:.1f} jobs/s, worker alone "
            f"{rate['worker']:.1f} jobs/s: {rate['serve'] / rate['worker']:.2f}x (target >= 0.9x)"
        )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
