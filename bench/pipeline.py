"""Benchmarks of the embedded pipeline (issue: run Cyclid-format jobs end to end).

    python bench/pipeline.py [--lines 1000000] [--rounds 3] [--only-lines] [--jobs 2000]
                             [--latency-jobs 100]

1. a job printing N lines of ~80 bytes: `jobstream run` until every line is in log_lines,
   wall time, CPU time and peak RSS as ratios to bench/reference_pipeline.py (chunked read
   + DuckDB bulk insert, no events), the two run in turn `--rounds` times;
2. `replay` of the 2,000-job workload (55 events a job): events/s;
3. submit-to-Completed latency of echo jobs on a running `jobstream serve`: p50 and p99.
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

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reference_pipeline import generator_argv  # noqa: E402
from bench.workload import EVENTS_PER_JOB, workload  # noqa: E402
from jobstream.dispatcher.submit import submission, submit  # noqa: E402
from jobstream.events.codec import decode  # noqa: E402
from jobstream.events.documents.secrets import Keyring, SecretBox  # noqa: E402
from jobstream.events.documents.validation import load_document  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import Completed  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.projections.replay import replay  # noqa: E402

REFERENCE = ROOT / "bench" / "reference_pipeline.py"


@dataclass(frozen=True)
class Usage:
    """What one benchmarked process took: wall and CPU seconds (its own and its waited-for
    children's, the generator's included) and peak RSS in bytes. The peak is what
    `/usr/bin/time -v` reports as "Maximum resident set size": Linux's wait4 gives the
    largest peak among the process and the children it waited for, not their sum. Either
    side is one Python process doing all its own work (jobstream's runner, log and
    projector share the `jobstream run` process) beside a generator of a few MiB, so the
    figure is that process's peak."""

    wall: float
    cpu: float
    peak: int


def measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[Usage, bytes]:
    """Run `argv` to its end; what it took, and its stdout."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise subprocess.CalledProcessError(child.returncode, argv)
        out.seek(0)
        text = out.read()
    return Usage(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024), text


def _run_reference(tmp: Path, n: int) -> tuple[Usage, int]:
    target = tmp / "ref.duckdb"
    target.unlink(missing_ok=True)
    usage, out = measured([sys.executable, str(REFERENCE), str(target), str(n)])
    return usage, int(out.split()[0])


def _run_jobstream(tmp: Path, doc: Path, index: int) -> tuple[Usage, int]:
    data = tmp / f"data{index}"
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data)}
    usage, _ = measured([sys.executable, "-m", "jobstream", "run", str(doc)], env)
    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    lines = con.execute("select count(*) from log_lines").fetchone()[0]
    con.close()
    shutil.rmtree(data)
    return usage, lines


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB"


def million_lines(n: int, rounds: int) -> None:
    """The reference and `jobstream run` in turn, `rounds` times each, so that both see the
    same load; each round's ratios, then their medians."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        doc = tmp_path / "million.yml"
        # The same program as the reference's, as the job's one step; %% is Cyclid's %.
        script = " ".join(generator_argv(n)[2:]).replace("%", "%%")
        doc.write_text(
            "name: million\nsequence: [{stage: print}]\nstages:\n  - name: print\n    steps:\n"
            "      - action: command\n"
            f'        cmd: {sys.executable} -c "{script}"\n'
        )
        ratios: list[tuple[float, float, float]] = []
        for k in range(rounds):
            # Which side goes first alternates: neither always meets a warmer page cache.
            order = ["reference", "jobstream"] if k % 2 == 0 else ["jobstream", "reference"]
            got: dict[str, tuple[Usage, int]] = {}
            for side in order:
                if side == "reference":
                    got[side] = _run_reference(tmp_path, n)
                else:
                    got[side] = _run_jobstream(tmp_path, doc, k)
            (ref, ref_rows), (ours, rows) = got["reference"], got["jobstream"]
            ratio = (ours.wall / ref.wall, ours.cpu / ref.cpu, ours.peak / ref.peak)
            ratios.append(ratio)
            print(
                f"[1] {n:,} lines, round {k + 1}: reference {ref.wall:.2f}s wall, "
                f"{ref.cpu:.2f}s CPU, peak {_mib(ref.peak)} ({ref_rows:,} rows); "
                f"jobstream run {ours.wall:.2f}s, {ours.cpu:.2f}s CPU, peak {_mib(ours.peak)} "
                f"({rows:,} rows in log_lines): wall {ratio[0]:.2f}x, CPU {ratio[1]:.2f}x, "
                f"memory {ratio[2]:.2f}x",
                flush=True,
            )
        wall, cpu, memory = (statistics.median(r[i] for r in ratios) for i in range(3))
        print(
            f"[1] median of {rounds}: wall {wall:.2f}x (target <= 1.2x), CPU {cpu:.2f}x, "
            f"memory {memory:.2f}x (target <= 1.5x); load average {_load()}"
        )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    parser.add_argument(
        "--rounds", type=int, default=3, help="reference and jobstream runs of [1], each"
    )
    parser.add_argument(
        "--only-lines", action="store_true", help="run [1] alone, not the replay and latency"
    )
    parser.add_argument("--jobs", type=int, default=2_000)
    parser.add_argument("--latency-jobs", type=int, default=100)
    args = parser.parse_args()
    million_lines(args.lines, args.rounds)
    if args.only_lines:
        return
    replay_rate(args.jobs)
    latency(args.latency_jobs)


if __name__ == "__main__":
    main()
