"""The DuckDB side of the views, generated from the pydantic models.

Tables: each is a `Table`, built from its row model in projections.records where it has one
(a field is a column), which generates the DDL, the bulk write (one `unnest` statement, as
DESIGN.md asks) and the reads (the column list and the row to model conversion).

- `job_records` (JobRecord): one row per job; key job_id.
- `log_lines` (LogLineRow): one row per log line, numbered by `pos` in the order written.
- `log_spans`: job_id key, the first and last `pos` of its lines (where a job's range lies).
- `job_stages` (JobStageRow): one row per stage run of a job; key (job_id, stage).
- `job_steps` (JobStepRow): one row per step of a stage run; key (job_id, stage, step).
- `other_writers` (APPLIED): (job_id, writer) key, seq: the highest `seq` applied from that
  writer for that job (job-events only), for every writer but the job's current `writer`,
  whose seq is its row's `last_seq`; an event at or below it is a producer's retry and is
  skipped. (Named `applied` while it held the current writer's seq too: a file with that
  table asks for `jobstream replay`.)
- `checkpoints`: (projection, topic, partition) key, position: the next offset the
  projection reads in that partition. Written in the same transaction as the rows.
- `stages` (StageRecord): one row per stored stage version; key (name, version).
- `dead_letters` (DeadLetter): records that are not a valid event, kept (raw bytes and why)
  so the projection can move past them.

The fast path's parse of LogAppended (`LOG_APPENDED`, used by projections.views) is built
from the event models the same way: the `from_json` type, and the checks a parsed record
must pass so that it is one pydantic would accept, read as pydantic would read it.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any, Literal

import annotated_types
import duckdb
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from jobstream.events.models import Event, Instant, LogAppended
from jobstream.projections.records import (
    DeadLetter,
    Derived,
    JobRecord,
    JobStageRow,
    JobStepRow,
    LogLineRow,
    StageRecord,
    Stored,
)

__all__ = [
    "APPLIED",
    "CHECKPOINTS",
    "DDL",
    "DEAD_LETTERS",
    "JOB_RECORDS",
    "JOB_STAGES",
    "JOB_STEPS",
    "LAYOUT",
    "LOG_APPENDED",
    "LOG_LINES",
    "LOG_LINE_POS",
    "LOG_SPANS",
    "STAGES",
    "TABLES",
    "Column",
    "JsonRecord",
    "Table",
]

_SCALARS: dict[type, str] = {
    str: "VARCHAR",
    bool: "BOOLEAN",
    int: "BIGINT",
    float: "DOUBLE",
    datetime: "TIMESTAMPTZ",
    bytes: "BLOB",
}


def quote(name: str) -> str:
    """An identifier as SQL (DuckDB reserves some column names: at, partition, offset)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    """The DuckDB type."""
    nullable: bool = False
    default: str | None = None
    """Filled in by the database (never written; two builds need not agree on it)."""
    field: str | None = None
    """The model field whose value the column holds (None: a table without a model)."""
    store: Callable[[Any], Any] | None = None
    """Field value to column value, when the two differ."""
    load: Callable[[Any], Any] | None = None
    """Fetched value to field value, when the two differ."""

    @property
    def read(self) -> bool:
        """Read back into the model (a derived column is only written)."""
        return self.field == self.name

    @property
    def ddl(self) -> str:
        not_null = "" if self.nullable else " NOT NULL"
        default = f" DEFAULT {self.default}" if self.default else ""
        return f"{quote(self.name)} {self.type}{not_null}{default}"

    @property
    def _map(self) -> tuple[str, str] | None:
        found = re.fullmatch(r"MAP\((.+), (.+)\)", self.type)
        return (found[1], found[2]) if found else None

    @property
    def expression(self) -> str:
        """The column's values from list parameters named after it."""
        pair = self._map
        if pair is None:
            return f"unnest(${self.name}::{self.type}[])"
        # A MAP travels as two lists of lists: DuckDB reads a Python dict as a STRUCT.
        keys, values = pair
        return (
            f"map(unnest(${self.name}__keys::{keys}[][]), "
            f"unnest(${self.name}__values::{values}[][]))"
        )

    def parameters(self, values: list[Any]) -> dict[str, list[Any]]:
        """The list parameters of `expression` for these column values."""
        if self._map is None:
            return {self.name: values}
        return {
            f"{self.name}__keys": [list(v) for v in values],
            f"{self.name}__values": [list(v.values()) for v in values],
        }


