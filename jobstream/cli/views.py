"""`list`, `show`, `status`, `log`, `stats`: questions answered from the views."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click

from jobstream.cli.common import jobs_service, pass_settings, run_async
from jobstream.console import format_lines, format_record, format_table
from jobstream.events.models import Status
from jobstream.projections.records import JobRecord, LogLineRow, Stats
from jobstream.settings import Settings

__all__ = ["list_command", "log", "show", "stats", "status"]

STATUSES = [s.name for s in Status]
LOG_PAGE = 5000  # lines `log` asks for at a time


def _record_json(record: JobRecord, *, document: bool = False) -> dict:
    return record.model_dump(mode="json", exclude=None if document else {"document"})


@click.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only jobs in this status (repeatable).",
)
@click.option("--name", help="Only jobs whose name matches (a glob like 'build-*', or a part).")
@click.option("--since", type=click.DateTime(), help="Submitted at or after (local time).")
@click.option("--until", type=click.DateTime(), help="Submitted before (local time).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of job records.")
@pass_settings
def list_command(
    settings: Settings,
    statuses: tuple[str, ...],
    name: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List jobs, newest first."""

    async def go() -> list[JobRecord]:
        async with jobs_service(settings) as jobs:
            page = await jobs.list(
                status=[Status[x.upper()] for x in statuses] or None,
                name=name,
                since=since.astimezone() if since else None,
                until=until.astimezone() if until else None,
                limit=limit,
                offset=offset,
            )
        return page.jobs

    records = run_async(go())
    if as_json:
        click.echo(json.dumps([_record_json(r) for r in records], indent=2))
    elif records:
        click.echo(format_table(records, color=sys.stdout.isatty()))
    else:
        click.echo("no jobs")


async def _job(settings: Settings, job: str) -> JobRecord:
    async with jobs_service(settings) as jobs:
        return await jobs.get(job)


@click.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@pass_settings
def show(settings: Settings, job: str, as_json: bool) -> None:
    """Show the record of JOB (an id or a unique prefix)."""
    record = run_async(_job(settings, job))
    if as_json:
        click.echo(json.dumps(_record_json(record, document=True), indent=2))
    else:
        click.echo(format_record(record, color=sys.stdout.isatty()))


@click.command()
@click.argument("job")
@pass_settings
def status(settings: Settings, job: str) -> None:
    """Print the status of JOB; exit 0 if it SUCCEEDED or is still running, 1 otherwise."""
    record = run_async(_job(settings, job))
    click.echo(record.status.name)
    sys.exit(1 if record.status in (Status.FAILED, Status.CANCELLED) else 0)


@click.command()
@click.argument("job")
@click.option("--from", "start", default=1, type=click.IntRange(1), help="First line number.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the job ends.")
@pass_settings
def log(settings: Settings, job: str, start: int, follow: bool) -> None:
    """Print the log of JOB from a line number, reading it in pages."""
    color = sys.stdout.isatty()

    def show(lines: list[LogLineRow]) -> None:
        sys.stdout.write(format_lines(lines, color))
        sys.stdout.flush()

    async def go() -> None:
        async with jobs_service(settings, live=follow) as jobs:
            if follow:
                async for line in jobs.follow(job, start):
                    show([line])
                return
            page = await jobs.log(job, start, LOG_PAGE)
            while page.lines:
                show(page.lines)
                page = await jobs.log(page.job_id, page.next, LOG_PAGE)

    run_async(go())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_settings
def stats(settings: Settings, as_json: bool) -> None:
    """Jobs by status and how long finished jobs took."""

    async def go() -> Stats:
        async with jobs_service(settings) as jobs:
            return await jobs.stats()

    result = run_async(go())
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    for key, value in result.model_dump().items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k:<10} {v}")
        else:
            click.echo(f"{key}: {value if value is not None else '-'}")
