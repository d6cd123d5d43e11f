"""Peak memory of the projector catching up a backlog (not a test).

For each size given (GiB of record values), writes a backlog into an embedded log in a
temporary directory: jobs of the shape a chatty job leaves (JobSubmitted, StatusChanged,
LogAppended of 500 lines of ~100 bytes, Completed). Then a fresh process does what
`jobstream project` does on start, `ViewsHost.run_until_caught_up` from no views at all,
and its peak RSS (ru_maxrss) is printed with the time it took. Reads are bounded in bytes
(ProjectionRunner's `batch_bytes`) as well as in records, so the peak should not grow with
the backlog.

usage: .venv/bin/python -m bench catchup [GIB ...]     (default: 1 2)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobstream.events.codec import encode_log_appended  # noqa: E402
from jobstream.events.log.base import Message, to_message  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import Completed, JobSubmitted, Status, StatusChanged  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402

TOPICS = Topics()
LINES = 500
CHUNKS = 20
_AT = "2026-11-28T00:00:00.000000Z"
_DOCUMENT = {"name": "chatty", "sequence": [{"stage": "s"}], "stages": []}


def _job() -> tuple[list[Message], list[Message], int]:
    """One chatty job: (jobs messages, job-events messages, bytes of values)."""
    job_id = uuid.uuid4().hex
    writer = "attempt-bench"
    jobs = [to_message(JobSubmitted(job_id=job_id, writer="submit", seq=1, document=_DOCUMENT))]
    events = [
        to_message(
            StatusChanged(
                job_id=job_id, writer=writer, seq=1, status=Status.STARTED, previous=Status.NEW
            )
        )
    ]
    for c in range(CHUNKS):
        first = c * LINES + 1
        lines = [
            {"n": n, "at": _AT, "stream": "stdout", "text": f"line {n:07d} " + "x" * 80}
            for n in range(first, first + LINES)
        ]
        value = encode_log_appended(job_id, writer, c + 2, lines)
        events.append(Message(value, key=job_id, headers={"type": "LogAppended"}))
    done = Completed(
        job_id=job_id,
        writer=writer,
        seq=CHUNKS + 2,
        success=True,
        status=Status.SUCCEEDED,
        lines=LINES * CHUNKS,
        bytes=0,
    )
    events.append(to_message(done))
    return jobs, events, sum(len(m.value) for m in jobs + events)


async def write_backlog(path: Path, size: int) -> tuple[int, int]:
    """A backlog of at least `size` bytes of values; (records, bytes) written."""
    written = records = 0
    async with EmbeddedLog(path, partitions=4) as log:
        while written < size:
            jobs: list[Message] = []
            events: list[Message] = []
            for _ in range(20):
                j, e, n = _job()
                jobs += j
                events += e
                written += n
            await log.append(TOPICS.jobs, jobs)
            await log.append(TOPICS.events, events)
            records += len(jobs) + len(events)
    return records, written


async def project(log_path: Path, views_path: Path) -> dict[str, float]:
    """What `jobstream project` does first, in this process: catch the views up."""
    from jobstream.projections.host import ViewsHost
    from jobstream.projections.views import DuckDBViews

    async with EmbeddedLog(log_path, partitions=4) as log:
        views = DuckDBViews.open(views_path)
        host = ViewsHost(log, views, TOPICS.views)
        try:
            started = time.perf_counter()
            applied = await host.run_until_caught_up()
            seconds = time.perf_counter() - started
        finally:
            await host.close()
            views.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"records": applied, "seconds": seconds, "peak_rss": peak}


def measure(gib: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        records, size = asyncio.run(write_backlog(root / "log.sqlite", int(gib * (1 << 30))))
        print(
            f"{gib:g} GiB: wrote {records:,} records, {size / (1 << 30):.2f} GiB of values, "
            f"in {time.perf_counter() - started:.0f}s",
            flush=True,
        )
        out = subprocess.run(
            [sys.executable, __file__, "--project", str(root / "log.sqlite"), str(root / "v.db")],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout)
        print(
            f"{gib:g} GiB: caught up {result['records']:,} records in {result['seconds']:.0f}s "
            f"({size / result['seconds'] / (1 << 20):.0f} MiB/s); "
            f"peak RSS {result['peak_rss'] / (1 << 20):.0f} MiB",
            flush=True,
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--project"]:
        print(json.dumps(asyncio.run(project(Path(sys.argv[2]), Path(sys.argv[3])))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gib", type=float, nargs="*", default=[1, 2])
    for gib in parser.parse_args().gib:
        measure(gib)
