"""`/stages`: stored, versioned stages (define one, list them, read one name's versions).

Defining appends a StageDefined to the stages topic (the duplicate check reads the topic
itself, as every writer does); the reads answer from the `stages` view.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from jobstream.api.auth import Reader, Writer
from jobstream.api.body import JSON_TYPES, YAML_TYPES, document_format, read_limited
from jobstream.api.errors import ERROR_RESPONSES, ApiError, responses
from jobstream.api.state import ServicesDep
from jobstream.events.documents.stages import define_stage
from jobstream.events.documents.validation import Problem, load_stage
from jobstream.events.errors import DocumentError, StageExists, StageNotFound
from jobstream.projections import queries
from jobstream.projections.records import StageRecord

__all__ = ["StageCreated", "StageList", "router"]

router = APIRouter(prefix="/stages", tags=["stages"], responses=ERROR_RESPONSES)

# As for jobs: waiting this long for the view to show a new stage makes `create` then
# `show` work; after it the stage is defined all the same.
_VISIBLE_WITHIN = 5.0

Name = Annotated[str, Path(description="a stage name")]


class StageCreated(BaseModel):
    name: str
    version: str
    warnings: list[Problem]


class StageList(BaseModel):
    """Stored stages by name, each name's versions in the order they were defined (the
    last of a name is the one a sequence entry without `version` resolves to)."""

    stages: list[StageRecord]


@router.post(
    "",
    status_code=201,
    response_model=StageCreated,
    summary="Define a stored stage (JSON or YAML: name, version, steps)",
    responses=responses(400, 409, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "object"}} for t in (*JSON_TYPES, *YAML_TYPES)},
        }
    },
)
async def create_stage(request: Request, services: ServicesDep, who: Writer) -> StageCreated:
    """Validate the stage with a job document's step rules (`version` defaults to 0.0.1
    and must match Cyclid's pattern) and store it. A name and version is defined once:
    409 stage_exists for a second."""
    fmt = document_format(request.headers.get("content-type"))
    body = await read_limited(request, services.settings.max_body)
    try:
        validated = await asyncio.to_thread(load_stage, body, "request body", format=fmt)
    except DocumentError as exc:
        raise ApiError(
            400,
            "invalid_stage",
            f"the stage has {len(exc.problems)} problem(s)",
            problems=exc.problems,
        ) from None
    stage = validated.stage
    try:
        record = await define_stage(
            services.log, services.settings.topics.stages, stage, writer=f"api-{who.name}"
        )
    except StageExists as exc:
        raise ApiError(409, "stage_exists", str(exc)) from None
    with contextlib.suppress(TimeoutError):
        await services.host.wait_for(record, timeout=_VISIBLE_WITHIN)
    assert stage.version is not None
    return StageCreated(name=stage.name, version=stage.version, warnings=validated.warnings)


@router.get("", response_model=StageList, summary="Every stored stage")
async def list_stages(services: ServicesDep, _: Reader) -> StageList:
    return StageList(stages=await services.host.query(queries.list_stages))


@router.get(
    "/{name}",
    response_model=StageList,
    summary="Every version of one stored stage",
    responses=responses(404),
)
async def stage_versions(name: Name, services: ServicesDep, _: Reader) -> StageList:
    versions = await services.host.query(queries.list_stages, name)
    if not versions:
        raise _not_found(StageNotFound(name))
    return StageList(stages=versions)


@router.get(
    "/{name}/{version}",
    response_model=StageRecord,
    summary="One version of a stored stage",
    responses=responses(404),
)
async def stage_version(name: Name, version: str, services: ServicesDep, _: Reader) -> StageRecord:
    try:
        return await services.host.query(queries.get_stage, name, version)
    except StageNotFound as exc:
        raise _not_found(exc) from None


def _not_found(exc: StageNotFound) -> ApiError:
    return ApiError(404, "stage_not_found", str(exc))
