"""The event models: the log chunk a runner hands its Notifier, and JobSubmitted's fields."""

from __future__ import annotations

from jobstream.events.models import LogAppended, LogChunk, LogLine

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
