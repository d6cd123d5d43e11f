"""For the browser tests and `bench/page.py`: the system Chromium under Playwright, and big
logs written to the event log directly (a 100,000-line job through a sandbox would take
minutes; the page cannot tell the difference)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobstream.events.log.base import Message, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import (
    Completed,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from jobstream.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHUNK = 5_000  # lines per LogAppended
WRITER = "attempt-web"

_DOCUMENT = {
    "name": "big",
    "sequence": [{"stage": "build"}],
    "stages": [{"name": "build", "steps": [{"action": "command", "cmd": "make test"}]}],
}


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless browser (Playwright's launch on the system Chromium)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def text_of(n: int) -> str:
    """Line n's text: every 10th line coloured, so the page's ANSI path is measured too."""
    if n % 10 == 0:
        return f"\x1b[32mline {n:07d}\x1b[0m " + "x" * 60
    return f"line {n:07d} " + "x" * 68


class BigJob:
    """One job written to `settings`' log as events: submitted "local" (no worker runs
    it), STARTED, then its lines as they are appended, then Completed if asked."""

    def __init__(
        self,
        settings: Settings,
        *,
        name: str = "big",
        labels: dict[str, str] | None = None,
        at: datetime | None = None,
        retry_of: str | None = None,
    ) -> None:
        self.settings = settings
        self.retry_of = retry_of
        self.job_id = uuid.uuid4().hex
        self.name = name
        self.labels = labels or {}
        self.at = at or datetime.now(UTC)
        self.seq = 0
        self.lines = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def start(self) -> BigJob:
        write(self.settings, *self.started())
        return self

    def started(self) -> tuple[list[Message], list[Message]]:
        """The messages of `start`, (jobs topic, job-events topic), to write in a batch."""
        submitted = JobSubmitted(
            job_id=self.job_id,
            writer="submit",
            seq=1,
            at=self.at,
            document={**_DOCUMENT, "name": self.name},
            labels=self.labels,
            dispatch="local",
            retry_of=self.retry_of,
            attempt=2 if self.retry_of else 1,
        )
        started = StatusChanged(
            job_id=self.job_id,
            writer=WRITER,
            seq=self._next(),
            at=self.at,
            status=Status.STARTED,
            previous=Status.WAITING,
        )
        return [to_message(submitted)], [to_message(started)]

    def append(self, count: int, *, stderr_every: int = 0) -> None:
        """`count` more lines; every `stderr_every`-th on stderr."""
        write(self.settings, [], self.appended(count, stderr_every=stderr_every))

    def appended(self, count: int, *, stderr_every: int = 0) -> list[Message]:
        """The job-events messages of `append`."""
        events: list[Message] = []
        at = datetime.now(UTC).isoformat()
        first = self.lines + 1
        for start in range(first, first + count, CHUNK):
            lines = [
                LogLine(
                    n=n,
                    at=at,
                    stream="stderr" if stderr_every and n % stderr_every == 0 else "stdout",
                    text=text_of(n),
                )
                for n in range(start, min(start + CHUNK, first + count))
            ]
            event = LogAppended(job_id=self.job_id, writer=WRITER, seq=self._next(), lines=lines)
            events.append(to_message(event))
        self.lines += count
        return events

    def finish(self, status: Status = Status.SUCCEEDED) -> None:
        write(self.settings, [], self.finished(status))

    def finished(self, status: Status = Status.SUCCEEDED) -> list[Message]:
        """The job-events messages of `finish`."""
        end = self.at + timedelta(seconds=42)
        events = [
            StatusChanged(
                job_id=self.job_id,
                writer=WRITER,
                seq=self._next(),
                at=end,
                status=status,
                previous=Status.STARTED,
            ),
            Completed(
                job_id=self.job_id,
                writer=WRITER,
                seq=self._next(),
                at=end,
                ended_at=end,
                success=status is Status.SUCCEEDED,
                status=status,
                lines=self.lines,
                bytes=self.lines * 81,
            ),
        ]
        return [to_message(e) for e in events]


def write(settings: Settings, on_jobs: list[Message], on_events: list[Message]) -> None:
    """Append to `settings`' log, in a thread of its own: Playwright's sync API keeps an
    event loop in the test's."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _write(settings, on_jobs, on_events)).result()


async def _write(settings: Settings, on_jobs: list[Message], on_events: list[Message]) -> None:
    async with EmbeddedLog(settings.log_path, partitions=settings.partitions) as log:
        if on_jobs:
            await log.append(settings.topics.jobs, on_jobs)
        if on_events:
            await log.append(settings.topics.events, on_events)


def ended_jobs(settings: Settings, specs: list[dict[str, Any]]) -> list[BigJob]:
    """Jobs without lines, started and ended, written in one batch: `specs` are BigJob's
    keywords plus `status`."""
    jobs, on_jobs, on_events = [], [], []
    for spec in specs:
        status = spec.pop("status", Status.SUCCEEDED)
        job = BigJob(settings, **spec)
        submitted, started = job.started()
        on_jobs += submitted
        on_events += started + job.finished(status)
        jobs.append(job)
    write(settings, on_jobs, on_events)
    return jobs


def finished_job(
    settings: Settings,
    lines: int,
    *,
    stderr_every: int = 0,
    status: Status = Status.SUCCEEDED,
    **kwargs: Any,
) -> BigJob:
    """A job that ran and ended with `lines` lines."""
    job = BigJob(settings, **kwargs).start()
    job.append(lines, stderr_every=stderr_every)
    job.finish(status)
    return job
