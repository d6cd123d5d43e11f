from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from jobstream.events.codec import encode
from jobstream.events.errors import ViewsBusy, ViewsOutdated
from jobstream.events.log.base import Record, TopicPartition
from jobstream.events.models import (
    CancelRequested,
    Completed,
    Heartbeat,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)
from jobstream.projections import queries
from jobstream.projections.replay import verify
from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets, at, run_events, submitted


def test_apply_writes_rows_lines_and_checkpoints(views: DuckDBViews, offsets: Offsets) -> None:
    views.apply(
        offsets.records("jobs", [submitted("j1"), CancelRequested(job_id="j1", writer="c", seq=1)])
    )
    views.apply(offsets.records("job-events", run_events("j1", lines=4)))
    job = queries.get_job(views.conn, "j1")
    assert job.status is Status.SUCCEEDED and job.lines == 4 and job.name == "build"
    assert [line.text for line in queries.log_range(views.conn, "j1")] == ["l1", "l2", "l3", "l4"]
    assert views.positions() == {
        TopicPartition("jobs", 0): 2,
        TopicPartition("job-events", 0): 5,
    }


def test_a_record_applied_twice_is_skipped(views: DuckDBViews, offsets: Offsets) -> None:
    records = offsets.records("job-events", run_events("j1", lines=4))
    views.apply(records[:3])
    views.apply(records)
    assert queries.get_job(views.conn, "j1").lines == 4
    assert views.conn.execute("SELECT count(*) FROM log_lines").fetchone() == (4,)


def test_a_failed_batch_leaves_neither_rows_nor_checkpoint(
    views: DuckDBViews, offsets: Offsets
) -> None:
    views.apply(offsets.records("job-events", run_events("j1")[:1]))
    # A real failure half-way (after the job rows are written): the line insert no longer
    # matches its table.
    views.conn.execute("ALTER TABLE log_lines ADD COLUMN extra INTEGER NOT NULL")
    rest = offsets.records("job-events", run_events("j1")[1:])
    with pytest.raises(duckdb.Error):
        views.apply(rest)
    assert queries.get_job(views.conn, "j1").status is Status.WAITING
    assert views.positions() == {TopicPartition("job-events", 0): 1}
    assert views.conn.execute("SELECT count(*) FROM other_writers WHERE seq > 1").fetchone() == (0,)
    assert queries.get_job(views.conn, "j1").last_seq == 1


def test_after_a_failed_batch_the_views_are_read_again(
    views: DuckDBViews, offsets: Offsets
) -> None:
    # The rows kept in memory from batch to batch are those committed: a batch rolled back
    # must not leave its rows there, nor its checkpoint.
    views.apply(offsets.records("job-events", run_events("j1")[:1]))
    views.conn.execute("ALTER TABLE log_lines ADD COLUMN extra INTEGER")
    views.conn.execute("ALTER TABLE log_lines ALTER COLUMN extra SET NOT NULL")
    rest = offsets.records("job-events", run_events("j1")[1:])
    with pytest.raises(duckdb.Error):
        views.apply(rest)
    views.conn.execute("ALTER TABLE log_lines DROP COLUMN extra")
    views.apply(rest)
    job = queries.get_job(views.conn, "j1")
    assert job.status is Status.SUCCEEDED and job.lines == 3 and job.completed
    assert views.positions() == {TopicPartition("job-events", 0): 5}


def test_record_by_record_gives_the_rows_of_one_batch(tmp_path: Path) -> None:
    # One record per apply: rows kept in memory, only changed columns written, a finished
    # job let go and read again when its retry links it; as one batch: all read and upserted.
    events = [
        ("jobs", submitted("j1")),
        *[("job-events", e) for e in run_events("j1")],
        ("jobs", submitted("j2").model_copy(update={"retry_of": "j1", "attempt": 2})),
        *[("job-events", e) for e in run_events("j2", writer="w2", t=20)],
    ]
    paths = []
    for per_record in (True, False):
        offsets = Offsets()
        records = [offsets.record(topic, event) for topic, event in events]
        path = tmp_path / f"{per_record}.duckdb"
        views = DuckDBViews.open(path)
        for batch in [[r] for r in records] if per_record else [records]:
            views.apply(batch)
        assert queries.get_job(views.conn, "j1").retried_by == "j2"
        views.close()
        paths.append(path)
    assert verify(*paths) == []


def _lines(writer: str, seq: int, *numbers: int) -> LogAppended:
    lines = [LogLine(n=n, at=at(n).isoformat(), stream="stdout", text=f"l{n}") for n in numbers]
    return LogAppended(job_id="j1", writer=writer, seq=seq, at=at(seq), lines=lines)