@dataclass(frozen=True)
class Table:
    """One view table: its columns, key and row model; generates the SQL that uses them."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    model: type[BaseModel] | None = None
    comment: str = ""
    """An SQL comment written above the CREATE TABLE (why the table is as it is)."""

    @classmethod
    def of(
        cls,
        name: str,
        model: type[BaseModel],
        *,
        key: tuple[str, ...] = (),
        comment: str = "",
        stored: Mapping[str, Stored] | None = None,
    ) -> Table:
        """The table whose rows are `model`: one column per field, in field order.
        `stored` says how fields of a model defined outside projections are stored (the
        `Stored` marker their annotation cannot carry)."""
        columns: list[Column] = []
        for field_name, info in model.model_fields.items():
            columns.extend(_columns(field_name, info, (stored or {}).get(field_name)))
        return cls(name, tuple(columns), key, model, comment)

    def _absent(self, column: Column) -> Any:
        """The value of a column its writer does not give: the field's default, else NULL
        (for a model shared with other consumers that keep more about a row)."""
        info = self.model.model_fields.get(column.field) if self.model and column.field else None
        if info is not None and not info.is_required() and info.default_factory is None:
            return info.default
        if column.nullable:
            return None
        raise KeyError(column.name)

    def __getitem__(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @cached_property
    def ddl(self) -> str:
        body = [c.ddl for c in self.columns]
        if self.key:
            body.append(f"PRIMARY KEY ({', '.join(map(quote, self.key))})")
        comment = "".join(f"-- {line}\n" for line in self.comment.splitlines())
        columns = ",\n    ".join(body)
        return f"{comment}CREATE TABLE IF NOT EXISTS {self.name} (\n    {columns}\n);\n"

    @cached_property
    def written(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.default is None)

    @cached_property
    def compared(self) -> tuple[str, ...]:
        """The columns two builds of the same log must agree on, quoted."""
        return tuple(quote(c.name) for c in self.written)

    @functools.cache  # noqa: B019 (tables are module constants: nothing to free)
    def _write(self, new: bool) -> str:
        # A keyed table is upserted (the fold hands over whole rows), unless the rows are
        # known to be new.
        verb = "INSERT OR REPLACE" if self.key and not new else "INSERT"
        select = ",\n    ".join(f"{c.expression} AS {quote(c.name)}" for c in self.written)
        return f"{verb} INTO {self.name} BY NAME\nSELECT\n    {select}"

    def write(
        self,
        conn: duckdb.DuckDBPyConnection,
        columns: Mapping[str, list[Any]],
        *,
        new: bool = False,
    ) -> None:
        """Write the rows given as one list of column values per written column, in one
        statement: an upsert when the table has a key, unless the caller knows the rows
        are `new` (none of their keys is in the table), when a plain INSERT does, in about
        a third of an upsert's time (DuckDB deletes the row an upsert replaces)."""
        params: dict[str, list[Any]] = {}
        rows = len(next(iter(columns.values()), []))
        for c in self.written:
            values = columns[c.name] if c.name in columns else [self._absent(c)] * rows
            params |= c.parameters(values)
        conn.execute(self._write(new), params)

    def write_rows(
        self, conn: duckdb.DuckDBPyConnection, rows: Sequence[BaseModel], *, new: bool = False
    ) -> None:
        """`write` for rows as models."""
        self.write(conn, self._values(rows, self.written), new=new)

    def update_rows(
        self, conn: duckdb.DuckDBPyConnection, rows: Sequence[BaseModel], fields: set[str]
    ) -> None:
        """Set the columns of `fields` of rows already in the table, found by their key, in
        one UPDATE: a statement costs about per column, and most changes touch a few."""
        columns = tuple(c for c in self.written if c.field in fields or c.name in self.key)
        params: dict[str, list[Any]] = {}
        for name, values in self._values(rows, columns).items():
            params |= self[name].parameters(values)
        conn.execute(self._update(tuple(c.name for c in columns)), params)

    @staticmethod
    def _values(rows: Sequence[BaseModel], columns: Sequence[Column]) -> dict[str, list[Any]]:
        """The values of `columns` (model fields) of `rows`, as stored."""
        out: dict[str, list[Any]] = {}
        for c in columns:
            assert c.field is not None, f"{c.name} is not a model field"
            values = [getattr(row, c.field) for row in rows]
            if c.store is not None:
                store = c.store
                values = [None if v is None else store(v) for v in values]
            out[c.name] = values
        return out

    @functools.cache  # noqa: B019 (tables are module constants: nothing to free)
    def _update(self, names: tuple[str, ...]) -> str:
        columns = [self[name] for name in names]
        values = ", ".join(f"{c.expression} AS {quote(c.name)}" for c in columns)
        sets = ", ".join(f"{quote(n)} = u.{quote(n)}" for n in names if n not in self.key)
        match = " AND ".join(f"{self.name}.{quote(k)} = u.{quote(k)}" for k in self.key)
        return f"UPDATE {self.name} SET {sets} FROM (SELECT {values}) u WHERE {match}"

    @cached_property
    def _read(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.read)

    def select(self, tail: str = "") -> str:
        """`SELECT` of the model's columns, then `tail` (WHERE, ORDER BY, ...)."""
        names = ", ".join(quote(c.name) for c in self._read)
        return f"SELECT {names} FROM {self.name} {tail}".rstrip()

    def load(self, rows: list[tuple[Any, ...]], *, trusted: bool = False) -> list[Any]:
        """Models from the rows of `select`; `trusted` skips validation (for rows this
        process wrote and reads straight back)."""
        assert self.model is not None, f"{self.name} has no model"
        loads = [(c.name, c.load) for c in self._read if c.load is not None]
        names = [c.name for c in self._read]
        model = self.model
        out = []
        for values in rows:
            row = dict(zip(names, values, strict=True))
            for name, load in loads:
                if row[name] is not None:
                    row[name] = load(row[name])
            out.append(model.model_construct(**row) if trusted else model.model_validate(row))
        return out


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether it had it."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _unwrap(rest[0])[0], len(rest) < len(args)
    return annotation, False


