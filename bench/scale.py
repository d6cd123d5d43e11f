"""Read paths of the views as the log grows (not a test; `python -m bench scale` only).

    python bench/scale.py [SIZE ...]     SIZE: lines, e.g. 1000000 10000000 (the default)

For each size, jobs of 500 lines each (the issue's 50,000,000 lines / 100,000 jobs) are
written as events to an embedded log, four jobs at a time with their chunks interleaved as
concurrent runners write them (a tenth fail, a hundredth still run), then projected into a
fresh views file by the real projector (`projections.replay.replay`, the runner and
`DuckDBViews.apply` the live views use). Then the median of repeated calls of the queries
that answer

- `GET /jobs?status=FAILED&limit=50` (queries.list_jobs),
- a 1,000-line range of one job's log, a job written early, mid-way and last (log_range),
- `log --follow` start: `log_start(tail=100)` then the lines from there (what the first
  page of a follow reads),
- `stats` (queries.stats),

and, for comparison on the same file, the range as it was read before `log_spans` (a
filtered scan of all of log_lines);

then the growth of each from the smallest size to the largest.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import DOCUMENT  # noqa: E402
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
from jobstream.projections import queries  # noqa: E402
from jobstream.projections.replay import replay  # noqa: E402
from jobstream.projections.schema import LOG_LINES  # noqa: E402
from jobstream.projections.views import DuckDBViews  # noqa: E402

TOPICS = Topics()
LINES_PER_JOB = 500
LINES_PER_CHUNK = 50
CONCURRENT = 4
_AT = "2026-11-28T00:00:00.000000Z"


def _job_id(i: int) -> str:
    # Random-looking, as real ids are (uuid4 hex): their zone maps skip nothing.
    return f"{(i * 2_654_435_761) % 2**32:08x}{i:024x}"


def _job(i: int) -> Iterator[tuple[str, Message]]:
    """One job's events: submitted, waiting, started, its chunks, then its end (none for
    a job still running)."""
    job_id, writer = _job_id(i), f"attempt-{i}"
    yield (
        TOPICS.jobs,
        to_message(JobSubmitted(job_id=job_id, writer="submit", seq=1, document=DOCUMENT)),
    )
    seq = 0
    for status, previous in ((Status.WAITING, Status.NEW), (Status.STARTED, Status.WAITING)):
        seq += 1
        yield (
            TOPICS.events,
            to_message(
                StatusChanged(
                    job_id=job_id, writer=writer, seq=seq, status=status, previous=previous
                )
            ),
        )
    for first in range(1, LINES_PER_JOB + 1, LINES_PER_CHUNK):
        seq += 1
        lines = [
            LogLine.model_construct(n=n, at=_AT, stream="stdout", text=f"line {n:07d} " + "x" * 68)
            for n in range(first, first + LINES_PER_CHUNK)
        ]
        yield (
            TOPICS.events,
            to_message(LogAppended(job_id=job_id, writer=writer, seq=seq, lines=lines)),
        )
    if i % 100 == 99:
        return
    status = Status.FAILED if i % 10 == 9 else Status.SUCCEEDED
    seq += 1
    yield (
        TOPICS.events,
        to_message(
            StatusChanged(
                job_id=job_id, writer=writer, seq=seq, status=status, previous=Status.STARTED
            )
        ),
    )
    yield (
        TOPICS.events,
        to_message(
            Completed(
                job_id=job_id,
                writer=writer,
                seq=seq + 1,
                success=status is Status.SUCCEEDED,
                status=status,
                lines=LINES_PER_JOB,
                bytes=LINES_PER_JOB * 81,
            )
        ),
    )


def _batches(jobs: int) -> Iterator[tuple[str, list[Message]]]:
    """CONCURRENT jobs at a time, their events interleaved one by one."""
    for start in range(0, jobs, CONCURRENT):
        streams = [list(_job(i)) for i in range(start, min(start + CONCURRENT, jobs))]
        by_topic: dict[str, list[Message]] = {TOPICS.jobs: [], TOPICS.events: []}
        for k in range(max(map(len, streams))):
            for stream in streams:
                if k < len(stream):
                    topic, message = stream[k]
                    by_topic[topic].append(message)
        yield from by_topic.items()


def _median_ms(call: Callable[[], Any], repeat: int = 15) -> float:
    call()  # the first call warms DuckDB's cache; the figures are of a serving process
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _measure(path: Path, jobs: int) -> dict[str, float]:
    views = DuckDBViews.open(path)
    conn = views.conn
    try:

        def follow(job_id: str) -> None:
            start = queries.log_start(conn, job_id, 1, tail=100)
            assert len(queries.log_range(conn, job_id, start, 1000)) == 100

        def scan(job_id: str) -> None:
            # The range as read before log_spans: every row group of log_lines.
            sql = LOG_LINES.select("WHERE job_id = $id AND n >= 1 AND n < 1001 ORDER BY n")
            rows = conn.execute(sql, {"id": job_id}).fetchall()
            assert len(LOG_LINES.load(rows)) == LINES_PER_JOB

        def page(job_id: str) -> None:
            assert len(queries.log_range(conn, job_id, 1, 1000)) == LINES_PER_JOB

        failed = queries.list_jobs(conn, status=Status.FAILED, limit=50)
        assert len(failed) == min(50, sum(i % 10 == 9 and i % 100 != 99 for i in range(jobs)))
        figures = {
            "GET /jobs?status=FAILED&limit=50": _median_ms(
                lambda: queries.list_jobs(conn, status=Status.FAILED, limit=50)
            ),
            "log range, first job": _median_ms(lambda: page(_job_id(0))),
            "log range, middle job": _median_ms(lambda: page(_job_id(jobs // 2))),
            "log range, last job": _median_ms(lambda: page(_job_id(jobs - 1))),
            "log range without its span (before)": _median_ms(lambda: scan(_job_id(jobs // 2))),
            "log --follow start (tail 100)": _median_ms(lambda: follow(_job_id(jobs // 2))),
            "stats": _median_ms(lambda: queries.stats(conn)),
        }
        return figures
    finally:
        views.close()


async def _build(root: Path, lines: int) -> tuple[int, Path]:
    jobs = lines // LINES_PER_JOB
    async with EmbeddedLog(root / "log.sqlite", partitions=4) as log:
        started = time.perf_counter()
        for topic, messages in _batches(jobs):
            if messages:
                await log.append(topic, messages)
        wrote = time.perf_counter() - started
        result = await replay(log, TOPICS.all, root / "views.duckdb")
    print(
        f"  {jobs:,} jobs, {lines:,} lines: events written in {wrote:.0f}s, "
        f"projected in {result.seconds:.0f}s ({result.events:,} events), "
        f"views {result.path.stat().st_size / 2**20:,.0f} MiB",
        flush=True,
    )
    return jobs, result.path


def main(sizes: list[int]) -> None:
    results: dict[int, dict[str, float]] = {}
    for lines in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            jobs, path = asyncio.run(_build(Path(tmp), lines))
            results[lines] = _measure(path, jobs)
        for name, ms in results[lines].items():
            print(f"  {lines:>11,} lines  {name:<36} {ms:8.2f} ms", flush=True)
    small, large = min(results), max(results)
    if small != large:
        print(f"growth from {small:,} to {large:,} lines ({large / small:.0f}x the lines):")
        for name, ms in results[large].items():
            print(f"  {name:<36} {ms / results[small][name]:6.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    main(sorted(args.sizes))
