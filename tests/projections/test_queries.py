from __future__ import annotations

import pytest

from jobstream.events.errors import AmbiguousJobId, JobNotFound
from jobstream.events.models import Heartbeat, Status, StatusChanged
from jobstream.projections import queries
from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets, at, run_events, submitted


@pytest.fixture
def filled(views: DuckDBViews, offsets: Offsets) -> DuckDBViews:
    """abc1 and abc2 succeeded, bcd3 is running with a lease, cde4 was only submitted."""
    views.apply(
        offsets.records(
            "jobs",
            [
                submitted("abc1", name="build-app", t=0, team="a"),
                submitted("abc2", name="test-app", t=10, team="b"),
                submitted("bcd3", name="build-docs", t=20, team="a"),
                submitted("cde4", name="lint", t=30),
            ],
        )
    )
    views.apply(
        offsets.records(
            "job-events",
            [
                *run_events("abc1", lines=2500, t=1),
                *run_events("abc2", lines=2, t=11),
                StatusChanged(job_id="bcd3", writer="w", seq=1, status=Status.STARTED),
                Heartbeat(
                    job_id="bcd3", writer="w", seq=2, at=at(20), lease_seconds=10, worker="x"
                ),
            ],
        )
    )
    return views


def test_resolve_job_id(filled: DuckDBViews) -> None:
    conn = filled.conn
    assert queries.resolve_job_id(conn, "b") == "bcd3"
    assert queries.resolve_job_id(conn, "abc1") == "abc1"
    with pytest.raises(AmbiguousJobId) as caught:
        queries.resolve_job_id(conn, "abc")
    assert caught.value.matches == ["abc1", "abc2"]
    with pytest.raises(JobNotFound):
        queries.resolve_job_id(conn, "zz")


def test_list_jobs_newest_first_with_paging(filled: DuckDBViews) -> None:
    conn = filled.conn
    assert [j.job_id for j in queries.list_jobs(conn)] == ["cde4", "bcd3", "abc2", "abc1"]
    page = queries.list_jobs(conn, limit=2, offset=1)
    assert [j.job_id for j in page] == ["bcd3", "abc2"]
    assert queries.count_jobs(conn) == 4


def test_list_jobs_filters(filled: DuckDBViews) -> None:
    conn = filled.conn

    def ids(**filters: object) -> list[str]:
        return [j.job_id for j in queries.list_jobs(conn, **filters)]  # type: ignore[arg-type]

    assert ids(status="succeeded") == ["abc2", "abc1"]
    assert ids(status=[Status.STARTED, Status.NEW]) == ["cde4", "bcd3"]
    assert ids(name="app") == ["abc2", "abc1"]
    assert ids(name="build-*") == ["bcd3", "abc1"]
    assert ids(since=at(10), until=at(30)) == ["bcd3", "abc2"]
    assert ids(labels={"team": "a"}) == ["bcd3", "abc1"]
    assert ids(labels={"team": "a"}, status="STARTED") == ["bcd3"]
    assert queries.count_jobs(conn, labels={"team": "b"}) == 1


def test_log_range_reads_a_middle_range(filled: DuckDBViews) -> None:
    lines = queries.log_range(filled.conn, "abc1", start=1200, limit=100)
    assert [line.n for line in lines] == list(range(1200, 1300))
    assert lines[0].text == "l1200" and lines[0].stream == "stdout"
    assert [line.n for line in queries.log_range(filled.conn, "abc1", 2499, 10)] == [2499, 2500]


def test_stats(filled: DuckDBViews) -> None:
    result = queries.stats(filled.conn)
    assert result.total == 4
    assert result.by_status == {"SUCCEEDED": 2, "STARTED": 1, "NEW": 1}
    assert result.finished == 2
    assert result.mean_duration == result.p50_duration == 9.0


def test_expired_leases(filled: DuckDBViews) -> None:
    assert queries.expired_leases(filled.conn, at(29)) == []
    assert [j.job_id for j in queries.expired_leases(filled.conn, at(31))] == ["bcd3"]


def test_get_job_not_found(filled: DuckDBViews) -> None:
    with pytest.raises(JobNotFound):
        queries.get_job(filled.conn, "nope")
