"""`/jobs`: submit, list, read one record, its status or its steps, cancel, retry."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import StringConstraints

from jobstream.api.auth import Reader, Writer
from jobstream.api.body import JSON_TYPES, YAML_TYPES, document_format, read_limited
from jobstream.api.errors import ERROR_RESPONSES, ApiError, responses
from jobstream.api.models import (
    CancelResult,
    Job,
    JobCreated,
    JobPage,
    JobStatus,
    JobSteps,
    RetryResult,
)
from jobstream.api.state import ServicesDep
from jobstream.events.documents.validation import load_document
from jobstream.events.errors import DocumentError
from jobstream.events.models import Status
from jobstream.service import InvalidCursor

__all__ = ["DOCUMENT_SCHEMA_NAME", "JobId", "router"]

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)

DOCUMENT_SCHEMA_NAME = "JobDocument"
# The views count in 64 bits; no list is longer.
MAX_OFFSET = 2**62
_DOCUMENT_REF = {"$ref": f"#/components/schemas/{DOCUMENT_SCHEMA_NAME}"}

StatusFilter = Literal[tuple(s.name for s in Status)]  # type: ignore[valid-type]
JobId = Annotated[str, Path(description="a job id, or a prefix matching exactly one job")]
Labels = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^[^=]+=[\s\S]*$")]] | None,
    Query(alias="label", description="KEY=VALUE (repeatable)"),
]

Statuses = Annotated[list[StatusFilter] | None, Query(description="any of these (repeatable)")]
Name = Annotated[str | None, Query(description="a glob (`build-*`) or a substring")]
Since = Annotated[datetime | None, Query(description="submitted at or after")]
Until = Annotated[datetime | None, Query(description="submitted before")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]


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
    responses=responses(400, 413, 415, 422),
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
    job_id = await services.jobs.submit(
        validated, _labels(label), submitter=who.name, organization=organization
    )
    return JobCreated(job_id=job_id, warnings=validated.warnings)


@router.get("", response_model=JobPage, responses=responses(400), summary="List jobs, newest first")
async def list_jobs(
    services: ServicesDep,
    _: Reader,
    status: Statuses = None,
    name: Name = None,
    label: Labels = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="skip this many (or use cursor)")
    ] = 0,
    cursor: Cursor = None,
) -> JobPage:
    if cursor is not None and offset:
        raise ApiError(400, "bad_request", "page with either offset or cursor, not both")
    try:
        page = await services.jobs.list(
            status=[Status[s] for s in status] if status else None,
            name=name,
            since=_aware(since),
            until=_aware(until),
            labels=_labels(label),
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    except InvalidCursor as exc:
        raise ApiError(400, "invalid_cursor", str(exc)) from None
    return JobPage(
        jobs=[Job.of(j) for j in page.jobs],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        next_cursor=page.next_cursor,
    )


@router.get("/{job_id}", response_model=Job, responses=responses(404, 409), summary="A job")
async def get_job(job_id: JobId, services: ServicesDep, _: Reader) -> Job:
    return Job.of(await services.jobs.get(job_id))


@router.get(
    "/{job_id}/status",
    response_model=JobStatus,
    responses=responses(404, 409),
    summary="A job's status",
)
async def get_status(job_id: JobId, services: ServicesDep, _: Reader) -> JobStatus:
    record = await services.jobs.get(job_id)
    return JobStatus(
        job_id=record.job_id,
        status=record.status,
        completed=record.completed,
        success=record.success,
        stage=record.stage,
        reason=record.reason,
    )


@router.get(
    "/{job_id}/steps",
    response_model=JobSteps,
    responses=responses(404, 409),
    summary="A job's stage runs and steps, with their lines in its log",
)
async def get_steps(job_id: JobId, services: ServicesDep, _: Reader) -> JobSteps:
    """`first_line`/`last_line` are line numbers of `GET /jobs/{id}/log`: null while a
    section has written nothing, `last_line` null while it runs. A job whose log has no
    stage events (written by an older jobstream) has no stages."""
    return await services.jobs.steps(job_id)


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
    outcome = await services.jobs.cancel(job_id, requested_by=who.name)
    if not outcome.requested:
        response.status_code = 200
    return CancelResult(job_id=outcome.job_id, requested=outcome.requested, status=outcome.status)


@router.post(
    "/{job_id}/retry",
    status_code=201,
    response_model=RetryResult,
    responses=responses(404, 409),
    summary="Run an ended job again, as a new job",
)
async def retry_job(job_id: JobId, services: ServicesDep, who: Writer) -> RetryResult:
    """Submit the job's document again as a new job whose `retry_of` names it (the old
    job's record then has `retried_by`); 409 `job_not_ended` while it has not ended."""
    outcome = await services.jobs.retry(job_id, submitter=who.name)
    return RetryResult(job_id=outcome.job_id, retry_of=outcome.retry_of)
