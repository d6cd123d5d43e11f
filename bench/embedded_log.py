"""Throughput of the embedded log, outside the test suite.

Appends 110,000 events of about 300 bytes in batches of 1,000 (one transaction each), then
reads them all back with one consumer, and prints events/s for both.

usage: .venv/bin/python bench/embedded_log.py [EVENTS] [BATCH]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from jobstream.events.log.base import Message
from jobstream.events.log.embedded import EmbeddedLog


def _events(count: int) -> list[Message]:
    # About 300 bytes, shaped like a LogAppended event, keyed by one of 50 job ids.
    return [
        Message(
            (
                f'{{"type":"LogAppended","job_id":"job-{i % 50:04d}","seq":{i},"lines":"'.encode()
                + b"x" * 240
                + b'"}'
            ),
            key=f"job-{i % 50:04d}",
            headers={"type": "LogAppended"},
        )
        for i in range(count)
    ]


async def main(count: int, batch: int) -> None:
    messages = _events(count)
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedLog(Path(tmp) / "events.db") as log:
            began = time.perf_counter()
            for i in range(0, count, batch):
                await log.append("job-events", messages[i : i + batch])
            appended = time.perf_counter() - began

            async with log.consumer(["job-events"], start="earliest") as consumer:
                began = time.perf_counter()
                read = 0
                while read < count:
                    read += len(await consumer.getmany(max_records=batch, timeout=1.0))
                replayed = time.perf_counter() - began

    size = len(messages[0].value)
    print(f"{count} events of {size} bytes, batches of {batch}")
    print(f"append: {count / appended:,.0f} events/s ({appended:.2f} s)")
    print(f"read:   {count / replayed:,.0f} events/s ({replayed:.2f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("events", type=int, nargs="?", default=110_000)
    parser.add_argument("batch", type=int, nargs="?", default=1_000)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.batch))
