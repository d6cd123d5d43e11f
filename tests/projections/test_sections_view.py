"""`job_stages` and `job_steps`: a real run's stage and step events, projected, replayed,
deduplicated, and ended by a lease keeper; and files of an older layout refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from jobstream.dispatcher.notifier import EventNotifier
from jobstream.events.documents.models import JobDocument
from jobstream.events.errors import ViewsOutdated
from jobstream.events.log.base import Message, Record, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.testing import read_exactly
from jobstream.events.models import (
    Completed,
    StageStarted,
    Status,
    StatusChanged,
    StepStarted,
)
from jobstream.projections import queries
from jobstream.projections.host import ViewsHost
from jobstream.projections.replay import replay, verify
from jobstream.projections.views import DuckDBViews
from jobstream.runners.executor import Runner

from .projections_support import at, run_events, submitted

TOPICS = ["jobs", "job-events"]

DOCUMENT = {
    "name": "sections",
    "stages": [
        {"name": "build", "steps": [{"action": "command", "cmd": "echo compiling"}]},
        {
            "name": "test",
            "steps": [
                {"action": "command", "cmd": "echo testing"},
                {"action": "command", "cmd": "exit 3"},
            ],
        },
        {"name": "report", "steps": [{"action": "log", "message": "tests failed"}]},
    ],
    "sequence": [{"stage": "build"}, {"stage": "test", "on_failure": "report"}],
}


async def run_job(log: EmbeddedLog, tmp_path: Path, job_id: str) -> None:
    """The job, run for real, its events on the log as a worker writes them."""
    await log.append("jobs", [to_message(submitted(job_id))])
    runner = Runner(workspace_root=tmp_path / "ws")
    notifier = EventNotifier(log, "job-events", job_id, "attempt-1")
    await runner.run(job_id, JobDocument.model_validate(DOCUMENT), notifier)


async def project(log: EmbeddedLog, path: Path, *, batch: int = 20_000) -> None:
    views = DuckDBViews.open(path)
    host = ViewsHost(log, views, TOPICS, batch=batch)
    try:
        await host.run_until_caught_up()
    finally:
        await host.close()
        views.close()


def sections(path: Path, job_id: str) -> tuple[list, list]:
    views = DuckDBViews.open(path)
    try:
        return queries.job_sections(views.conn, job_id)
    finally:
        views.close()


async def test_a_run_is_projected_and_replay_rebuilds_it_row_for_row(tmp_path: Path) -> None:
    live = tmp_path / "views.duckdb"
    one_by_one = tmp_path / "one-by-one.duckdb"
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=2) as log:
        await run_job(log, tmp_path, "job-a")
        await run_job(log, tmp_path, "job-b")
        # A producer's retry: the section events again, with the seqs they had.
        records = await _events_on_the_log(log)
        again = [r for r in records if r.headers.get("type") in ("StageStarted", "StepFinished")]
        assert len(again) == 2 * (3 + 4)
        await log.append("job-events", [Message(r.value, r.key, r.headers) for r in again])
        await project(log, live)
        await project(log, one_by_one, batch=1)
        rebuilt = await replay(log, TOPICS, live)

    assert verify(live, rebuilt.path) == []
    assert verify(live, one_by_one) == []
    with duckdb.connect(str(one_by_one)) as conn:
        conn.execute("UPDATE job_steps SET exit_code = 0 WHERE job_id = 'job-b' AND step = 1")
    assert any("job_steps: 1 row(s) in live" in p for p in verify(live, one_by_one))
    stages, steps = sections(live, "job-a")
    assert [(s.stage, s.name, s.status) for s in stages] == [
        (0, "build", "SUCCEEDED"),
        (1, "test", "FAILED"),
        (2, "report", "SUCCEEDED"),
    ]
    assert [(s.stage, s.step, s.title, s.status, s.exit_code) for s in steps] == [
        (0, 0, "echo compiling", "SUCCEEDED", 0),
        (1, 0, "echo testing", "SUCCEEDED", 0),
        (1, 1, "exit 3", "FAILED", 3),
        (2, 0, "log", "SUCCEEDED", None),
    ]
    assert all(s.finished_at is not None and s.duration_s is not None for s in [*stages, *steps])
    assert all(s.started_at <= s.finished_at for s in [*stages, *steps])  # type: ignore[operator]

    views = DuckDBViews.open(live)
    try:
        texts = {line.n: line.text for line in queries.log_range(views.conn, "job-a", 1, 100)}
    finally:
        views.close()
    test = stages[1]
    assert texts[test.first_line] == "==> stage test"
    assert texts[test.last_line] == "==> failed: stage 'test' step 2 (command): exit code 3"
    failing = steps[2]
    assert [texts[n] for n in range(failing.first_line, failing.last_line + 1)] == [
        "$ exit 3",
        "==> exit code 3",
    ]


async def test_a_job_ended_by_the_lease_keeper_ends_its_open_sections(tmp_path: Path) -> None:
    path = tmp_path / "views.duckdb"
    writer = "attempt-lost"
    events = [
        StatusChanged(job_id="j", writer=writer, seq=1, at=at(1), status=Status.STARTED),
        StageStarted(job_id="j", writer=writer, seq=2, at=at(2), stage=0, name="b", first_line=1),
        StepStarted(
            job_id="j",
            writer=writer,
            seq=3,
            at=at(3),
            stage=0,
            step=0,
            action="command",
            title="make",
            first_line=2,
        ),
    ]
    keeper = [
        StatusChanged(job_id="j", writer="lease-keeper", seq=1, at=at(60), status=Status.FAILED),
        Completed(
            job_id="j",
            writer="lease-keeper",
            seq=2,
            at=at(60),
            success=False,
            status=Status.FAILED,
            ended_at=at(60),
            lines=0,
            bytes=0,
        ),
    ]
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=1) as log:
        await log.append("job-events", [to_message(e) for e in events])
        await project(log, path)
        stages, steps = sections(path, "j")
        assert [(s.status, s.finished_at) for s in [*stages, *steps]] == [("RUNNING", None)] * 2
        await log.append("job-events", [to_message(e) for e in keeper])
        await project(log, path)
        # After Completed nothing changes, not even a late step event of the lost runner.
        late = StepStarted(
            job_id="j",
            writer=writer,
            seq=4,
            at=at(61),
            stage=0,
            step=1,
            action="command",
            title="late",
            first_line=2,
        )
        await log.append("job-events", [to_message(late)])
        await project(log, path)
    stages, steps = sections(path, "j")
    assert [(s.status, s.finished_at) for s in [*stages, *steps]] == [("FAILED", at(60))] * 2
    assert stages[0].duration_s == (at(60) - at(2)).total_seconds()
    assert steps[0].duration_s == timedelta(seconds=57).total_seconds()


async def test_a_log_without_section_events_has_no_sections(tmp_path: Path) -> None:
    path = tmp_path / "views.duckdb"
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=1) as log:
        await log.append("job-events", [to_message(e) for e in run_events("old")])
        await project(log, path)
    assert sections(path, "old") == ([], [])


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ("DROP TABLE job_steps", "table job_steps"),
        ("ALTER TABLE job_stages DROP COLUMN last_line", "job_stages.last_line"),
    ],
)
def test_views_without_the_section_tables_are_outdated(
    tmp_path: Path, change: str, missing: str
) -> None:
    path = tmp_path / "views.duckdb"
    DuckDBViews.open(path).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute(change)
    with pytest.raises(ViewsOutdated) as raised:
        DuckDBViews.open(path)
    assert raised.value.missing == [missing]
    assert f"has no {missing}" in str(raised.value)


async def _events_on_the_log(log: EmbeddedLog) -> list[Record]:
    count = sum((await log.ends(["job-events"])).values())
    async with log.consumer(["job-events"], start="earliest") as consumer:
        return await read_exactly(consumer, count)
