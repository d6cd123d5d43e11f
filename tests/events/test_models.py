"""The event models: the log chunk a runner hands its Notifier, and JobSubmitted's fields."""

from __future__ import annotations

from typing import Any

import pytest

from jobstream.events.codec import decode, encode
from jobstream.events.models import JobSubmitted, LogAppended, LogChunk, LogLine

AT = "2024-01-01T00:00:00.000000Z"


def test_log_chunk_is_a_sequence_of_log_lines() -> None:
    chunk = LogChunk(5, [("stdout", AT, ["a", "b"]), ("stderr", "t2", ["c"])], 3, 3)
    assert len(chunk) == 3
    assert chunk[0] == LogLine(n=5, at=AT, stream="stdout", text="a")
    assert chunk[-1] == LogLine(n=7, at="t2", stream="stderr", text="c")
    assert [line.n for line in chunk[1:]] == [6, 7]
    assert chunk.texts == ["a", "b", "c"]
    event = LogAppended(job_id="j", writer="w", seq=1, lines=chunk)
    assert [line.text for line in event.lines] == ["a", "b", "c"]


def test_a_log_chunks_rows_and_pairs_are_its_lines() -> None:
    chunk = LogChunk(2, [("system", AT, ["$ make"]), ("stdout", "t2", ["ok", "done"])], 3, 12)
    assert chunk.rows() == [line.model_dump() for line in chunk]
    assert list(chunk.pairs()) == [(line.stream, line.text) for line in chunk]


# A JobSubmitted as the code before its typed fields wrote it (README, "Events"): replay
# reads such events from old logs.
OLD_SUBMITTED = (
    b'{"type":"JobSubmitted","event_id":"c68677c4-0d3b-4ad5-9a3e-4a43f3d2b0b1",'
    b'"job_id":"9398e75b974e4839adfe9d0108de6dd8","writer":"submit-37e5cb42c5da","seq":1,'
    b'"at":"2026-11-28T00:24:25.299566Z","v":1,'
    b'"document":{"name":"minimal","version":1.5,"retry":2,"labels":{"team":"infra","os":"x"},'
    b'"stages":[{"name":"hello","steps":[{"action":"command","cmd":"echo hello"}]}],'
    b'"sequence":[{"stage":"hello"}]},'
    b'"submitter":"anonymous","labels":{"os":"debian"},"dispatch":"queue","retry_of":null,'
    b'"attempt":1}'
)


def test_an_old_job_submitted_takes_its_fields_from_its_document() -> None:
    event = decode(OLD_SUBMITTED)
    assert isinstance(event, JobSubmitted)
    assert (event.name, event.version, event.retry) == ("minimal", "1.5", 2)
    # The document's labels under the event's own, as the submit path merges them.
    assert event.labels == {"team": "infra", "os": "debian"}


def test_a_document_without_them_gives_the_defaults() -> None:
    event = JobSubmitted(job_id="j", writer="w", seq=1, document={"sequence": []})
    assert (event.name, event.version, event.retry, event.labels) == (None, "1.0.0", 0, {})


def test_typed_fields_round_trip_and_win_over_the_document() -> None:
    event = JobSubmitted(
        job_id="j",
        writer="w",
        seq=1,
        name="typed",
        version="2",
        retry=1,
        document={"name": "other", "version": "3", "retry": 5},
    )
    data = encode(event)
    assert b'"name":"typed"' in data and b'"retry":1' in data
    assert decode(data) == event


@pytest.mark.parametrize(
    "document",
    [
        {"name": ["a"], "version": None, "retry": "twice", "labels": "x"},
        {"name": "", "version": True, "retry": -1, "labels": []},
    ],
)
def test_an_unvalidated_document_still_gives_an_event(document: dict[str, Any]) -> None:
    # Another client's document that never passed validation: the runner rejects it with
    # its problems, so decoding must not drop it.
    event = JobSubmitted(job_id="j", writer="w", seq=1, document=document)
    assert (event.name, event.version, event.retry, event.labels) == (None, "1.0.0", 0, {})
