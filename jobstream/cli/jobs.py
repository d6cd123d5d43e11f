"""`run`, `submit`, `cancel`, `retry`: putting jobs on the log and taking them off again."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import (
    LocalViews,
    jobs_service,
    local_jobs,
    pass_settings,
    remote_jobs,
    run_async,
    terminal,
)
from jobstream.cli.completion import job_argument
from jobstream.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from jobstream.events.documents.validation import ValidatedDocument
    from jobstream.events.values import Status
    from jobstream.service import JobsService
    from jobstream.settings import Settings

__all__ = ["cancel", "retry", "run", "submit_command"]

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
    """The document in `path`, its warnings printed; a DocumentError (printed by the group
    as `lint` prints it, exit 4) if it has errors."""
    from jobstream.events.documents.validation import format_problems, load_document

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
    ended). Ctrl-C cancels the job, and exits 130 once it has ended CANCELLED."""
    from jobstream.cli.jobfile import default_job_file
    from jobstream.events.values import Status

    validated = _read_document(file or default_job_file())
    organization = _organization(settings, validated, organization_flag)
    cancel = asyncio.Event()
    status = run_async(_run(settings, validated, _labels(labels), organization, cancel))
    if cancel.is_set():
        click.echo("interrupted: the job was cancelled", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    sys.exit(ExitCode.OK if status is Status.SUCCEEDED else ExitCode.FAILED)


async def _run(
    settings: Settings,
    validated: ValidatedDocument,
    labels: dict[str, str],
    organization: str,
    cancel: asyncio.Event,
) -> Status:
    from jobstream.app import make_runner, secret_box, stop_on_signals
    from jobstream.console import LivePrinter, format_record
    from jobstream.dispatcher.local import LocalDispatcher
    from jobstream.dispatcher.submit import submission
    from jobstream.events.errors import ViewsBusy
    from jobstream.logs import open_log

    # The runner here is given the document itself, not the event's copy of it.
    document = validated.document.model_copy(update={"organization": organization})
    event = submission(
        document, secret_box(settings), labels=labels, dispatch="local", organization=organization
    )
    stop_on_signals(cancel)
    screen = terminal()
    async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
        # The views are taken before the job starts and kept up while it runs.
        views = LocalViews(settings, log, stack, catch_up=False, live=True)
        jobs: JobsService | None
        try:
            await views.open()
            jobs = local_jobs(settings, log, views)
        except ViewsBusy as busy:
            holder = busy.holder
            # The process that holds the views answers for them, if it has an API.
            jobs = remote_jobs(settings)
            if jobs is not None:
                await stack.enter_async_context(jobs)
                # Refused (401, 403) or unreachable: say so before the job runs, not after.
                await jobs.list(limit=1)
        dispatcher = LocalDispatcher(
            log, settings.topics, make_runner(settings), lease=settings.lease
        )
        result = await dispatcher.run(
            event, document, cancel=cancel, observer=LivePrinter(terminal=screen)
        )
        if jobs is None:
            click.echo(f"note: {holder} holds the views; they will show this job", err=True)
            click.echo(f"       job  {event.job_id}\n    status  {result.status.name}")
            return result.status
        record = await jobs.wait(event.job_id, after=result.last, timeout=RECORD_TIMEOUT)
        click.echo(format_record(record, screen))
        return result.status


@click.command("submit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@labels_option
@organization_option
@pass_settings
def submit_command(
    settings: Settings, file: Path, labels: tuple[str, ...], organization_flag: str | None
) -> None:
    """Queue the job in FILE for a worker and print its id."""
    extra = _labels(labels)
    validated = _read_document(file)

    async def go() -> str:
        from jobstream.events.errors import DocumentError

        async with jobs_service(settings, create=True) as jobs:
            try:
                return await jobs.submit(validated, extra, organization=organization_flag)
            except DocumentError as rejected:  # by the server: its problems, this file's name
                raise DocumentError(rejected.problems, str(file)) from None

    click.echo(run_async(go()))


@click.command()
@job_argument
@pass_settings
def cancel(settings: Settings, job: str) -> None:
    """Ask the runner of JOB (an id or unique prefix) to stop it; it ends CANCELLED."""

    async def go() -> str:
        async with jobs_service(settings) as jobs:
            outcome = await jobs.cancel(job)
        if not outcome.requested:
            return f"job {outcome.job_id} already ended {outcome.status.name}"
        return f"cancel requested for job {outcome.job_id}"

    click.echo(run_async(go()))


@click.command()
@click.argument("job")
@pass_settings
def retry(settings: Settings, job: str) -> None:
    """Run the ended JOB (an id or unique prefix) again: its document, as it was submitted,
    becomes a new job whose `retry_of` names JOB. Prints the new job's id."""

    async def go() -> str:
        async with jobs_service(settings) as jobs:
            outcome = await jobs.retry(job)
        click.echo(f"job {outcome.job_id} retries job {outcome.retry_of}", err=True)
        return outcome.job_id

    click.echo(run_async(go()))