def _columns(name: str, info: FieldInfo, stored: Stored | None = None) -> list[Column]:
    """The column of a model field (and those derived from it)."""
    annotation, nullable = _unwrap(info.annotation)
    if stored is None:
        stored = next((m for m in info.metadata if isinstance(m, Stored)), Stored())
    store: Callable[[Any], Any] | None = None
    load: Callable[[Any], Any] | None = None
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        sql, store, load = "VARCHAR", _enum_name, annotation.__getitem__
    elif (origin is dict and typing.get_args(annotation)[1] is Any) or origin is list:
        sql, store, load = "JSON", json.dumps, json.loads
    elif origin is dict:
        key, value = (_SCALARS[a] for a in typing.get_args(annotation))
        sql = f"MAP({key}, {value})"
    elif annotation in _SCALARS:
        sql = _SCALARS[annotation]
    else:
        raise TypeError(f"no DuckDB column for {name}: {info.annotation}")
    columns = [
        Column(
            name,
            stored.type or sql,
            nullable=nullable,
            default=stored.default,
            field=name,
            store=store,
            load=load,
        )
    ]
    for derived in info.metadata:
        if isinstance(derived, Derived):
            columns.append(
                Column(
                    derived.name, derived.type, nullable=nullable, field=name, store=derived.value
                )
            )
    return columns


def _enum_name(value: Enum) -> str:
    return value.name


JOB_RECORDS = Table.of("job_records", JobRecord, key=("job_id",))

_LOG_LINES_ROWS = Table.of("log_lines", LogLineRow)

LOG_LINE_POS = "log_line_pos"
"""The sequence numbering every stored line in the order lines were written."""

