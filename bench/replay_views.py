"""Throughput of the DuckDB views (not a test).

Writes the shared workload (`bench.workload`: 2,000 jobs x 55 events, 50 LogAppended of 20
lines each per job) into an embedded log in a temporary directory, then prints events/s for

- replay: `projections.replay.replay` through the embedded log (read + apply), twice, and
  `verify` that both builds are equal;
- apply only: the same records read into memory first, then `DuckDBViews.apply` in batches;
- a million-line job's shape: 1,000 LogAppended of 1,000 lines each through `apply`.

usage: .venv/bin/python bench/replay_views.py [JOBS] [BATCH]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.workload import workload  # noqa: E402
from jobstream.events.log.base import Record, to_message  # noqa: E402
from jobstream.events.log.embedded import EmbeddedLog  # noqa: E402
from jobstream.events.models import LogAppended, LogLine  # noqa: E402
from jobstream.events.names import Topics  # noqa: E402
from jobstream.projections.replay import replay, verify  # noqa: E402
from jobstream.projections.views import DuckDBViews  # noqa: E402

TOPICS = Topics()


async def _read_all(log: EmbeddedLog, batch: int) -> list[Record]:
    records: list[Record] = []
    ends = sum((await log.ends(TOPICS.all)).values())
    async with log.consumer(TOPICS.all, group=None, start="earliest") as consumer:
        while len(records) < ends:
            records.extend(await consumer.getmany(batch, timeout=1.0))
    return records


def _apply_all(path: Path, records: list[Record], batch: int) -> float:
    views = DuckDBViews.open(path)
    try:
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            views.apply(records[i : i + batch])
        return time.perf_counter() - started
    finally:
        views.close()


def _big_job(chunks: int = 1_000, lines: int = 1_000) -> list[Record]:
    records = []
    for c in range(chunks):
        first = c * lines + 1
        chunk = [
            LogLine(
                n=n,
                at="2026-11-28T00:00:00.123456Z",
                stream="stdout",
                text=f"line {n:07d} " + "x" * 68,
            )
            for n in range(first, first + lines)
        ]
        event = LogAppended(job_id="big", writer="w", seq=c + 1, lines=chunk)
        message = to_message(event)
        records.append(Record("job-events", 0, c, "big", message.value, message.headers, 0))
    return records


async def main(jobs: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        async with EmbeddedLog(root / "log.sqlite", partitions=4) as log:
            started = time.perf_counter()
            count = 0
            for topic, messages in workload(TOPICS, jobs):
                await log.append(topic, messages)
                count += len(messages)
            print(f"wrote {count:,} events in {time.perf_counter() - started:.1f}s; batch {batch}")

            result = await replay(log, TOPICS.all, root / "views.duckdb", batch=batch)
            print(
                f"replay:     {result.events:,} events in {result.seconds:.2f}s: "
                f"{result.events_per_s:,.0f} events/s"
            )
            again = await replay(log, TOPICS.all, root / "other.duckdb", batch=batch)
            print(
                f"replay 2:   {again.events_per_s:,.0f} events/s; verify:",
                verify(result.path, again.path) or "equal",
            )
            records = await _read_all(log, batch)

        seconds = _apply_all(root / "apply.duckdb", records, batch)
        print(
            f"apply only: {len(records):,} events in {seconds:.2f}s: "
            f"{len(records) / seconds:,.0f} events/s"
        )
        big = _big_job()
        seconds = _apply_all(root / "big.duckdb", big, batch)
        print(f"1,000 events x 1,000 lines: {seconds:.2f}s ({1_000_000 / seconds:,.0f} lines/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("jobs", type=int, nargs="?", default=2000)
    parser.add_argument("batch", type=int, nargs="?", default=20_000)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.batch))
