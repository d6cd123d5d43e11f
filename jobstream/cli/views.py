"""`list`, `show`, `status`, `log`, `stats`: questions answered from the views."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from datetime import datetime

import click

from jobstream.cli.common import api_client, pass_settings, run_async, session
from jobstream.client import ApiClient
from jobstream.console import format_lines, format_record, format_table
from jobstream.events.models import Status
from jobstream.projections import queries
from jobstream.projections.records import JobRecord, LogLineRow, Stats
from jobstream.settings import Settings

__all__ = ["list_command", "log", "show", "stats", "status"]

STATUSES = [s.name for s in Status]


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

    filters = {
        "status": [x.upper() for x in statuses] or None,
        "name": name,
        "since": since.astimezone() if since else None,
        "until": until.astimezone() if until else None,
        "limit": limit,
        "offset": offset,
    }

    async def go() -> list[JobRecord]:
        if (client := api_client(settings)) is not None:
            async with client:
                return await client.list_jobs(**filters)
        async with session(settings) as s:
            return await s.host.query(functools.partial(queries.list_jobs, **filters))

    records = run_async(go())
    if as_json:
        click.echo(json.dumps([_record_json(r) for r in records], indent=2))
    elif records:
        click.echo(format_table(records, color=sys.stdout.isatty()))
    else:
        click.echo("no jobs")


async def _job(settings: Settings, job: str) -> JobRecord:
    if (client := api_client(settings)) is not None:
        async with client:
            return await client.job(job)
    async with session(settings) as s:
        return await s.host.query(queries.get_job, await s.host.query(queries.resolve_job_id, job))


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

    async def remote(client: ApiClient) -> None:
        async with client:
            job_id = (await client.job(job)).job_id
            if follow:
                async for line in client.follow(job_id, start):
                    show([line])
                return
            line = start
            while (page := await client.log_page(job_id, line)).lines:
                show(page.lines)
                line = page.next

    async def go() -> None:
        if (client := api_client(settings)) is not None:
            return await remote(client)
        async with session(settings) as s:
            job_id = await s.host.query(queries.resolve_job_id, job)
            stop = asyncio.Event()
            projecting = asyncio.create_task(s.host.run(stop)) if follow else None
            line = start
            try:
                while True:
                    record = await s.host.query(queries.get_job, job_id)
                    page = await s.host.query(queries.log_range, job_id, line, 5000)
                    if page:
                        show(page)
                        line = page[-1].n + 1
                        continue
                    if not follow or record.completed:
                        return
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                if projecting:
                    await projecting

    run_async(go())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@pass_settings
def stats(settings: Settings, as_json: bool) -> None:
    """Jobs by status and how long finished jobs took."""

    async def go() -> Stats:
        if (client := api_client(settings)) is not None:
            async with client:
                return await client.stats()
        async with session(settings) as s:
            return await s.host.query(queries.stats)

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
