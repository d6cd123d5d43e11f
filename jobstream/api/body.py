"""Request bodies: which document format a Content-Type names, reading under a size cap,
and the limits every request's body is held to (`RequestLimits`)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobstream.api.errors import ApiError

__all__ = ["JSON_TYPES", "YAML_TYPES", "RequestLimits", "document_format", "read_limited"]

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


def document_format(content_type: str | None) -> Literal["json", "yaml"]:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in JSON_TYPES:
        return "json"
    if media in YAML_TYPES:
        return "yaml"
    accepted = ", ".join(JSON_TYPES + YAML_TYPES)
    raise ApiError(
        415,
        "unsupported_media_type",
        f"a job document is sent as {accepted}, not {media or 'no Content-Type'}",
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    # Counted as it arrives too: a chunked body declares no length.
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, *, close: bool = False) -> ApiError:
    # `close`: the rest of the body may still be on its way, and is not read.
    return ApiError(
        413,
        "body_too_large",
        f"the body is larger than {limit} bytes (max_body)",
        headers=_CLOSE if close else None,
    )


_CLOSE = {"connection": "close"}


class RequestLimits:
    """Every route's body: at most `max_body` bytes, all of it within `timeout` seconds.

    A route that reads its body past either limit gets an ApiError from `receive` (413 or
    408), which the error handlers answer like any other; a declared length over the cap
    is refused before the route runs. A client that sends a body slowly, or never, so
    holds a connection and a task for `timeout` at most."""

    def __init__(self, app: ASGIApp, *, max_body: int, timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await _answer(scope, receive, send, _too_large(self.max_body, close=True))
                return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        whole = False
        size = 0

        async def limited() -> Message:
            nonlocal deadline, whole, size
            if whole:
                return await receive()  # only the disconnect is left to wait for
            if deadline is None:
                deadline = loop.time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise ApiError(
                    408,
                    "request_timeout",
                    f"the body did not arrive within {self.timeout:g} s (body_timeout)",
                    headers=_CLOSE,
                ) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.max_body:
                    raise _too_large(self.max_body, close=True)
                whole = not message.get("more_body", False)
            return message

        await self.app(scope, limited, send)


async def _answer(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    body = error.body.model_dump(mode="json", exclude_none=True)
    await JSONResponse(body, error.status, headers=error.headers)(scope, receive, send)
