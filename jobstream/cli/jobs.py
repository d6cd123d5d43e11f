"""`run`, `submit`, `cancel`: putting jobs on the log and taking them off again."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import click

from jobstream.app import make_runner, open_log, projection_host, secret_box, stop_on_signals
from jobstream.cli.common import EXIT_FAILED, api_client, pass_settings, run_async, session
from jobstream.cli.jobfile import default_job_file
from jobstream.client import ApiClient
from jobstream.console import LivePrinter, format_record
from jobstream.dispatcher.local import LocalDispatcher
from jobstream.dispatcher.submit import request_cancel, submission, submit
from jobstream.events.documents.validation import ValidatedDocument, format_problems, load_document
from jobstream.events.errors import JobNotFound, ViewsBusy
from jobstream.events.models import Status
from jobstream.projections import queries
from jobstream.projections.records import JobRecord
from jobstream.settings import Settings

__all__ = ["cancel", "run", "submit_command"]

# How long `run` waits for the views to show the ended job (a million-line log included).
RECORD_TIMEOUT = 600.0

# Not named like the setting, which would take the flag: the document's own key sits
# between the two.
organization_option = click.option(
    "--organization",
    "organization_flag",
    help="The job's organisation (%{organization}); default: the document's, else the "
    "`organization` setting.",
)

labels_option = click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="A label for the job (repeatable); adds to the document's own labels.",
)


def _read_document(path: Path) -> ValidatedDocument:
    validated = load_document(path.read_bytes(), str(path))
    for line in format_problems(str(path), validated.warnings):
        click.echo(line, err=True)
    return validated


def _organization(settings: Settings, validated: ValidatedDocument, option: str | None) -> str:
    return option or validated.document.organization or settings.organization


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--label")
        out[key] = value
    return out


@click.command()
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@labels_option
@organization_option
@click.option("--lease", type=float, help="Seconds without a heartbeat before the job is lost.")
@pass_settings
def run(
    settings: Settings, file: Path | None, labels: tuple[str, ...], organization_flag: str | None
) -> None:
    """Run the job in FILE here, following its log; exit 0 only if it SUCCEEDED.

    Without FILE, the current directory's .cyclid.json, .cyclid.yaml or .cyclid.yml (the
    first there, in that order, as Cyclid chose).

    Returns once the final record and every line are in the views: its own, or those of the
    `serve`/`project` holding them, asked through its API (with neither, once the job has
    ended). Ctrl-C cancels the job."""
    validated = _read_document(file or default_job_file())
    organization = _organization(settings, validated, organization_flag)
    status = run_async(_run(settings, validated, _labels(labels), organization))
    sys.exit(0 if status is Status.SUCCEEDED else EXIT_FAILED)


async def _run(
    settings: Settings, validated: ValidatedDocument, labels: dict[str, str], organization: str
) -> Status:
    # The runner here is given the document itself, not the event's copy of it.
    document = validated.document.model_copy(update={"organization": organization})
    event = submission(
        document, secret_box(settings), labels=labels, dispatch="local", organization=organization
    )
    cancel = asyncio.Event()
    stop_on_signals(cancel)
    async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
        try:
            host = await stack.enter_async_context(projection_host(settings, log))
        except ViewsBusy as busy:
            host, holder = None, busy.holder
        stop = asyncio.Event()
        projecting = asyncio.create_task(host.run(stop)) if host else None
        dispatcher = LocalDispatcher(
            log, settings.topics, make_runner(settings), lease=settings.lease
        )
        result = await dispatcher.run(event, document, cancel=cancel, observer=LivePrinter())
        if host is not None and projecting is not None:
            if result.last is not None:
                await host.wait_for(result.last, timeout=RECORD_TIMEOUT)
            stop.set()
            await projecting
            record = await host.query(queries.get_job, event.job_id)
        elif (client := api_client(settings)) is not None:
            # The process that holds the views answers for them: wait until they show it all.
            async with client:
                record = await _completed_record(client, event.job_id)
        else:
            click.echo(f"note: {holder} holds the views; they will show this job", err=True)
            click.echo(f"       job  {event.job_id}\n    status  {result.status.name}")
            return result.status
        click.echo(format_record(record, color=sys.stdout.isatty()))
        return result.status


async def _completed_record(client: ApiClient, job_id: str) -> JobRecord:
    deadline = time.monotonic() + RECORD_TIMEOUT
    while True:
        with contextlib.suppress(JobNotFound):
            record = await client.job(job_id)
            if record.completed:
                return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"the views did not show job {job_id} ended in time")
        await asyncio.sleep(0.05)


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@labels_option
@organization_option
@pass_settings
def submit_command(
    settings: Settings, file: Path, labels: tuple[str, ...], organization_flag: str | None
) -> None:
    """Queue the job in FILE for a worker and print its id."""
    if (client := api_client(settings)) is not None:
        click.echo(run_async(_submit_remote(client, file, _labels(labels), organization_flag)))
        return
    validated = _read_document(file)
    event = submission(
        validated.document,
        secret_box(settings),
        labels=_labels(labels),
        organization=_organization(settings, validated, organization_flag),
    )

    async def go() -> None:
        async with open_log(settings) as log:
            await submit(log, settings.topics, event)

    run_async(go())
    click.echo(event.job_id)


async def _submit_remote(
    client: ApiClient, file: Path, labels: dict[str, str], organization: str | None
) -> str:
    # The server validates: the file goes as written, so problems keep their line numbers.
    kind = "application/json" if file.suffix.lower() == ".json" else "application/yaml"
    async with client:
        created = await client.submit(file.read_bytes(), kind, str(file), labels, organization)
    for line in format_problems(str(file), created.warnings):
        click.echo(line, err=True)
    return created.job_id


@click.command()
@click.argument("job")
@pass_settings
def cancel(settings: Settings, job: str) -> None:
    """Ask the runner of JOB (an id or unique prefix) to stop it; it ends CANCELLED."""

    async def go() -> str:
        if (client := api_client(settings)) is not None:
            async with client:
                outcome = await client.cancel(job)
            if not outcome.requested:
                return f"job {outcome.job_id} already ended {outcome.status}"
            return f"cancel requested for job {outcome.job_id}"
        async with session(settings) as s:
            record = await s.host.query(
                queries.get_job, await s.host.query(queries.resolve_job_id, job)
            )
            if record.completed:
                return f"job {record.job_id} already ended {record.status.name}"
            await request_cancel(s.log, settings.topics, record.job_id)
            return f"cancel requested for job {record.job_id}"

    click.echo(run_async(go()))