def test_a_writer_taking_over_keeps_the_seqs_of_the_one_before_in_any_batches(
    tmp_path: Path,
) -> None:
    # The seq of a job's current writer lives in its row; other_writers holds the others'.
    # w1 is seen before it sets a status, then w2 takes the job over while w1 still writes:
    # w1's retries are skipped and its new lines kept, and neither keeps a row in
    # other_writers for the seqs it had before it took the job, however the events fall in
    # batches.
    events = [
        Heartbeat(job_id="j1", writer="w1", seq=1, at=at(1), lease_seconds=5, worker="x"),
        StatusChanged(job_id="j1", writer="w1", seq=2, at=at(2), status=Status.STARTED),
        _lines("w1", 3, 1, 2),
        Heartbeat(job_id="j1", writer="w2", seq=1, at=at(3), lease_seconds=5, worker="y"),
        StatusChanged(job_id="j1", writer="w2", seq=2, at=at(4), status=Status.STARTED),
        _lines("w1", 3, 1, 2),
        StatusChanged(job_id="j1", writer="w1", seq=2, at=at(2), status=Status.WAITING),
        _lines("w1", 4, 3),
        StatusChanged(job_id="j1", writer="w2", seq=2, at=at(4), status=Status.STARTED),
        Completed(
            job_id="j1",
            writer="w2",
            seq=3,
            at=at(9),
            success=True,
            status=Status.SUCCEEDED,
            ended_at=at(9),
            lines=3,
            bytes=6,
        ),
    ]
    paths = []
    for cut in [*range(len(events) + 1), None]:
        records = Offsets().records("job-events", events)
        batches = [[r] for r in records] if cut is None else [records[:cut], records[cut:]]
        path = tmp_path / f"{cut}.duckdb"
        views = DuckDBViews.open(path)
        for batch in batches:
            views.apply(batch)
        job = queries.get_job(views.conn, "j1")
        assert (job.status, job.writer, job.last_seq, job.lines) == (Status.SUCCEEDED, "w2", 3, 3)
        held = views.conn.execute("SELECT job_id, writer, seq FROM other_writers").fetchall()
        assert held == [("j1", "w1", 4)], cut
        views.close()
        paths.append(path)
    for path in paths[1:]:
        assert verify(paths[0], path) == [], path


def test_views_with_the_applied_table_of_every_writer_are_outdated(tmp_path: Path) -> None:
    # Its rows of current writers would stay, where a replay builds none: replay first.
    path = tmp_path / "views.duckdb"
    DuckDBViews.open(path).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("ALTER TABLE other_writers RENAME TO applied")
    with pytest.raises(ViewsOutdated) as raised:
        DuckDBViews.open(path)
    assert raised.value.missing == ["table other_writers"]


def test_garbage_goes_to_dead_letters_and_the_rest_applies(
    views: DuckDBViews, offsets: Offsets
) -> None:
    records = [
        offsets.record("jobs", submitted("j1")),
        offsets.record("jobs", b"\xff\xfenot json"),
        offsets.record("jobs", b'{"type": "Exploded", "job_id": "j1"}'),
        offsets.record("jobs", submitted("j2")),
    ]
    views.apply(records)
    dead = queries.dead_letters(views.conn)
    assert [(d.topic, d.offset) for d in dead] == [("jobs", 1), ("jobs", 2)]
    assert dead[0].value == b"\xff\xfenot json" and dead[1].error
    assert queries.count_jobs(views.conn) == 2
    assert views.positions() == {TopicPartition("jobs", 0): 4}


def test_another_process_holding_the_file_raises_views_busy(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True);"
            " sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        with pytest.raises(ViewsBusy) as caught:
            DuckDBViews.open(path)
        assert str(holder.pid) in caught.value.holder
    finally:
        holder.communicate("")
    DuckDBViews.open(path).close()


def test_reopening_keeps_rows_and_positions(tmp_path: Path, offsets: Offsets) -> None:
    path = tmp_path / "v.duckdb"
    views = DuckDBViews.open(path)
    views.apply(offsets.records("job-events", run_events("j1")))
    views.close()
    views = DuckDBViews.open(path)
    assert views.positions() == {TopicPartition("job-events", 0): 5}
    assert queries.get_job(views.conn, "j1").completed
    views.close()


def test_a_retry_links_both_rows_and_the_newest_retry_wins_in_any_order(tmp_path: Path) -> None:
    # Two retries of j1, in partitions read in either order: the later submitted one is
    # `retried_by`, and each row knows where its JobSubmitted sits.
    original = submitted("j1", t=0)
    first = submitted("r1", t=5).model_copy(update={"retry_of": "j1", "attempt": 2})
    second = submitted("r2", t=9).model_copy(update={"retry_of": "j1", "attempt": 2})
    records = [
        Record("jobs", 0, 0, "j1", encode(original), {}, 0),
        Record("jobs", 1, 0, "r2", encode(second), {}, 0),
        Record("jobs", 2, 0, "r1", encode(first), {}, 0),
    ]
    for name, order in (("a", records), ("b", records[::-1])):
        views = DuckDBViews.open(tmp_path / f"{name}.duckdb")
        for record in order:
            views.apply([record])
        j1, r1 = queries.get_job(views.conn, "j1"), queries.get_job(views.conn, "r1")
        assert (j1.retried_by, j1.retried_at, j1.retry_of) == ("r2", second.at, None)
        assert (r1.retry_of, r1.retried_by, r1.attempt) == ("j1", None, 2)
        assert (j1.name, j1.submitter) == ("build", "alice")
        assert [(r.submitted_partition, r.submitted_offset) for r in (j1, r1)] == [(0, 0), (2, 0)]
        views.close()
