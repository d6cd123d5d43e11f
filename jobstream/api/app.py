"""`create_app`: the FastAPI application over the views, the log and the token store."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from jobstream.api.body import RequestLimits
from jobstream.api.errors import install_error_handlers
from jobstream.api.hosts import AllowedHosts
from jobstream.api.metrics import Metrics, RequestTimer
from jobstream.api.routes import dead_letters, jobs, jobs_stream, logs, metrics, service, stages
from jobstream.api.state import Services
from jobstream.api.tokens import TokenStore
from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.base import EventLog
from jobstream.projections.host import ViewsHost
from jobstream.settings import Settings

__all__ = ["allowed_hosts", "create_app"]

STATIC = Path(__file__).parent / "static"

_DESCRIPTION = """\
Submit Cyclid-format job documents, list and read jobs, follow logs live (Server-Sent
Events). Errors are `{"code": ..., "message": ...}`; with auth on, every endpoint needs
`Authorization: Bearer TOKEN` (`jobstream token create NAME --scope read|write`).
"""


def create_app(
    settings: Settings,
    log: EventLog,
    host: ViewsHost,
    box: SecretBox,
    *,
    stop: asyncio.Event | None = None,
) -> FastAPI:
    """The API of the process that holds `host`'s views; `stop` ends open log streams."""
    app = FastAPI(
        title="jobstream",
        version=version("jobstream"),
        description=_DESCRIPTION,
        docs_url=None,  # served below from local files: FastAPI's page loads them from a CDN
        redoc_url=None,
    )
    app.state.services = Services(
        settings=settings,
        log=log,
        host=host,
        box=box,
        tokens=TokenStore(settings.tokens_path),
        stop=stop or asyncio.Event(),
    )
    install_error_handlers(app)
    app.state.metrics = Metrics()
    app.add_middleware(RequestTimer, metrics=app.state.metrics)
    # Outermost first: a request for another host is refused before its body is read.
    app.add_middleware(RequestLimits, max_body=settings.max_body, timeout=settings.body_timeout)
    app.add_middleware(AllowedHosts, hosts=allowed_hosts(settings))
    # jobs_stream first: its /jobs/stream must match before /jobs/{job_id} does.
    routers = (jobs_stream, jobs, logs, service, stages, dead_letters, metrics)
    for router in (module.router for module in routers):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def allowed_hosts(settings: Settings) -> list[str]:
    """The `allowed_hosts` setting and the address the server listens on: the URL in
    `server.json` names it (even `0.0.0.0`), and the command line calls that URL."""
    bound = f"[{settings.host}]" if ":" in settings.host else settings.host
    return [*settings.allowed_hosts, bound]


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the job document's schema the POST body refers to (the
    body is parsed by jobstream's own validator, so FastAPI never sees the model)."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        document = JobDocument.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(document.pop("$defs", {}))
        components[jobs.DOCUMENT_SCHEMA_NAME] = document
        app.openapi_schema = schema
    return app.openapi_schema
