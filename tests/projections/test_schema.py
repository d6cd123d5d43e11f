"""The table specs and the fast path's parse are generated from the models: these tests hold
the models, the DuckDB file and the fast path to one another."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pytest
from pydantic import BaseModel, Field, ValidationError

from jobstream.events.codec import encode
from jobstream.events.models import EVENT_ADAPTER, LogAppended, LogLine, Status
from jobstream.projections import queries
from jobstream.projections.fold import LineColumns
from jobstream.projections.records import JobRecord, Stored
from jobstream.projections.schema import (
    APPLIED,
    CHECKPOINTS,
    DEAD_LETTERS,
    JOB_RECORDS,
    JOB_STAGES,
    JOB_STEPS,
    LOG_APPENDED,
    LOG_LINES,
    LOG_SPANS,
    JsonRecord,
    Table,
)
from jobstream.projections.views import DuckDBViews

from .projections_support import Offsets, at

SPECS = [
    JOB_RECORDS,
    LOG_LINES,
    LOG_SPANS,
    JOB_STAGES,
    JOB_STEPS,
    APPLIED,
    CHECKPOINTS,
    DEAD_LETTERS,
]


def _duckdb_type(conn: duckdb.DuckDBPyConnection, sql_type: str) -> str:
    """A type as DuckDB names it in information_schema (TIMESTAMPTZ is TIMESTAMP WITH ...)."""
    row = conn.execute(f"SELECT typeof(NULL::{sql_type})").fetchone()
    assert row is not None
    return row[0]


def test_job_columns_are_the_record_fields_and_its_status_code() -> None:
    read = [c.name for c in JOB_RECORDS.columns if c.read]
    assert read == list(JobRecord.model_fields)
    assert [c.name for c in JOB_RECORDS.columns if not c.read] == ["status_code"]
    assert [c.name for c in LOG_LINES.written] == [f.name for f in dataclasses.fields(LineColumns)]
    # The one column DuckDB fills: the order lines were written in.
    assert [c.name for c in LOG_LINES.columns if c not in LOG_LINES.written] == ["pos"]


@pytest.mark.parametrize("table", SPECS, ids=lambda t: t.name)
def test_the_views_file_holds_the_tables_the_specs_describe(
    views: DuckDBViews, table: Table
) -> None:
    conn = views.conn
    columns = conn.execute(
        "SELECT column_name, data_type, is_nullable = 'YES', column_default "
        "FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table.name},
    ).fetchall()
    assert columns == [
        (c.name, _duckdb_type(conn, c.type), c.nullable, c.default) for c in table.columns
    ]
    keys = conn.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = $t AND constraint_type = 'PRIMARY KEY'",
        {"t": table.name},
    ).fetchall()
    assert keys == ([(list(table.key),)] if table.key else [])


def _full_job(job_id: str, **changes: Any) -> JobRecord:
    t = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return JobRecord(
        job_id=job_id,
        name="build",
        version="2.0",
        status=Status.FAILED,
        submitted=t,
        started=t,
        ended=t,
        success=False,
        stage="s",
        reason="exit 1",
        submitter="alice",
        labels={"team": "a", "os": "linux"},
        dispatch="queue",
        lines=3,
        bytes=9,
        last_line=3,
        writer="w1",
        worker="k",
        heartbeat_at=t,
        lease_expires=t,
        completed=True,
        last_seq=5,
        retry_of="j0",
        attempt=2,
        document={"name": "build", "sequence": [{"stage": "s"}]},
    ).model_copy(update=changes)


def test_a_job_row_written_is_the_job_read_back(views: DuckDBViews) -> None:
    jobs = [_full_job("j1"), JobRecord(job_id="j2")]
    JOB_RECORDS.write_rows(views.conn, jobs)
    assert queries.get_job(views.conn, "j1") == jobs[0]
    assert queries.get_job(views.conn, "j2") == jobs[1]
    code = views.conn.execute("SELECT status_code FROM job_records WHERE job_id = 'j1'").fetchone()
    assert code == (Status.FAILED.value,)
    # The upsert replaces the whole row.
    JOB_RECORDS.write_rows(views.conn, [_full_job("j1", labels={}, document=None)])
    assert queries.get_job(views.conn, "j1") == _full_job("j1", labels={}, document=None)
    assert queries.count_jobs(views.conn) == 2


class _Wider(JobRecord):
    """JobRecord with the fields a later change might add: each is one line here."""

    queue: str | None = None
    priority: Annotated[int, Stored("INTEGER")] = 0
    limits: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] | None = None
    weight: float = 1.0


def test_a_field_added_to_a_model_is_created_written_and_read_back(tmp_path: Path) -> None:
    table = Table.of("wider", _Wider, key=("job_id",))
    conn = duckdb.connect(str(tmp_path / "wider.duckdb"))
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(table.ddl)
        rows = [
            _Wider(**dict(_full_job("j1")), queue="q", priority=3, limits={"cpu": "2"}),
            _Wider(job_id="j2", extra={"a": [1, 2]}, weight=0.5),
        ]
        table.write_rows(conn, rows)
        table.write_rows(conn, rows[1:])  # an upsert: still one row per key
        read = table.load(conn.execute(table.select("ORDER BY job_id")).fetchall())
        assert read == rows
        assert table.load(conn.execute(table.select("ORDER BY job_id")).fetchall(), trusted=True)
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'wider'"
            ).fetchall()
        )
        assert (types["queue"], types["priority"], types["limits"], types["extra"]) == (
            "VARCHAR",
            "INTEGER",
            "MAP(VARCHAR, VARCHAR)",
            "JSON",
        )
    finally:
        conn.close()


# The fast path -------------------------------------------------------------------------


def test_the_fast_path_type_has_every_field_of_the_models() -> None:
    schema = LogAppended.model_json_schema()
    line_schema = schema["$defs"]["LogLine"]["properties"]
    by_json_type = {"string": "VARCHAR", "integer": "BIGINT"}
    structure = LOG_APPENDED.type
    assert list(structure) == list(LogAppended.model_fields)
    for name, prop in schema["properties"].items():
        if name != "lines":
            assert structure[name] == by_json_type[prop["type"]], name
    (line,) = structure["lines"]
    assert list(line) == list(LogLine.model_fields)
    # A line's fields are parsed straight into the column types of log_lines.
    for name in line_schema:
        assert line[name] == LOG_LINES[name].type, name


def test_duckdb_parses_log_appended_into_the_struct_of_the_model() -> None:
    """The type DuckDB makes of the fast path's structure, against one written from the
    model's JSON schema: every field, in order, with its type."""
    schema = LogAppended.model_json_schema()
    by_json_type = {"string": "VARCHAR", "integer": "BIGINT"}
    line = ", ".join(
        f'"{name}" {LOG_LINES[name].type}' for name in schema["$defs"]["LogLine"]["properties"]
    )
    fields = ", ".join(
        f'"{name}" ' + (f"STRUCT({line})[]" if name == "lines" else by_json_type[prop["type"]])
        for name, prop in schema["properties"].items()
    )
    conn = duckdb.connect()
    parsed = conn.execute(f"SELECT typeof(from_json('{{}}', {LOG_APPENDED.sql_type}))").fetchone()
    assert parsed == (_duckdb_type(conn, f"STRUCT({fields})"),)


