from __future__ import annotations

from pathlib import Path

from jobstream.events.log.base import Message, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.projections.host import ViewsHost
from jobstream.projections.replay import replay, replay_path, swap, verify
from jobstream.projections.views import DuckDBViews

from .projections_support import run_events, submitted

TOPICS = ["jobs", "job-events"]


async def _fill(log: EmbeddedLog, jobs: int) -> None:
    for i in range(jobs):
        job_id = f"job{i:03d}"
        # Job-events before the submission for some jobs: the views must not care.
        events = [to_message(e) for e in run_events(job_id, lines=30)]
        if i % 2:
            await log.append("job-events", events)
            await log.append("jobs", [to_message(submitted(job_id, t=i))])
        else:
            await log.append("jobs", [to_message(submitted(job_id, t=i))])
            await log.append("job-events", events[:2])
            await log.append("job-events", events[:3])  # a producer's retry
            await log.append("job-events", events[3:])
    await log.append("jobs", [Message(b"garbage", key="job000")])


async def test_replay_equals_the_live_views_and_verify_sees_a_change(tmp_path: Path) -> None:
    live_path = tmp_path / "views.duckdb"
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=3) as log:
        await _fill(log, 20)
        live = DuckDBViews.open(live_path)
        host = ViewsHost(log, live, TOPICS, batch=7)
        await host.run_until_caught_up()
        await host.close()
        live.close()

        seen: list[int] = []
        result = await replay(log, TOPICS, live_path, progress=lambda n, s: seen.append(n))
    assert result.path == replay_path(live_path)
    assert result.events == seen[-1] > 0 and result.events_per_s > 0
    assert verify(live_path, result.path) == []

    altered = DuckDBViews.open(result.path)
    altered.conn.execute("UPDATE job_records SET status = 'FAILED' WHERE job_id = 'job003'")
    altered.conn.execute("DELETE FROM log_lines WHERE job_id = 'job004' AND n = 7")
    altered.close()
    problems = verify(live_path, result.path)
    assert any("job_records: 1 row(s) in live" in p for p in problems)
    assert any("log_lines: 1 row(s) in live but not in rebuilt" in p for p in problems)

    swap(result.path, live_path)
    assert not result.path.exists()
    views = DuckDBViews.open(live_path)
    assert views.conn.execute(
        "SELECT status FROM job_records WHERE job_id = 'job003'"
    ).fetchone() == ("FAILED",)
    views.close()
