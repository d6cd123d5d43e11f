"""A job's log range reads the row groups of that job's lines, not the whole log_lines table.

Asserted through DuckDB's own profile of the query (row groups and rows it scanned), never
through timing.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from jobstream.events.errors import ViewsOutdated
from jobstream.events.models import LogAppended, LogLine
from jobstream.projections import queries
from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets, at, submitted

ROW_GROUP = 122_880
"""DuckDB's rows per row group: the unit its zone maps skip."""

JOBS = 40
LINES = 12_500  # 40 x 12,500 = 500,000 lines: five row groups
CHUNK = 2_500


def _fill(views: DuckDBViews, offsets: Offsets) -> list[str]:
    job_ids = [f"{i * 7919 % 1000:03d}-job" for i in range(JOBS)]  # ids in no order
    for job_id in job_ids:
        records = [offsets.record("jobs", submitted(job_id))]
        for seq, first in enumerate(range(1, LINES + 1, CHUNK), start=1):
            text = at(0).isoformat()
            lines = [
                LogLine(n=n, at=text, stream="stdout", text=f"line {n}")
                for n in range(first, first + CHUNK)
            ]
            event = LogAppended(job_id=job_id, writer="w", seq=seq, lines=lines)
            records.append(offsets.record("job-events", event))
        views.apply(records)
    return job_ids


def _profiled_scan(conn: duckdb.DuckDBPyConnection, profile: Path, call: object) -> dict:
    """The log_lines scan of the last query `call()` ran, from DuckDB's JSON profile."""
    conn.execute("PRAGMA enable_profiling = 'json'")
    conn.execute(f"SET profiling_output = '{profile}'")
    try:
        call()  # type: ignore[operator]
    finally:
        conn.execute("PRAGMA disable_profiling")
    scans: list[dict] = []

    def walk(op: dict) -> None:
        if op.get("extra_info", {}).get("Table", "").endswith("log_lines"):
            scans.append(op)
        for child in op.get("children", []):
            walk(child)

    for op in json.loads(profile.read_text())["operator"]:
        walk(op)
    assert len(scans) == 1, scans
    return scans[0]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("scale") / "views.duckdb"
    views = DuckDBViews.open(path)
    try:
        return path, _fill(views, Offsets())
    finally:
        views.close()


@pytest.mark.parametrize("middle", [False, True], ids=["first-job", "middle-job"])
def test_a_range_of_one_job_scans_its_row_groups_only(
    filled: tuple[Path, list[str]], tmp_path: Path, middle: bool
) -> None:
    path, job_ids = filled
    job_id = job_ids[JOBS // 2 if middle else 0]
    views = DuckDBViews.open(path)
    try:
        got: list = []
        scan = _profiled_scan(
            views.conn,
            tmp_path / "profile.json",
            lambda: got.extend(queries.log_range(views.conn, job_id, 5_001, 1_000)),
        )
    finally:
        views.close()
    assert [line.n for line in got] == list(range(5_001, 6_001))
    assert scan["total_row_groups_to_scan"] >= JOBS * LINES // ROW_GROUP
    # A job's 12,500 lines lie in at most two row groups; the other three are skipped.
    assert scan["row_groups_scanned"] <= 2
    assert scan["rows_scanned"] <= 2 * ROW_GROUP


def test_following_a_job_from_its_tail_scans_its_row_groups_only(
    filled: tuple[Path, list[str]], tmp_path: Path
) -> None:
    path, job_ids = filled
    views = DuckDBViews.open(path)
    try:
        got: list[int] = []
        scan = _profiled_scan(
            views.conn,
            tmp_path / "profile.json",
            lambda: got.append(queries.log_start(views.conn, job_ids[JOBS // 2], tail=10)),
        )
    finally:
        views.close()
    assert got == [LINES - 9]
    assert scan["row_groups_scanned"] <= 2


def test_views_without_the_line_spans_are_outdated(tmp_path: Path) -> None:
    path = tmp_path / "views.duckdb"
    DuckDBViews.open(path).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP TABLE log_spans")
        conn.execute("ALTER TABLE log_lines DROP COLUMN pos")
    with pytest.raises(ViewsOutdated) as raised:
        DuckDBViews.open(path)
    assert raised.value.missing == ["log_lines.pos", "table log_spans"]
