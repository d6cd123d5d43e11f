"""Bearer-token authentication: a dependency per scope, a no-op while auth is off.

Nothing here logs or echoes a token: failures say only what was wrong with it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jobstream.api.errors import ApiError
from jobstream.api.state import Services
from jobstream.api.tokens import Scope, allows

_SCOPES: tuple[Scope, ...] = ("read", "write")

__all__ = ["Caller", "Reader", "Writer", "granted_scopes"]

_bearer = HTTPBearer(auto_error=False, description="a token from `jobstream token create`")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Caller:
    """Who is asking: the token's name, or `anonymous` while auth is off."""

    def __init__(self, name: str, scope: Scope) -> None:
        self.name = name
        self.scope = scope


async def _authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None, needed: Scope
) -> Caller:
    services: Services = request.app.state.services
    if not services.settings.auth:
        return Caller("anonymous", "write")
    if credentials is None:
        raise ApiError(401, "missing_token", "send Authorization: Bearer TOKEN", headers=_CHALLENGE)
    info = await asyncio.to_thread(services.tokens.check, credentials.credentials)
    if info is None:
        raise ApiError(401, "invalid_token", "unknown or revoked token", headers=_CHALLENGE)
    if not allows(info.scope, needed):
        raise ApiError(403, "insufficient_scope", f"this needs a {needed} token")
    return Caller(info.name, info.scope)


async def granted_scopes(request: Request, credentials: Credentials) -> list[Scope]:
    """What the request's token may do (both scopes while auth is off; none for a missing,
    unknown or revoked token), without refusing anything: `/whoami` answers with it."""
    services: Services = request.app.state.services
    if not services.settings.auth:
        return list(_SCOPES)
    if credentials is None:
        return []
    info = await asyncio.to_thread(services.tokens.check, credentials.credentials)
    if info is None:
        return []
    return [scope for scope in _SCOPES if allows(info.scope, scope)]


async def _read(request: Request, credentials: Credentials) -> Caller:
    return await _authenticate(request, credentials, "read")


async def _write(request: Request, credentials: Credentials) -> Caller:
    return await _authenticate(request, credentials, "write")


Reader = Annotated[Caller, Depends(_read)]
"""A route parameter that admits read and write tokens."""
Writer = Annotated[Caller, Depends(_write)]
"""A route parameter that admits write tokens only."""
