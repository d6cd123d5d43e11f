"""The live projector's CPU per job, by batch size, against the worker's own (not a test).

    python bench/live_apply.py [--jobs 500] [--batches 25 50 250 1000]

Runs `jobstream worker --concurrency 16` alone on `--jobs` queued echo jobs (as
bench/serve.py does) and keeps its log. Then, on this one thread, applies that log's
records to fresh views files in batches of each size, as `serve`'s live projector would
(DuckDB on one thread, LIVE_THREADS), once with the LogAppended fast path taken at the
views' threshold (FAST_PATH_BYTES) and once always taken. Prints the CPU a job of each
against the worker's CPU a job (its process and the jobs' processes) in the same run: the
projector's share of what a job costs `serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.replay_views import _read_all  # noqa: E402
from bench.serve import _drive  # noqa: E402
from jobstream.app import LIVE_THREADS  # noqa: E402
from jobstream.events.log.base import Record  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.projections.views import FAST_PATH_BYTES, DuckDBViews  # noqa: E402


def _worker_log(data: Path, jobs: int) -> float:
    """Run the worker alone on `jobs` queued echo jobs in `data`; its CPU ms a job."""
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data), "JOBSTREAM_PORT": "0"}
    env.pop("JOBSTREAM_SERVER", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "worker", "--concurrency", "16"],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _, _, _, cpu_ms = asyncio.run(_drive("worker", data, process, jobs, 0))
    finally:
        process.terminate()
        process.wait(timeout=60)
    return cpu_ms


async def _records(log_path: Path) -> list[Record]:
    """Every record of the log, in the order the log hands them over."""
    async with EmbeddedLog(log_path) as log:
        return await _read_all(log, 10_000)


def _apply_cpu(records: list[Record], batch: int, fast_path_bytes: int, path: Path) -> float:
    """CPU seconds of this thread to apply `records` in batches of `batch`."""
    views = DuckDBViews.open(path, fast_path_bytes=fast_path_bytes)
    views.conn.execute(f"SET threads = {LIVE_THREADS}")
    try:
        started = time.thread_time()
        for i in range(0, len(records), batch):
            views.apply(records[i : i + batch])
        return time.thread_time() - started
    finally:
        views.close()


def main(jobs: int, batches: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir(mode=0o700)
        worker_ms = _worker_log(data, jobs)
        loaded = asyncio.run(_records(data / "log.sqlite"))
        done = jobs + 1  # and the warm-up job
        print(
            f"{done} echo jobs, {len(loaded):,} records; the worker alone: {worker_ms:.1f} ms "
            "of CPU a job"
        )
        print("records a batch  CPU a job: at the threshold  always the fast path  vs the worker")
        for batch in batches:
            cpu = {}
            for name, threshold in (("threshold", FAST_PATH_BYTES), ("fast", 0)):
                target = Path(tmp) / f"views-{batch}-{name}.duckdb"
                cpu[name] = _apply_cpu(loaded, batch, threshold, target) * 1000 / done
            print(
                f"{batch:15}  {cpu['threshold']:21.2f} ms  {cpu['fast']:17.2f} ms  "
                f"{cpu['threshold'] / worker_ms:12.2f}x"
            )
        load = os.getloadavg()
        print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--batches", type=int, nargs="+", default=[25, 50, 250, 1000])
    args = parser.parse_args()
    main(args.jobs, args.batches)
