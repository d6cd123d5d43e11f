"""LogAppended records take DuckDB's fast path; it must give exactly the rows, and the dead
letters, that the pydantic path gives. Every test runs on both: the fast path taken from the
first byte, and never."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.codec import encode
from jobstream.events.log.base import Record
from jobstream.events.models import Completed, LogAppended, LogLine, Status, StatusChanged
from jobstream.projections import queries
from jobstream.projections.fold import fold
from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets, at, run_events, submitted


@pytest.fixture(params=[0, 1 << 40], ids=["fast path", "pydantic path"])
def views(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DuckDBViews]:
    v = DuckDBViews.open(tmp_path / "views.duckdb", fast_path_bytes=request.param)
    yield v
    v.close()


def _chunk(seq: int, numbers: list[int], *, writer: str = "w1", job_id: str = "j1"):
    lines = [LogLine(n=n, at=at(n).isoformat(), stream="stdout", text=f"é{n}") for n in numbers]
    return LogAppended(job_id=job_id, writer=writer, seq=seq, lines=lines)


def _typed(offsets: Offsets, topic: str, events: list) -> list[Record]:
    """Records with the `type` header, as the log's producers write them."""
    records = offsets.records(topic, events)
    return [
        Record(r.topic, r.partition, r.offset, r.key, r.value, {"type": e.type}, 0)
        if not isinstance(e, bytes)
        else r
        for r, e in zip(records, events, strict=True)
    ]


def _lines(views: DuckDBViews) -> list[tuple]:
    return views.conn.execute(
        'SELECT job_id, n, "at", stream, text FROM log_lines ORDER BY job_id, n'
    ).fetchall()


@pytest.mark.parametrize("header", [True, False])
def test_fast_path_gives_the_rows_of_the_fold(
    views: DuckDBViews, offsets: Offsets, header: bool
) -> None:
    events = [
        *run_events("j1", lines=5)[:3],
        _chunk(4, [6, 7, 8]),
        _chunk(4, [6, 7, 8]),  # a producer's retry
        _chunk(1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], writer="w2"),  # overlaps: only 9, 10 new
        _chunk(5, [11, 12]),
        *run_events("j1", lines=5)[3:4],
        Completed(
            job_id="j1",
            writer="w1",
            seq=6,
            success=True,
            status=Status.SUCCEEDED,
            lines=12,
            bytes=0,
        ),
        _chunk(7, [13]),  # after Completed: ignored
    ]
    records = (_typed if header else Offsets.records)(offsets, "job-events", events)
    views.apply(records[:4])
    views.apply(records[4:])
    expected = fold({}, {}, events)
    job = queries.get_job(views.conn, "j1")
    want = expected.jobs["j1"]
    assert (job.lines, job.bytes, job.last_line, job.status, job.completed) == (
        want.lines,
        want.bytes,
        want.last_line,
        want.status,
        want.completed,
    )
    assert (job.lines, job.last_line) == (12, 12)
    assert [row[1] for row in _lines(views)] == expected.lines.n == list(range(1, 13))
    assert [row[4] for row in _lines(views)] == expected.lines.text


def test_out_of_order_lines_take_the_pydantic_path(views: DuckDBViews, offsets: Offsets) -> None:
    events = [_chunk(1, [1, 2, 3]), _chunk(2, [5, 4, 6]), _chunk(3, [6, 7, 7, 8])]
    views.apply(_typed(offsets, "job-events", events))
    expected = fold({}, {}, events)
    assert [row[1] for row in _lines(views)] == sorted(expected.lines.n) == [1, 2, 3, 5, 6, 7, 8]
    job = queries.get_job(views.conn, "j1")
    assert (job.lines, job.bytes) == (expected.jobs["j1"].lines, expected.jobs["j1"].bytes)


