"""A question a command puts to a server (`cli.common.ask`) goes through RemoteJobs with
blocking requests and no event loop: its answers, and its errors, are those of the
asynchronous client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jobstream.cli.common import ask
from jobstream.events.documents.validation import load_document
from jobstream.events.errors import JobNotFound
from jobstream.events.models import Status
from jobstream.projections.records import JobRecord
from jobstream.service import JobsService, LogPage, RemoteJobs
from jobstream.settings import Settings

from ..api.api_support import LiveServer, job_yaml


async def _answers(jobs: JobsService, job: str) -> tuple[object, ...]:
    record = await jobs.get(job[:8])
    return (
        record,
        await jobs.list(limit=5),
        await jobs.log(job, 1, 100),
        await jobs.steps(job),
        await jobs.stats(),
    )


def test_blocking_client_answers_as_the_asynchronous_one(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data") as server:

        async def submit_and_read() -> tuple[str, tuple[object, ...]]:
            async with RemoteJobs(server.url) as jobs:
                job = await jobs.submit(load_document(job_yaml("echo hello"), "job.yml"))
                await jobs.wait(job, timeout=30.0)
                return job, await _answers(jobs, job)

        job, expected = asyncio.run(submit_and_read())
        settings = Settings(data_dir=tmp_path / "data", server=server.url)

        answers = ask(settings, lambda jobs: _answers(jobs, job))

        assert answers == expected
        record, _, page, _, _ = answers
        assert isinstance(record, JobRecord) and record.status is Status.SUCCEEDED
        assert isinstance(page, LogPage) and "hello" in [line.text for line in page.lines]
        with pytest.raises(JobNotFound, match="no job id starts with 'nosuchjob'"):
            ask(settings, lambda jobs: jobs.get("nosuchjob"))
