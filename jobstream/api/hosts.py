"""AllowedHosts: answer only requests whose `Host` names this server.

With auth off (the default) the API trusts whoever reaches it, which on 127.0.0.1 means the
local user. A web page the user opens cannot reach it directly, but it can by DNS
rebinding: its own name, resolved again to 127.0.0.1, sends `Host: evil.example`. Checking
the Host header against the names the server is known by (setting `allowed_hosts`, plus
the address it binds to) closes that door; `*` opens it for servers behind a proxy that
checks names itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from jobstream.api.models import ErrorBody

__all__ = ["AllowedHosts", "host_of"]

# Health checks of orchestrators call by address, and the answer holds no job data.
_OPEN_PATHS = frozenset({"/health"})


def host_of(header: str) -> str:
    """The name in a Host header, without the port, lower-cased (`[::1]` keeps brackets)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if ":" in header else header


class AllowedHosts:
    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(host_of(h) for h in hosts)
        self.any = "*" in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket") or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("host", "")
        if host_of(header) in self.hosts:
            await self.app(scope, receive, send)
            return
        shown = header if len(header) <= 100 else header[:97] + "..."
        body = ErrorBody(
            code="invalid_host",
            message=f"this server does not answer for the host {shown!r}; "
            "its names are in the allowed_hosts setting",
        )
        response = JSONResponse(body.model_dump(mode="json", exclude_none=True), 400)
        await response(scope, receive, send)
