"""Replay throughput of the DuckDB views (not a test).

Writes 2,000 jobs x 55 events (1 JobSubmitted, 3 StatusChanged, 50 LogAppended of 20 lines,
1 Completed) into an embedded log in a temporary directory, replays them into new views and
prints events/s. Run: .venv/bin/python bench/replay_views.py [jobs]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.codec import to_message
from events.embedded import EmbeddedLog
from events.log import Message
from events.models import Completed, JobSubmitted, LogAppended, LogLine, Status, StatusChanged
from projections.replay import replay, verify

TOPICS = ["jobs", "job-events"]
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def job_events(i: int) -> tuple[Message, list[Message]]:
    job_id = f"{i:08x}" + "0" * 24
    writer = f"run-{i}"
    submit = JobSubmitted(
        job_id=job_id,
        writer=f"submit-{i}",
        seq=1,
        at=T0,
        document={"name": f"job-{i % 50}", "sequence": [{"stage": "build"}]},
        labels={"team": f"t{i % 7}"},
    )
    events: list = [
        StatusChanged(job_id=job_id, writer=writer, seq=1, status=Status.WAITING),
        StatusChanged(job_id=job_id, writer=writer, seq=2, status=Status.STARTED, stage="build"),
    ]
    n = 0
    for chunk in range(50):
        lines = []
        for _ in range(20):
            n += 1
            at = (T0 + timedelta(milliseconds=n)).isoformat()
            lines.append(LogLine(n=n, at=at, stream="stdout", text=f"step {chunk} output {n:>6}"))
        events.append(LogAppended(job_id=job_id, writer=writer, seq=3 + chunk, lines=lines))
    events.append(StatusChanged(job_id=job_id, writer=writer, seq=53, status=Status.SUCCEEDED))
    events.append(
        Completed(
            job_id=job_id,
            writer=writer,
            seq=54,
            success=True,
            status=Status.SUCCEEDED,
            lines=n,
            bytes=0,
        )
    )
    return to_message(submit), [to_message(e) for e in events]


async def main(jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with EmbeddedLog(root / "log.sqlite", partitions=4) as log:
            started = time.perf_counter()
            for first in range(0, jobs, 100):
                submits, events = [], []
                for i in range(first, min(first + 100, jobs)):
                    submit, rest = job_events(i)
                    submits.append(submit)
                    events.extend(rest)
                await log.append("jobs", submits)
                await log.append("job-events", events)
            print(f"wrote {jobs * 55:,} events in {time.perf_counter() - started:.1f}s")

            def show(events: int, seconds: float) -> None:
                print(f"\r{events:>9,} events {events / seconds:>9,.0f}/s", end="", flush=True)

            result = await replay(log, TOPICS, root / "views.duckdb", progress=show)
            print()
            print(
                f"replayed {result.events:,} events in {result.seconds:.2f}s: "
                f"{result.events_per_s:,.0f} events/s"
            )
            again = await replay(log, TOPICS, root / "other.duckdb")
            print(
                f"second replay {again.events_per_s:,.0f} events/s; verify:",
                verify(result.path, again.path) or "equal",
            )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
