"""`/jobs`: submit, list, read one record or its status, cancel."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import duckdb
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import StringConstraints

from jobstream.api.auth import Reader, Writer
from jobstream.api.body import JSON_TYPES, YAML_TYPES, document_format, read_limited
from jobstream.api.errors import ERROR_RESPONSES, ApiError, responses
from jobstream.api.models import CancelResult, Job, JobCreated, JobPage, JobStatus
from jobstream.api.paging import Cursor, next_cursor
from jobstream.api.state import ServicesDep
from jobstream.dispatcher.submit import request_cancel, submission, submit
from jobstream.events.documents.validation import load_document
from jobstream.events.errors import DocumentError
from jobstream.events.models import Status
from jobstream.projections import queries
from jobstream.projections.records import JobRecord

__all__ = ["DOCUMENT_SCHEMA_NAME", "find_job", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

# Waiting this long for the views to show a new job makes `submit` then `show` work;
# after it the job is in the log all the same and the answer is still 201.
_VISIBLE_WITHIN = 5.0

DOCUMENT_SCHEMA_NAME = "JobDocument"
_DOCUMENT_REF = {"$ref": f"#/components/schemas/{DOCUMENT_SCHEMA_NAME}"}

StatusFilter = Literal[tuple(s.name for s in Status)]  # type: ignore[valid-type]
JobId = Annotated[str, Path(description="a job id, or a prefix matching exactly one job")]
Labels = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^[^=]+=[\s\S]*$")]] | None,
    Query(alias="label", description="KEY=VALUE (repeatable)"),
]


def find_job(conn: duckdb.DuckDBPyConnection, prefix: str) -> JobRecord:
    """The record of the one job whose id starts with `prefix`."""
    return queries.get_job(conn, queries.resolve_job_id(conn, prefix))


def _labels(pairs: list[str] | None) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs or [])


def _aware(value: datetime | None) -> datetime | None:
    # A time without an offset is taken as UTC, the log's own clock.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@router.post(
    "",
    status_code=201,
    response_model=JobCreated,
    summary="Submit a job document (JSON or YAML)",
    responses=responses(400, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": _DOCUMENT_REF} for t in (*JSON_TYPES, *YAML_TYPES)},
        }
    },
)
async def create_job(
    request: Request,
    services: ServicesDep,
    who: Writer,
    label: Labels = None,
    organization: Annotated[
        str | None,
        Query(
            min_length=1,
            description="the job's organisation (default: the document's, else "
            "the server's `organization` setting)",
        ),
    ] = None,
) -> JobCreated:
    """Validate the document and queue it for a worker. Nothing reaches the log unless the
    document is valid; a 400 lists every problem with its path (and line)."""
    fmt = document_format(request.headers.get("content-type"))
    body = await read_limited(request, services.settings.max_body)
    try:
        # Parsing a large YAML document takes long enough to stall other requests.
        validated = await asyncio.to_thread(load_document, body, "request body", format=fmt)
    except DocumentError as exc:
        raise ApiError(
            400,
            "invalid_document",
            f"the job document has {len(exc.problems)} problem(s)",
            problems=exc.problems,
        ) from None
    event = submission(
        validated.document,
        services.box,
        labels=_labels(label),
        submitter=who.name,
        organization=organization
        or validated.document.organization
        or services.settings.organization,
    )
    record = await submit(services.log, services.settings.topics, event)
    with contextlib.suppress(TimeoutError):
        await services.host.wait_for(record, timeout=_VISIBLE_WITHIN)
    return JobCreated(job_id=event.job_id, warnings=validated.warnings)


@router.get("", response_model=JobPage, responses=responses(400), summary="List jobs, newest first")
async def list_jobs(
    services: ServicesDep,
    _: Reader,
    status: Annotated[
        list[StatusFilter] | None, Query(description="any of these (repeatable)")
    ] = None,
    name: Annotated[str | None, Query(description="a glob (`build-*`) or a substring")] = None,
    label: Labels = None,
    since: Annotated[datetime | None, Query(description="submitted at or after")] = None,
    until: Annotated[datetime | None, Query(description="submitted before")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[int, Query(ge=0, description="skip this many (or use cursor)")] = 0,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> JobPage:
    if cursor is not None and offset:
        raise ApiError(400, "bad_request", "page with either offset or cursor, not both")
    filters: dict[str, Any] = {
        "status": status or None,
        "name": name,
        "since": _aware(since),
        "labels": _labels(label),
    }
    position = Cursor.decode(cursor) if cursor is not None else None
    upper = _aware(until)
    start = offset
    if position is not None:
        upper = position.until(upper)
        start = position.offset
    total = await services.host.query(
        functools.partial(queries.count_jobs, **filters, until=_aware(until))
    )
    jobs = await services.host.query(
        functools.partial(queries.list_jobs, **filters, until=upper, limit=limit, offset=start)
    )
    following = None
    if len(jobs) == limit:
        absolute = position.position if position is not None else offset
        following = next_cursor(position, absolute, jobs).encode()
    return JobPage(
        jobs=[Job.of(j) for j in jobs],
        total=total,
        limit=limit,
        offset=None if position is not None else offset,
        next_cursor=following,
    )


@router.get("/{job_id}", response_model=Job, responses=responses(404, 409), summary="A job")
async def get_job(job_id: JobId, services: ServicesDep, _: Reader) -> Job:
    return Job.of(await services.host.query(find_job, job_id))


@router.get(
    "/{job_id}/status",
    response_model=JobStatus,
    responses=responses(404, 409),
    summary="A job's status",
)
async def get_status(job_id: JobId, services: ServicesDep, _: Reader) -> JobStatus:
    record = await services.host.query(find_job, job_id)
    return JobStatus(
        job_id=record.job_id,
        status=record.status,
        completed=record.completed,
        success=record.success,
        stage=record.stage,
        reason=record.reason,
    )


@router.post(
    "/{job_id}/cancel",
    status_code=202,
    response_model=CancelResult,
    responses={
        200: {"model": CancelResult, "description": "the job had already ended"},
        **responses(404, 409),
    },
    summary="Ask a job's runner to stop it",
)
async def cancel_job(
    job_id: JobId, response: Response, services: ServicesDep, who: Writer
) -> CancelResult:
    """202: the request is on the log, the job will end CANCELLED; 200: it had already ended."""
    record = await services.host.query(find_job, job_id)
    if record.completed:
        response.status_code = 200
        return CancelResult(job_id=record.job_id, requested=False, status=record.status)
    await request_cancel(services.log, services.settings.topics, record.job_id, who.name)
    return CancelResult(job_id=record.job_id, requested=True, status=record.status)