@pytest.mark.parametrize(
    "numbers",
    [[7, 9, 8], [7, 8, 8], [9, 7, 8], [7, 8, 9, 3, 10]],
    ids=["last not highest", "repeated last", "first not lowest", "drop inside"],
)
def test_every_pair_of_lines_is_checked_for_order(
    views: DuckDBViews, offsets: Offsets, numbers: list[int]
) -> None:
    """The fast path checks each line against the one before it: a chunk out of order
    anywhere is folded line by line, as pydantic's path does."""
    events = [_chunk(1, [1, 2, 3]), _chunk(2, numbers), _chunk(3, [20, 30, 31])]
    views.apply(_typed(offsets, "job-events", events))
    expected = fold({}, {}, events)
    assert [row[1] for row in _lines(views)] == sorted(expected.lines.n)
    job = queries.get_job(views.conn, "j1")
    want = expected.jobs["j1"]
    assert (job.lines, job.bytes, job.last_line) == (want.lines, want.bytes, want.last_line)


def _raw(**changes: object) -> bytes:
    event = json.loads(encode(_chunk(2, [3, 4])))
    for key, value in changes.items():
        if key.startswith("line_"):
            event["lines"][0][key[5:]] = value
        elif value is ...:
            del event[key]
        else:
            event[key] = value
    return json.dumps(event).encode()


BAD = {
    "not json": b'{"type":"LogAppended", "lines": [',
    "not utf-8": b'{"type":"LogAppended",\xff}',
    "no job_id": _raw(job_id=...),
    "empty job_id": _raw(job_id=""),
    "numeric writer": _raw(writer=7),
    "seq 0": _raw(seq=0),
    "fractional seq": _raw(seq=2.5),
    "no lines": _raw(lines=[]),
    "lines not a list": _raw(lines={"n": 1}),
    "line without text": _raw(line_text=None),
    "numeric text": _raw(line_text=12),
    "bad stream": _raw(line_stream="stdin"),
    "line n 0": _raw(line_n=0),
    "bad event_id": _raw(event_id="nope"),
    "bad at": _raw(at="yesterday"),
}


def test_bad_log_records_are_dead_letters_and_the_rest_applies(
    views: DuckDBViews, offsets: Offsets
) -> None:
    good = [_chunk(1, [1, 2])]
    bad_records = [offsets.record("job-events", value) for value in BAD.values()]
    # A line time pydantic accepts (it is text) but DuckDB cannot read.
    unreadable = _chunk(3, [3])
    unreadable = unreadable.model_copy(
        update={"lines": [LogLine(n=3, at="soon", stream="stdout", text="x")]}
    )
    records = [
        *_typed(offsets, "job-events", good),
        *[
            Record(r.topic, r.partition, r.offset, r.key, r.value, {"type": "LogAppended"}, 0)
            for r in bad_records
        ],
        *_typed(offsets, "job-events", [unreadable, _chunk(4, [4, 5])]),
    ]
    # the offsets of the bad records follow the good one: renumber in order
    records = [
        Record(r.topic, r.partition, k, r.key, r.value, r.headers, 0) for k, r in enumerate(records)
    ]
    views.apply(records)
    dead = queries.dead_letters(views.conn)
    assert [d.offset for d in dead] == list(range(1, len(BAD) + 2))
    assert all(d.error for d in dead)
    assert "at" in dead[-1].error
    assert [row[1] for row in _lines(views)] == [1, 2, 4, 5]
    job = queries.get_job(views.conn, "j1")
    assert (job.lines, job.last_line) == (4, 5)
    assert views.conn.execute("SELECT seq FROM other_writers").fetchall() == [(4,)]


def test_a_status_between_chunks_keeps_log_order(views: DuckDBViews, offsets: Offsets) -> None:
    events = [
        StatusChanged(job_id="j1", writer="w1", seq=1, status=Status.STARTED),
        _chunk(2, [1]),
        StatusChanged(job_id="j1", writer="w2", seq=1, status=Status.STARTED),
        _chunk(3, [2]),
        _chunk(2, [1, 2, 3], writer="w2"),
    ]
    views.apply(_typed(offsets, "job-events", [submitted("j1"), *events][1:]))
    job = queries.get_job(views.conn, "j1")
    assert (job.writer, job.last_seq, job.lines) == ("w2", 2, 3)
    assert [row[1] for row in _lines(views)] == [1, 2, 3]
