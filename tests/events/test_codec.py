"""The JSON encoding of events, and the runner's fast path for log chunks."""

from __future__ import annotations

import pytest

from jobstream.events.codec import decode, encode, encode_log_appended
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import to_message
from jobstream.events.models import LogAppended, LogChunk, LogLine, Status, StatusChanged

LINES = [
    {"n": 1, "at": "2026-11-28T00:00:00.000001Z", "stream": "stdout", "text": "héllo"},
    {"n": 2, "at": "2026-11-28T00:00:00.000002Z", "stream": "stderr", "text": 'a "quote"\t'},
]


def test_events_round_trip_with_status_names_and_type_first() -> None:
    event = StatusChanged(job_id="j", writer="w", seq=2, status=Status.STARTED, previous="WAITING")
    data = encode(event)
    assert data.startswith(b'{"type":"StatusChanged"')
    assert b'"status":"STARTED"' in data
    assert decode(data) == event


def test_the_fast_log_chunk_encoding_is_byte_for_byte_the_model_encoding() -> None:
    data = encode_log_appended("job", "attempt-1", 7, LINES)
    event = decode(data)
    assert isinstance(event, LogAppended)
    assert event.lines == [LogLine(**line) for line in LINES]
    same = LogAppended(
        job_id="job",
        writer="attempt-1",
        seq=7,
        event_id=event.event_id,
        at=event.at,
        lines=[LogLine(**line) for line in LINES],
    )
    assert encode(same) == data


def test_a_runner_chunk_encodes_as_the_log_appended_of_its_lines() -> None:
    chunk = LogChunk(1, [("stdout", LINES[0]["at"], ["héllo", "x"]), ("system", "t", ["y"])], 3, 8)
    event = decode(encode_log_appended("job", "attempt-1", 3, chunk.rows()))
    assert isinstance(event, LogAppended)
    assert event.lines == list(chunk)


def test_messages_are_keyed_by_job_and_typed_in_a_header() -> None:
    message = to_message(StatusChanged(job_id="j1", writer="w", seq=1, status="FAILED"))
    assert message.key == "j1"
    assert message.headers == {"type": "StatusChanged"}


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"[]", b'{"type": "Nope"}', b'{"type": "Completed", "job_id": "j"}'],
)
def test_anything_else_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode(data)
