"""Errors as JSON bodies `{code, message}`: one exception for the routes, handlers for the rest.

ApiError                raised by routes and dependencies with a status and a stable code
JobNotFound             -> 404 job_not_found
AmbiguousJobId          -> 409 ambiguous_job_id
JobNotEnded             -> 409 job_not_ended (a retry of a job still running)
UnresolvedStage         -> 422 unresolved_stage (a submitted job names a stage not stored)
RequestValidationError  -> 400 invalid_request (bad parameters: ranges, types)
HTTPException           -> its status, code from the status (not_found, method_not_allowed)
anything else           -> 500 internal_error, logged without the request's headers
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from jobstream.api.models import ErrorBody
from jobstream.events.documents.validation import Problem
from jobstream.events.errors import AmbiguousJobId, JobNotEnded, JobNotFound, UnresolvedStage

__all__ = ["ERROR_RESPONSES", "ApiError", "install_error_handlers", "responses"]

logger = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, problems=problems)
        self.headers = headers


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _json(exc.status, exc.body, exc.headers)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return _json(404, ErrorBody(code="job_not_found", message=str(exc)))


async def _ambiguous(request: Request, exc: Exception) -> JSONResponse:
    return _json(409, ErrorBody(code="ambiguous_job_id", message=str(exc)))


async def _not_ended(request: Request, exc: Exception) -> JSONResponse:
    return _json(409, ErrorBody(code="job_not_ended", message=str(exc)))


async def _unresolved(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnresolvedStage)
    problem = Problem(path=exc.path, message=exc.reason, severity="error")
    return _json(422, ErrorBody(code="unresolved_stage", message=str(exc), problems=[problem]))


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return _json(400, ErrorBody(code="invalid_request", message="; ".join(parts)))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
    return _json(exc.status_code, ErrorBody(code=code, message=str(exc.detail)), exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Only method and path: headers may carry a token.
    logger.exception("%s %s failed", request.method, request.url.path)
    return _json(500, ErrorBody(code="internal_error", message="internal error"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(JobNotFound, _not_found)
    app.add_exception_handler(AmbiguousJobId, _ambiguous)
    app.add_exception_handler(JobNotEnded, _not_ended)
    app.add_exception_handler(UnresolvedStage, _unresolved)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses a route can answer, all with the ErrorBody model."""
    return {s: {"model": ErrorBody, "description": _CODES.get(s, "error")} for s in statuses}


# Every route can fail validation or authentication.
ERROR_RESPONSES = responses(400, 401, 403)
