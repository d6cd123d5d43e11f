"""`list`, `show`, `status`, `log`, `stats`: questions answered from the views."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import jobs_service, pass_settings, run_async, terminal
from jobstream.cli.exit_codes import ExitCode
from jobstream.console import (
    format_duration,
    format_lines,
    format_record,
    format_stages,
    format_table,
)

if TYPE_CHECKING:
    from jobstream.projections.records import JobRecord, LogLineRow, Stats
    from jobstream.service.base import JobSteps
    from jobstream.settings import Settings

__all__ = ["list_command", "log", "show", "stats", "status"]

# The names of jobstream.events.models.Status (tests/jobstream/test_cli_startup.py checks),
# written out so that building the command line imports no model.
STATUSES = ["NEW", "WAITING", "STARTED", "FAILING", "SUCCEEDED", "FAILED", "CANCELLED"]
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
@click.option("--since", type=click.DateTime(), help="Submitted at or after (UTC).")
@click.option("--until", type=click.DateTime(), help="Submitted before (UTC).")
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
    """List jobs, newest first (times in UTC)."""
    from jobstream.events.models import Status

    async def go() -> list[JobRecord]:
        async with jobs_service(settings) as jobs:
            page = await jobs.list(
                status=[Status[x.upper()] for x in statuses] or None,
                name=name,
                since=_utc(since),
                until=_utc(until),
                limit=limit,
                offset=offset,
            )
        return page.jobs

    records = run_async(go())
    if as_json:
        click.echo(json.dumps([_record_json(r) for r in records], indent=2))
    elif records:
        click.echo(format_table(records, terminal()))
    else:
        click.echo("no jobs")


def _utc(value: datetime | None) -> datetime | None:
    # A time typed without a zone is UTC, as the API's `since` and every time shown.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


async def _job(settings: Settings, job: str) -> JobRecord:
    async with jobs_service(settings) as jobs:
        return await jobs.get(job)


@click.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@pass_settings
def show(settings: Settings, job: str, as_json: bool) -> None:
    """Show the record of JOB (an id or a unique prefix), and its stages."""
    if as_json:
        record = run_async(_job(settings, job))
        click.echo(json.dumps(_record_json(record, document=True), indent=2))
        return

    async def go() -> tuple[JobRecord, JobSteps]:
        async with jobs_service(settings) as jobs:
            record = await jobs.get(job)
            return record, await jobs.steps(record.job_id)

    record, steps = run_async(go())
    screen = terminal()
    click.echo(format_record(record, screen))
    stages = format_stages(steps, screen)
    if stages:
        click.echo(stages)


@click.command()
@click.argument("job")
@pass_settings
def status(settings: Settings, job: str) -> None:
    """Print the status of JOB; exit 0 if it SUCCEEDED or is still running, 1 otherwise."""
    record = run_async(_job(settings, job))
    click.echo(record.status.name)
    ended_badly = record.status.name in ("FAILED", "CANCELLED")
    sys.exit(ExitCode.FAILED if ended_badly else ExitCode.OK)


@click.command()
@click.argument("job")
@click.option("--from", "start", default=1, type=click.IntRange(1), help="First line number.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the job ends.")
@pass_settings
def log(settings: Settings, job: str, start: int, follow: bool) -> None:
    """Print the log of JOB from a line number, reading it in pages."""
    screen = terminal()

    def show(lines: list[LogLineRow]) -> None:
        sys.stdout.write(format_lines(lines, screen))
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
    """Jobs by status and how long finished jobs took (`--json`: seconds, unrounded)."""

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
        elif value is None:
            click.echo(f"{key}: -")
        elif key.endswith("duration"):
            click.echo(f"{key}: {format_duration(value)}")
        else:
            click.echo(f"{key}: {value}")
