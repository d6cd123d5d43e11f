"""Request bodies: which document format a Content-Type names, and reading under a size cap."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from jobstream.api.errors import ApiError

__all__ = ["JSON_TYPES", "YAML_TYPES", "document_format", "read_limited"]

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


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the body is larger than {limit} bytes (max_body)")