LOG_LINES = Table(
    "log_lines",
    (*_LOG_LINES_ROWS.columns, Column("pos", "BIGINT", default=f"nextval('{LOG_LINE_POS}')")),
    model=LogLineRow,
    comment=(
        "`pos` grows with every line written, so each row group's min-max of it is narrow\n"
        "and a range of one job (`pos BETWEEN` its log_spans row) skips every row group\n"
        "written outside the job's lifetime. DuckDB 2.0 uses no ART index for\n"
        "`job_id = ? AND n BETWEEN ? AND ?` (measured: a filtered scan of every row group\n"
        "with or without one), and job ids are random, so their zone maps skip nothing."
    ),
)

LOG_SPANS = Table(
    "log_spans",
    (Column("job_id", "VARCHAR"), Column("first_pos", "BIGINT"), Column("last_pos", "BIGINT")),
    key=("job_id",),
    comment="The first and last `log_lines.pos` of each job's lines: where its log lies.",
)

APPLIED = Table(
    "other_writers",
    (Column("job_id", "VARCHAR"), Column("writer", "VARCHAR"), Column("seq", "BIGINT")),
    key=("job_id", "writer"),
    comment=(
        "The highest seq applied from each writer of a job but its current one: that one's\n"
        "is job_records.last_seq, so a live batch of a running job writes no row here."
    ),
)

CHECKPOINTS = Table(
    "checkpoints",
    (
        Column("projection", "VARCHAR"),
        Column("topic", "VARCHAR"),
        Column("partition", "INTEGER"),
        Column("position", "BIGINT"),
    ),
    key=("projection", "topic", "partition"),
)

DEAD_LETTERS = Table.of(
    "dead_letters", DeadLetter, stored={"recorded_at": Stored(default="current_timestamp")}
)

STAGES = Table.of("stages", StageRecord, key=("name", "version"))

JOB_STAGES = Table.of("job_stages", JobStageRow, key=("job_id", "stage"))

JOB_STEPS = Table.of("job_steps", JobStepRow, key=("job_id", "stage", "step"))

_ALL = (
    JOB_RECORDS,
    LOG_LINES,
    LOG_SPANS,
    JOB_STAGES,
    JOB_STEPS,
    APPLIED,
    CHECKPOINTS,
    STAGES,
    DEAD_LETTERS,
)

DDL = f"CREATE SEQUENCE IF NOT EXISTS {LOG_LINE_POS};\n" + "".join(t.ddl for t in _ALL)
"""Every view table, created if missing."""

TABLES: dict[str, tuple[str, ...]] = {t.name: t.compared for t in _ALL if t is not LOG_SPANS}
"""Every view table with the columns two builds of the same log must agree on (not
log_spans: a rolled-back batch leaves a gap in the positions, so two builds differ)."""

LAYOUT: dict[str, tuple[str, ...]] = {t.name: tuple(c.name for c in t.columns) for t in _ALL}
"""Every view table with all its columns: what a file must have to be written by this
jobstream."""


# The fast path ----------------------------------------------------------------------------
#
# DuckDB's `from_json` converts what pydantic refuses: a number where a string is wanted
# becomes its text, 2.5 becomes 2 for an integer, a missing key and a null both become NULL.
# So a parsed record is trusted only when
# - each known key in the raw text is followed by the JSON kind pydantic wants (`suspect`, a
#   regular expression over the text: conservative, a space after the colon or 3.0 for an
#   integer also fails it), and
# - each parsed value passes the field's constraints, written in SQL (`check`).
# A record that fails either is decoded by pydantic, which then applies it or says why not,
# so being too strict here costs only speed; being too lenient would let through a record
# pydantic would have dead-lettered. Not caught (no producer writes them, and a check costs
# a second scan of every record): a key spelled with an escape ("te\u0078t"), and a key
# written twice (DuckDB reads the first, pydantic the last).

