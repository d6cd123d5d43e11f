"""Benchmarks of the HTTP API (issue: API, tokens, web page).

    python bench/api.py [--jobs 100000] [--requests 300] [--lines 200]

With N jobs in the views (10% FAILED, one job with a 5,000-line log), a `jobstream serve`
in its own process answers:
1. GET /jobs?status=FAILED&limit=50: p50/p99 latency;
2. GET /jobs/{id}/log?from=2001&limit=1000 (a 1,000-line range): p50/p99 latency;
3. SSE delivery: a job prints a line every 20 ms; latency from the runner's timestamp on
   each line (taken when it read the line) to its arrival at an SSE client: p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobstream import runtime  # noqa: E402
from jobstream.events.log.base import Message, to_message  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import (  # noqa: E402
    Completed,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from jobstream.events.names import Topics  # noqa: E402

DOCUMENT = {
    "name": "bench",
    "sequence": [{"stage": "build"}],
    "stages": [{"name": "build", "steps": [{"action": "command", "cmd": "make test"}]}],
}
BIG_LOG = 5000
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job_messages(i: int, job_id: str, lines: int = 0) -> tuple[list[Message], list[Message]]:
    """(jobs topic, job-events topic) messages of one finished job."""
    at = T0 + timedelta(seconds=i)
    failed = i % 10 == 0
    final = Status.FAILED if failed else Status.SUCCEEDED
    # "local": finished history, which the worker of `serve` must not pick up and run.
    submitted = JobSubmitted(
        job_id=job_id, writer="submit", seq=1, at=at, document=DOCUMENT, dispatch="local"
    )
    events = [
        StatusChanged(job_id=job_id, writer="w", seq=1, at=at, status=Status.STARTED),
    ]
    seq = 2
    for first in range(1, lines + 1, 500):
        chunk = [
            LogLine(n=n, at=at.isoformat(), stream="stdout", text=f"line {n:07d} " + "x" * 68)
            for n in range(first, min(first + 500, lines + 1))
        ]
        events.append(LogAppended(job_id=job_id, writer="w", seq=seq, at=at, lines=chunk))
        seq += 1
    end = at + timedelta(seconds=3 + i % 7)
    events += [
        StatusChanged(job_id=job_id, writer="w", seq=seq, at=end, status=final),
        Completed(
            job_id=job_id,
            writer="w",
            seq=seq + 1,
            at=end,
            ended_at=end,
            success=not failed,
            status=final,
            lines=lines,
            bytes=lines * 81,
        ),
    ]
    return [to_message(submitted)], [to_message(e) for e in events]


async def populate(log_path: Path, jobs: int) -> str:
    """Write the jobs to the log; returns the id of the job with the big log."""
    topics = Topics()
    big = "f" * 32
    async with EmbeddedLog(log_path, partitions=4) as log:
        batch_jobs: list[Message] = []
        batch_events: list[Message] = []
        for i in range(jobs):
            job_id = big if i == jobs - 1 else f"{i:032x}"
            on_jobs, on_events = job_messages(i, job_id, BIG_LOG if job_id == big else 0)
            batch_jobs += on_jobs
            batch_events += on_events
            if len(batch_events) >= 20_000 or i == jobs - 1:
                await log.append(topics.jobs, batch_jobs)
                await log.append(topics.events, batch_events)
                batch_jobs, batch_events = [], []
    return big


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms (n={len(ordered)})"


def timed(http: httpx.Client, path: str, params: dict, requests: int) -> list[float]:
    for _ in range(10):  # warm up
        http.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(path, params=params).raise_for_status()
        samples.append(time.perf_counter() - started)
    return samples


def sse_latency(http: httpx.Client, lines: int) -> list[float]:
    script = f"for i in $(seq 1 {lines}); do echo tick $i; sleep 0.02; done"
    document = {
        "name": "sse-bench",
        "sequence": [{"stage": "s"}],
        "stages": [{"name": "s", "steps": [{"action": "command", "cmd": script}]}],
    }
    job_id = http.post("/jobs", json=document).raise_for_status().json()["job_id"]
    delays = []
    with http.stream("GET", f"/jobs/{job_id}/log/stream", timeout=None) as response:
        event = data = ""
        for raw in response.iter_lines():
            if raw.startswith("event:"):
                event = raw.partition(":")[2].strip()
            elif raw.startswith("data:"):
                data = raw.partition(":")[2].strip()
            elif not raw and data:
                if event == "end":
                    break
                line = json.loads(data)
                if line["stream"] == "stdout":
                    written = datetime.fromisoformat(line["at"]).timestamp()
                    delays.append(time.time() - written)
                event = data = ""
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--lines", type=int, default=200, help="lines of the SSE job")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        started = time.perf_counter()
        big = asyncio.run(populate(data / "log.sqlite", args.jobs))
        print(f"wrote {args.jobs:,} jobs to the log in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()

        env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data), "JOBSTREAM_PORT": "0"}
        env.pop("JOBSTREAM_SERVER", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "serve"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while (info := runtime.discover(data)) is None:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("jobstream serve did not start")
                time.sleep(0.1)
            with httpx.Client(base_url=info.url, timeout=60) as http:
                caught_up = time.monotonic() + 1800
                while (health := http.get("/health").json())["projection_lag"]:
                    if time.monotonic() > caught_up:
                        raise SystemExit("the views did not catch up")
                    time.sleep(0.5)
                total = http.get("/jobs", params={"limit": 1}).json()["total"]
                print(
                    f"views caught up in {time.perf_counter() - started:.1f}s: {total:,} jobs, "
                    f"{health['applied']:,} events applied"
                )

                failed = timed(http, "/jobs", {"status": "FAILED", "limit": 50}, args.requests)
                print(f"GET /jobs?status=FAILED&limit=50: {percentiles(failed)}")
                log_range = timed(
                    http, f"/jobs/{big}/log", {"from": 2001, "limit": 1000}, args.requests
                )
                print(f"GET /jobs/ID/log 1,000 lines: {percentiles(log_range)}")
                delays = sse_latency(http, args.lines)
                print(f"SSE delivery, runner write to client: {percentiles(delays)}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
