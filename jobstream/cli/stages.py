"""`stage create`, `stage list`, `stage show`: stored, versioned stages.

Like every other command, these ask the server's API when one runs (`--server`, or the
`serve`/`project` of this data directory), and otherwise work on the log and the views
themselves: `create` appends to the stages topic (the duplicate check reads the topic),
`list` and `show` read the `stages` view.
"""

from __future__ import annotations

import contextlib
import getpass
import sys
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from jobstream.cli.common import LocalViews, output_option, pass_settings, run_async
from jobstream.cli.exit_codes import ExitCode
from jobstream.console import OutputFormat, render

if TYPE_CHECKING:
    from jobstream.events.documents.models import Stage
    from jobstream.events.errors import JobstreamError
    from jobstream.projections.records import StageRecord
    from jobstream.settings import Settings

__all__ = ["stage"]


@click.group()
def stage() -> None:
    """Stored, versioned stages, which a job's sequence can name without defining them."""


@stage.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_settings
def create(settings: Settings, file: Path) -> None:
    """Store the stage in FILE (YAML or JSON: name, version, steps).

    `version` defaults to 0.0.1 and must look like 1.0.0 (Cyclid's pattern). A name and
    version is stored once: defining it again fails (exit 2). Prints NAME vVERSION."""
    from jobstream.events.documents.stages import define_stage
    from jobstream.events.documents.validation import format_problems, load_stage
    from jobstream.logs import open_log

    # Its problems, if any, are printed by the command group as `lint` prints them (exit 4).
    validated = load_stage(file.read_bytes(), str(file))
    for line in format_problems(str(file), validated.warnings):
        click.echo(line, err=True)
    new = validated.stage

    async def go() -> None:
        api = _api(settings)
        if api is not None:
            async with api:
                await api.create(new)
            return
        async with open_log(settings) as log:
            await define_stage(log, settings.topics.stages, new, writer=_writer())

    run_async(go())
    click.echo(f"{new.name} v{new.version}")


@stage.command("list")
@output_option
@pass_settings
def list_command(settings: Settings, output: OutputFormat) -> None:
    """Every stored stage, as NAME vVERSION lines (JSON and YAML: an array of stages); each
    name's versions in the order they were defined (the last is what a job naming it
    without a version runs)."""

    async def go() -> list[StageRecord]:
        from jobstream.logs import open_log
        from jobstream.projections import queries  # DuckDB: only for commands that read views

        api = _api(settings)
        if api is not None:
            async with api:
                return await api.list()
        async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
            return await LocalViews(settings, log, stack).query(queries.list_stages)

    stages = run_async(go())
    if output != "table":
        click.echo(render([s.model_dump(mode="json") for s in stages], output))
        return
    for s in stages:
        click.echo(f"{s.name} v{s.version}")


@stage.command()
@click.argument("name")
@click.option("--version", help="This version (default: the one defined most recently).")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["json", "yaml"]),
    default="json",
    show_default=True,
    help="How to print the stage (its steps are a document, not a table).",
)
@pass_settings
def show(
    settings: Settings, name: str, version: str | None, output: Literal["json", "yaml"]
) -> None:
    """Print stored stage NAME (exit 2 if it is not stored)."""
    from jobstream.events.errors import StageNotFound

    async def go() -> StageRecord | StageNotFound:
        from jobstream.logs import open_log
        from jobstream.projections import queries

        try:
            api = _api(settings)
            if api is not None:
                async with api:
                    return await api.get(name, version)
            async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
                views = LocalViews(settings, log, stack)
                return await views.query(queries.get_stage, name, version)
        except StageNotFound as missing:
            return missing

    found = run_async(go())
    if isinstance(found, StageNotFound):
        click.echo(f"error: {found}", err=True)
        sys.exit(ExitCode.USAGE)
    click.echo(render(found.model_dump(mode="json"), output))


def _writer() -> str:
    try:
        return f"cli-{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _api(settings: Settings) -> _StagesApi | None:
    # The same choice as `cli.common.remote_jobs`: the configured server, else the one a
    # `serve`/`project` on this data directory announced.
    from jobstream import runtime

    url = settings.server
    if url is None:
        info = runtime.discover(settings.data_dir)
        url = info.url if info is not None else None
    return _StagesApi(url, settings.token) if url is not None else None


class _StagesApi:
    """`/stages` of the API, failing with the exceptions the local path raises."""

    def __init__(self, url: str, token: str | None) -> None:
        import httpx  # only commands that talk to a server pay for importing it

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30.0)

    async def __aenter__(self) -> _StagesApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def create(self, new: Stage) -> None:
        from jobstream.events.errors import StageExists

        body = new.model_dump_json(exclude_none=True).encode()
        await self._call(
            "POST",
            "/stages",
            content=body,
            headers={"Content-Type": "application/json"},
            refused=StageExists(new.name, new.version),
        )

    async def list(self) -> list[StageRecord]:
        from jobstream.projections.records import StageRecord

        page = await self._call("GET", "/stages")
        return [StageRecord.model_validate(s) for s in page["stages"]]

    async def get(self, name: str, version: str | None) -> StageRecord:
        from jobstream.events.errors import StageNotFound
        from jobstream.projections.records import StageRecord

        missing = StageNotFound(name, version)
        if version is not None:
            path = f"/stages/{_segment(name)}/{_segment(version)}"
            return StageRecord.model_validate(await self._call("GET", path, refused=missing))
        page = await self._call("GET", f"/stages/{_segment(name)}", refused=missing)
        return StageRecord.model_validate(page["stages"][-1])

    async def _call(
        self, method: str, path: str, *, refused: JobstreamError | None = None, **kwargs: Any
    ) -> Any:
        """The answer's JSON; `refused` is raised for the server's stage_exists or
        stage_not_found (the caller knows which stage it asked about)."""
        import httpx

        from jobstream.service.remote import ApiRequestError

        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiRequestError(f"cannot reach the jobstream API at {self.url}: {exc}") from None
        if not response.is_error:
            return response.json()
        body: Any = {}
        try:
            body = response.json()
            code, message = body["code"], body["message"]
        except (ValueError, KeyError, TypeError):
            code, message = "", response.text[:200] or response.reason_phrase
        if refused is not None and code in ("stage_exists", "stage_not_found"):
            raise refused
        raise _error(code, message, body, self.url, response.status_code)


def _error(code: str, message: str, body: Any, url: str, status: int) -> JobstreamError:
    from jobstream.events.documents.validation import Problem
    from jobstream.events.errors import DocumentError
    from jobstream.service.remote import ApiRequestError

    if code == "invalid_stage":
        return DocumentError([Problem.model_validate(p) for p in body.get("problems", [])], url)
    return ApiRequestError(f"{url}: {message} ({status} {code})".rstrip(), status=status, code=code)


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")