# Subsets of what pydantic accepts, for the string formats DuckDB's casts read more loosely
# (a UUID's hyphens anywhere, 'infinity' or '2024-1-1' as a time): only the canonical forms,
# which is what every producer writes.
_FORMATS: dict[type, str] = {
    uuid.UUID: "regexp_full_match({x}, '[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}"
    "-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}')",
    datetime: "(regexp_full_match({x}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}"
    ":[0-9]{{2}}(\\.[0-9]{{1,6}})?(Z|[+-][0-9]{{2}}:[0-9]{{2}})') "
    "AND year(try_cast({x} AS TIMESTAMPTZ)) BETWEEN 1 AND 9999)",
}

# An `Instant`'s own check (a UTC year within 1..9999) is part of the datetime format above.
_INSTANT = typing.get_args(Instant)[1]

# What must follow `"key":` in the raw text for each JSON kind.
_FOLLOWS: dict[str, str] = {
    "string": '[^"]',
    "integer": "(?:[^0-9]|[0-9]+[.eE])",
    "array": r"[^\[]",
}


@dataclass(frozen=True)
class JsonRecord:
    """How DuckDB parses one event type's JSON, and the SQL that says whether a parsed
    record is one pydantic would accept and read the same way."""

    model: type[BaseModel]
    type: dict[str, Any]
    """The `from_json` structure: field name to DuckDB type, a list of one structure for a
    list of models."""
    check: Callable[[str], str]
    """An SQL condition on a parsed record (the expression given), NULL or false when it
    would not pass pydantic as its fields read it."""
    kinds: dict[str, str]
    """Each key the record may hold (its nested models' too) and the JSON kind it wants."""

    @classmethod
    def of(cls, model: type[BaseModel], stored: Mapping[str, Table] | None = None) -> JsonRecord:
        """Built from the model's fields. `stored` names list fields whose items go
        straight into a table: their fields are parsed as that table's columns (a line's
        `at` text as the TIMESTAMPTZ it is stored as; NULL when DuckDB cannot read it, so
        that record is left to pydantic)."""
        kinds: dict[str, str] = {}
        structure, check = _structure(model, stored or {}, kinds, _DISCRIMINATOR)
        return cls(model, structure, check, kinds)

    @cached_property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.type)

    @cached_property
    def sql_type(self) -> str:
        """The structure as the SQL string literal `from_json` takes."""
        return "'" + json.dumps(self.type, separators=(",", ":")).replace("'", "''") + "'"

    @cached_property
    def suspect(self) -> str:
        """A regular expression matching a raw record in which a known key is followed by
        a JSON value of another kind than its field wants."""
        by_kind: dict[str, list[str]] = {}
        for key, kind in self.kinds.items():
            by_kind.setdefault(kind, []).append(re.escape(key))
        return "|".join(
            f'"(?:{"|".join(keys)})":{_FOLLOWS[kind]}' for kind, keys in by_kind.items()
        )

    def valid(self, raw: str, parsed: str) -> str:
        """An SQL boolean: the text `raw`, parsed into `parsed` (by `from_json` with
        `sql_type`, NULL where it could not), is a record pydantic would accept."""
        suspect = "'" + self.suspect.replace("'", "''") + "'"
        return f"coalesce(NOT regexp_matches({raw}, {suspect}) AND {self.check(parsed)}, false)"


def _structure(
    model: type[BaseModel],
    stored: Mapping[str, Table],
    kinds: dict[str, str],
    discriminator: str | None,
) -> tuple[dict[str, Any], Callable[[str], str]]:
    config = model.model_config
    if config.get("extra") == "forbid" or config.get("strict"):
        raise TypeError(f"{model.__name__}: the fast path checks neither extra keys nor strict")
    structure: dict[str, Any] = {}
    checks: list[Callable[[str], str]] = []
    for name, info in model.model_fields.items():
        annotation, nullable = _unwrap(info.annotation)
        if nullable:
            raise TypeError(f"{model.__name__}.{name}: the fast path has no nullable fields")
        kind, sql, inner = _json_field(model, name, annotation, stored, kinds)
        structure[name] = sql
        _kind(kinds, name, kind)
        required = info.is_required() or name == discriminator
        checks.append(_field_check(name, info, annotation, required, inner))

    def check(x: str) -> str:
        return " AND ".join(f"({c(x)})" for c in checks)

    return structure, check


