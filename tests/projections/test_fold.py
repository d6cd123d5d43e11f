from __future__ import annotations

from jobstream.events.models import Heartbeat, LogAppended, LogLine, Status, StatusChanged
from jobstream.projections.fold import fold
from jobstream.projections.records import JobRecord

from .projections_support import at, run_events, submitted


def test_a_whole_run_gives_the_finished_row() -> None:
    result = fold({}, {}, [submitted("j1"), *run_events("j1", lines=3)])
    job = result.jobs["j1"]
    assert (job.name, job.version, job.submitter) == ("build", "2.0", "alice")
    assert job.status is Status.SUCCEEDED and job.completed and job.success
    assert job.started == at(2) and job.ended == at(11)
    assert (job.lines, job.bytes, job.last_line) == (3, 6, 3)
    assert (job.writer, job.last_seq) == ("w1", 5)
    assert result.lines.n == [1, 2, 3]
    assert result.applied == {("j1", "w1"): 5}


def test_a_duplicate_seq_is_skipped() -> None:
    events = run_events("j1")
    waiting, started = events[0], events[1]
    result = fold({}, {}, [waiting, started, waiting])
    assert result.jobs["j1"].status is Status.STARTED


def test_seqs_already_applied_in_an_earlier_batch_are_skipped() -> None:
    first = fold({}, {}, run_events("j1")[:3])
    again = fold(first.jobs, first.applied, run_events("j1")[:3])
    assert again.jobs["j1"] == first.jobs["j1"]
    assert len(again.lines) == 0


def test_after_completed_nothing_changes() -> None:
    done = fold({}, {}, run_events("j1"))
    late = [
        StatusChanged(job_id="j1", writer="w2", seq=1, status=Status.STARTED),
        Heartbeat(job_id="j1", writer="w1", seq=6, lease_seconds=5, worker="x"),
        LogAppended(
            job_id="j1",
            writer="w1",
            seq=7,
            lines=[LogLine(n=9, at=at(0).isoformat(), stream="stdout", text="late")],
        ),
    ]
    after = fold(done.jobs, done.applied, late)
    assert after.jobs["j1"] == done.jobs["j1"]
    assert len(after.lines) == 0 and after.applied == {}


def test_submitted_after_job_events_gives_the_same_row() -> None:
    events = run_events("j1")
    for cut in range(len(events) + 1):
        before = fold({}, {}, [submitted("j1"), *events[:cut]]).jobs["j1"]
        after = fold({}, {}, [*events[:cut], submitted("j1")]).jobs["j1"]
        assert before == after, cut


def test_submitted_read_in_a_later_batch_keeps_the_status() -> None:
    running = fold({}, {}, run_events("j1")[:2])
    later = fold(running.jobs, running.applied, [submitted("j1")]).jobs["j1"]
    assert later.status is Status.STARTED and later.name == "build"


def test_lines_already_stored_are_not_stored_again() -> None:
    def chunk(seq: int, writer: str, numbers: range) -> LogAppended:
        lines = [LogLine(n=n, at=at(n).isoformat(), stream="stdout", text="x") for n in numbers]
        return LogAppended(job_id="j1", writer=writer, seq=seq, lines=lines)

    # A second attempt that numbers its lines from 1 again only adds lines past the first's.
    result = fold({}, {}, [chunk(1, "w1", range(1, 4)), chunk(1, "w2", range(1, 6))])
    assert result.lines.n == [1, 2, 3, 4, 5]
    assert result.jobs["j1"].lines == 5


def test_heartbeat_sets_the_lease() -> None:
    beat = Heartbeat(job_id="j1", writer="w1", seq=1, at=at(0), lease_seconds=30, worker="box")
    job = fold({}, {}, [beat]).jobs["j1"]
    assert (job.worker, job.heartbeat_at, job.lease_expires) == ("box", at(0), at(30))


def test_inputs_are_not_modified() -> None:
    rows = {"j1": JobRecord(job_id="j1")}
    fold(rows, {}, run_events("j1"))
    assert rows["j1"] == JobRecord(job_id="j1")


def test_the_row_holds_the_document_with_its_secrets_redacted() -> None:
    sealed = submitted("j1").model_copy(
        update={
            "document": {
                "name": "build",
                "secrets": {"pw": "enc:v2:job:k1:abc:def", "api": "enc:v2:org:k1:ghi:jkl"},
                "sources": [
                    {"url": "https://example.org/a.git", "token": "enc:v2:job:k1:mno:pqr"},
                    {"url": "https://example.org/b.git"},
                ],
                "sequence": [{"stage": "s"}],
            }
        }
    )
    document = fold({}, {}, [sealed]).jobs["j1"].document
    assert document is not None
    assert document["secrets"] == {"pw": "***", "api": "***"}
    assert [s.get("token") for s in document["sources"]] == ["***", None]
    assert "enc:" not in repr(document)
    # The event keeps its sealed values: the runner and a retry read them from the log.
    assert sealed.document["secrets"]["pw"].startswith("enc:")


def test_retry_due_is_judged_whichever_of_submission_and_end_comes_last() -> None:
    rules = {"automatic": [{"exit_status": 2, "limit": 1}]}

    def failed(exit_status: int) -> list:
        events = run_events("j1")
        end = events[-1].model_copy(
            update={"success": False, "status": Status.FAILED, "exit_status": exit_status}
        )
        return [*events[:-2], events[-2].model_copy(update={"status": Status.FAILED}), end]

    def due(document: dict, exit_status: int, attempt: int = 1) -> set[bool]:
        job = submitted("j1").model_copy(
            update={"document": {**submitted("j1").document, **document}, "attempt": attempt}
        )
        orders = ([job, *failed(exit_status)], [*failed(exit_status), job])
        return {fold({}, {}, events).jobs["j1"].retry_due for events in orders}

    assert due({"retry": rules}, 2) == {True}
    assert due({"retry": rules}, 3) == {False}
    assert due({"retry": rules}, 2, attempt=2) == {False}  # its one retry was this one
    assert due({"retry": 1}, 2) == {False}  # the number form: lost attempts only
