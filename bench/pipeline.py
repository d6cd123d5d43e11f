"""Benchmarks of the embedded pipeline (issue: run Cyclid-format jobs end to end).

    python bench/pipeline.py [--lines 1000000] [--jobs 2000] [--latency-jobs 100]

1. a job printing N lines of ~80 bytes: `jobstream run` until every line is in log_lines,
   as a ratio to ../shared/bench/reference_pipeline.py (chunked read + DuckDB bulk insert,
   no events) measured in the same run;
2. `replay` of the 2,000-job workload (55 events a job): events/s;
3. submit-to-Completed latency of echo jobs on a running `jobstream serve`: p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workload import EVENTS_PER_JOB, workload  # noqa: E402
from jobstream.dispatcher.submit import submission, submit  # noqa: E402
from jobstream.events.codec import decode  # noqa: E402
from jobstream.events.documents.secrets import Keyring, SecretBox  # noqa: E402
from jobstream.events.documents.validation import load_document  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import Completed  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.projections.replay import replay  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "bench" / "reference_pipeline.py"
GEN = "import sys; w=sys.stdout.write; [w('line %07d ' % i + 'x'*68 + chr(10)) for i in range({n})]"


def jobstream(data_dir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "jobstream", *args], env=env, cwd=ROOT, check=True, **kwargs
    )


def million_lines(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(REFERENCE), str(tmp_path / "ref.duckdb"), str(n)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        reference = time.perf_counter() - started
        doc = tmp_path / "million.yml"
        script = GEN.format(n=n)
        doc.write_text(
            "name: million\nsequence: [{stage: print}]\nstages:\n  - name: print\n    steps:\n"
            "      - action: command\n"
            f'        cmd: {sys.executable} -c "{script}"\n'
        )
        data = tmp_path / "data"
        started = time.perf_counter()
        jobstream(data, "run", str(doc), stdout=subprocess.DEVNULL)
        ours = time.perf_counter() - started
        con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
        lines = con.execute("select count(*) from log_lines").fetchone()[0]
        con.close()
        print(
            f"[1] {n:,} lines: reference {reference:.2f}s ({out[0]} rows), "
            f"jobstream run {ours:.2f}s ({lines:,} rows in log_lines), "
            f"ratio {ours / reference:.2f}x (target <= 2x)"
        )


async def _fill(log_path: Path, jobs: int) -> int:
    count = 0
    async with EmbeddedLog(log_path) as log:
        for topic, messages in workload(Topics(), jobs):
            await log.append(topic, messages)
            count += len(messages)
    return count


def replay_rate(jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "log.sqlite"
        events = asyncio.run(_fill(log_path, jobs))
        assert events == jobs * EVENTS_PER_JOB

        async def go():
            async with EmbeddedLog(log_path) as log:
                return await replay(log, Topics().all, Path(tmp) / "views.duckdb")

        started = time.perf_counter()
        result = asyncio.run(go())
        seconds = time.perf_counter() - started
        print(
            f"[2] replay of {jobs:,} jobs: {result.events:,} events in {seconds:.2f}s, "
            f"{result.events / seconds:,.0f} events/s (target >= 100,000)"
        )


async def _latencies(data_dir: Path, jobs: int) -> list[float]:
    topics = Topics()
    validated = load_document(
        b"name: echo\nsequence: [{stage: s}]\n"
        b"stages: [{name: s, steps: [{action: command, cmd: echo hi}]}]\n",
        "echo.yml",
    )
    box = SecretBox(Keyring.generate())  # the echo job has no secrets
    out = []
    async with (
        EmbeddedLog(data_dir / "log.sqlite") as log,
        log.consumer([topics.events], start="latest") as consumer,
    ):
        for _ in range(jobs):
            event = submission(validated.document, box)
            started = time.perf_counter()
            await submit(log, topics, event)
            while True:
                records = await consumer.getmany(timeout=10)
                if not records:
                    raise TimeoutError("no Completed within 10 s")
                if any(
                    r.key == event.job_id
                    and r.headers.get("type") == "Completed"
                    and isinstance(decode(r.value), Completed)
                    for r in records
                ):
                    break
            out.append(time.perf_counter() - started)
    return out


def latency(jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data)}
        serve = subprocess.Popen(
            [sys.executable, "-m", "jobstream", "serve"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)  # let serve start its worker and projector
            samples = asyncio.run(_latencies(data, jobs))
        finally:
            serve.terminate()
            serve.wait(timeout=30)
        ms = sorted(s * 1000 for s in samples)
        p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(
            f"[3] submit-to-Completed of {jobs} echo jobs on serve: "
            f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms (target p50 < 100 ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--latency-jobs", type=int, default=100)
    args = parser.parse_args()
    million_lines(args.lines)
    replay_rate(args.jobs)
    latency(args.latency_jobs)


if __name__ == "__main__":
    main()