def _json_field(
    model: type[BaseModel],
    name: str,
    annotation: Any,
    stored: Mapping[str, Table],
    kinds: dict[str, str],
) -> tuple[str, Any, Callable[[str], str] | None]:
    """(JSON kind, from_json type, check of each item for a list of models)."""
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        if not (isinstance(item, type) and issubclass(item, BaseModel)):
            raise TypeError(f"{model.__name__}.{name}: only lists of models")
        structure, item_check = _structure(item, {}, kinds, None)
        table = stored.get(name)
        if table is not None:
            columns = {c.name: c.type for c in table.columns}
            structure = {k: columns.get(k, v) for k, v in structure.items()}
        return "array", [structure], item_check
    if typing.get_origin(annotation) is Literal:
        if not all(isinstance(a, str) for a in typing.get_args(annotation)):
            raise TypeError(f"{model.__name__}.{name}: only literals of strings")
        return "string", "VARCHAR", None
    if annotation in (str, uuid.UUID, datetime):
        return "string", "VARCHAR", None
    if annotation is int:
        return "integer", "BIGINT", None
    raise TypeError(f"{model.__name__}.{name}: the fast path cannot check {annotation}")


def _kind(kinds: dict[str, str], name: str, kind: str) -> None:
    if kinds.setdefault(name, kind) != kind:
        raise TypeError(f"key {name!r} is both {kinds[name]} and {kind}: `suspect` cannot tell")


def _field_check(
    name: str,
    info: FieldInfo,
    annotation: Any,
    required: bool,
    item_check: Callable[[str], str] | None,
) -> Callable[[str], str]:
    conditions: list[Callable[[str], str]] = []
    is_list = item_check is not None
    for m in info.metadata:
        if m is _INSTANT:
            continue
        if isinstance(m, annotated_types.MinLen):
            size = "len" if is_list else "length"
            conditions.append(lambda v, m=m, size=size: f"{size}({v}) >= {m.min_length}")
        elif isinstance(m, annotated_types.MaxLen):
            size = "len" if is_list else "length"
            conditions.append(lambda v, m=m, size=size: f"{size}({v}) <= {m.max_length}")
        elif isinstance(m, annotated_types.Ge):
            conditions.append(lambda v, m=m: f"{v} >= {m.ge}")
        elif isinstance(m, annotated_types.Gt):
            conditions.append(lambda v, m=m: f"{v} > {m.gt}")
        elif isinstance(m, annotated_types.Le):
            conditions.append(lambda v, m=m: f"{v} <= {m.le}")
        elif isinstance(m, annotated_types.Lt):
            conditions.append(lambda v, m=m: f"{v} < {m.lt}")
        else:
            raise TypeError(f"{name}: the fast path cannot check {m!r}")
    if typing.get_origin(annotation) is Literal:
        allowed = ", ".join("'" + a.replace("'", "''") + "'" for a in typing.get_args(annotation))
        conditions.append(lambda v: f"{v} IN ({allowed})")
    elif annotation in _FORMATS:
        conditions.append(lambda v: _FORMATS[annotation].format(x=v))
    if item_check is not None:
        conditions.append(
            lambda v: f"list_bool_and(list_transform({v}, lambda item: {item_check('item')}))"
        )

    def check(x: str) -> str:
        v = f"{x}.{quote(name)}"
        body = " AND ".join(c(v) for c in conditions)
        if required:
            return f"{v} IS NOT NULL AND {body}" if body else f"{v} IS NOT NULL"
        # A key with a default may be missing (`suspect` has ruled out an explicit null).
        return f"{v} IS NULL OR ({body})" if body else "true"

    return check


# The union's discriminator is required even where the model gives it a default: the
# pydantic path decodes through the union, which must see it.
_DISCRIMINATOR: str = next(
    m.discriminator for m in typing.get_args(Event)[1:] if isinstance(m, FieldInfo)
)

LOG_APPENDED = JsonRecord.of(LogAppended, stored={"lines": LOG_LINES})
"""LogAppended as the fast path parses it; its lines as `log_lines` stores them."""