_MISSING = object()

# Values of every JSON kind, and the strings that DuckDB's casts read but pydantic does not
# (and the other way round).
_U = "0f8fad5b-d9cb-469f-a165-70867728950e"
_VALUES: list[Any] = [
    _MISSING,
    None,
    0,
    -1,
    1,
    2.5,
    3.0,
    2**70,
    True,
    "",
    "x",
    "3",
    [],
    {},
    [1],
    [None],
    _U,
    _U.replace("-", ""),
    "{" + _U + "}",
    _U[:8] + _U[9:],
    "2024-05-01T12:00:00Z",
    "2024-05-01T12:00:00",
    "2024-05-01 12:00:00+00:00",
    "2024-5-1T12:00:00Z",
    "2024-05-01T12:00:00+01",
    "infinity",
    "1714564800",
    "stdout",
    "stdin",
    "LogAppended",
    "StatusChanged",
]


def _base() -> dict[str, Any]:
    lines = [LogLine(n=n, at=at(n).isoformat(), stream="stderr", text=f"é{n}") for n in (3, 4)]
    return json.loads(encode(LogAppended(job_id="j1", writer="w1", seq=2, lines=lines)))


def _dumps(event: dict[str, Any]) -> bytes:
    """As the codec writes events: compact, UTF-8."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def _mutants() -> list[tuple[str, bytes]]:
    """The valid record, then each field (top level and of the first line) replaced by each
    of _VALUES, or removed."""
    out = [("valid", _dumps(_base()))]
    paths = [(k,) for k in LogAppended.model_fields] + [
        ("lines", 0, k) for k in LogLine.model_fields
    ]
    for path in paths:
        for value in _VALUES:
            event = _base()
            parent: Any = event
            for step in path[:-1]:
                parent = parent[step]
            if value is _MISSING:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            label = (
                ".".join(map(str, path)) + "=" + ("missing" if value is _MISSING else repr(value))
            )
            out.append((label, _dumps(event)))
    return out


def _fast(raws: list[bytes]) -> list[tuple[bool, Any]]:
    """What the fast path makes of each raw record: whether it takes it, and what it reads."""
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    rows = conn.execute(
        f"SELECT {LOG_APPENDED.valid('raw', 'e')}, e.job_id, e.writer, e.seq, "
        "list_transform(e.lines, lambda x: [x.n::VARCHAR, x.at::VARCHAR, x.stream, x.text]) "
        f"FROM (SELECT k, raw, try(from_json(raw, {LOG_APPENDED.sql_type})) AS e "
        "FROM (SELECT unnest($k::INTEGER[]) AS k, unnest($v::VARCHAR[]) AS raw)) ORDER BY k",
        {"k": list(range(len(raws))), "v": [r.decode() for r in raws]},
    ).fetchall()
    return [(ok, (job_id, writer, seq, lines)) for ok, job_id, writer, seq, lines in rows]


def test_the_fast_path_takes_only_what_pydantic_accepts_and_reads_it_alike() -> None:
    mutants = _mutants()
    fast = _fast([raw for _, raw in mutants])
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    taken = 0
    for (label, raw), (ok, read) in zip(mutants, fast, strict=True):
        try:
            event = EVENT_ADAPTER.validate_json(raw)
        except ValidationError:
            assert not ok, f"fast path takes {label}, pydantic refuses it"
            continue
        if not ok:
            continue
        taken += 1
        assert isinstance(event, LogAppended)
        lines = [
            [
                str(x.n),
                conn.execute("SELECT $a::TIMESTAMPTZ::VARCHAR", {"a": x.at}).fetchone()[0],
                x.stream,
                x.text,
            ]
            for x in event.lines
        ]
        assert read == (event.job_id, event.writer, event.seq, lines), label
    assert fast[0][0], "the fast path takes a record as the codec writes it"
    # Each optional envelope field may be left out (pydantic fills its default).
    assert taken > 1 + len([f for f in LogAppended.model_fields.values() if not f.is_required()])


def test_a_missing_field_is_refused_by_both_paths_exactly_when_it_is_required() -> None:
    paths = [(k,) for k in LogAppended.model_fields] + [
        ("lines", 0, k) for k in LogLine.model_fields
    ]
    for path in paths:
        event = _base()
        parent: Any = event
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
        raw = _dumps(event)
        try:
            EVENT_ADAPTER.validate_json(raw)
            pydantic_takes = True
        except ValidationError:
            pydantic_takes = False
        assert _fast([raw])[0][0] is pydantic_takes, path


def test_every_mutant_applied_is_dead_lettered_exactly_when_pydantic_refuses_it(
    views: DuckDBViews, offsets: Offsets
) -> None:
    mutants = _mutants()
    views.apply([offsets.record("job-events", raw) for _, raw in mutants])
    expected = set()
    for k, (_, raw) in enumerate(mutants):
        try:
            event = EVENT_ADAPTER.validate_json(raw)
        except ValidationError:
            expected.add(k)
            continue
        # pydantic's ints have no bound, and it keeps a line's time as text: a number or a
        # time the views cannot store is refused too.
        assert isinstance(event, LogAppended)
        if max(event.seq, *(line.n for line in event.lines)) >= 2**63:
            expected.add(k)
        for line in event.lines:
            cast = views.conn.execute("SELECT try_cast($a AS TIMESTAMPTZ)", {"a": line.at})
            if cast.fetchone() == (None,):
                expected.add(k)
    assert {d.offset for d in queries.dead_letters(views.conn)} == expected


class _Patterned(BaseModel):
    type: str
    text: str = Field(pattern="^[a-z]+$")


class _Floating(BaseModel):
    type: str
    ratio: float


@pytest.mark.parametrize("model", [_Patterned, _Floating])
def test_a_model_the_fast_path_cannot_check_fails_when_it_is_built(model: type[BaseModel]) -> None:
    with pytest.raises(TypeError):
        JsonRecord.of(model)
