"""`list`, `show`, `status`, `log`, `stats`: questions answered from the views."""

from __future__ import annotations

import re
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from jobstream.cli.common import (
    ask,
    jobs_service,
    output_option,
    pass_settings,
    run_async,
    terminal,
)
from jobstream.cli.completion import job_argument
from jobstream.cli.exit_codes import ExitCode
from jobstream.console import (
    OutputFormat,
    format_duration,
    format_lines,
    format_record,
    format_stages,
    format_table,
    render,
)

if TYPE_CHECKING:
    from jobstream.projections.records import JobRecord, LogLineRow, Stats
    from jobstream.service.base import JobList, JobsService, JobSteps
    from jobstream.settings import Settings

__all__ = ["SinceType", "list_command", "log", "show", "stats", "status"]

# The names of jobstream.events.values.Status (tests/jobstream/test_cli_startup.py checks),
# written out so that building the command line imports no model.
STATUSES = ["NEW", "WAITING", "STARTED", "FAILING", "SUCCEEDED", "FAILED", "CANCELLED"]
LOG_PAGE = 5000  # lines `log` asks for at a time


def _record_json(record: JobRecord, *, document: bool = False) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude=None if document else {"document"})


_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class SinceType(click.ParamType):
    """A time (ISO 8601; without a zone, UTC) or a duration back from now: `90s`, `10m`,
    `2h`, `1d`, `1h30m`."""

    name = "TIME|DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        match = _DURATION.fullmatch(text)
        if text and match:
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            ago = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            return datetime.now(UTC) - ago
        try:
            return _utc(datetime.fromisoformat(text))
        except ValueError:
            self.fail(
                f"{text!r} is neither a time (2026-12-01T10:00:00Z) nor a duration "
                "(90s, 10m, 1h30m, 2d)",
                param,
                ctx,
            )


@click.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only jobs in this status (repeatable).",
)
@click.option("--name", help="Only jobs whose name matches (a glob like 'build-*', or a part).")
@click.option(
    "--since", type=SinceType(), help="Submitted at or after a time (UTC) or a duration ago (1h)."
)
@click.option("--until", type=click.DateTime(), help="Submitted before (UTC).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@output_option
@pass_settings
def list_command(
    settings: Settings,
    statuses: tuple[str, ...],
    name: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
    output: OutputFormat,
) -> None:
    """List jobs, newest first (times in UTC; JSON and YAML: an array of job records)."""
    from jobstream.events.values import Status

    def page(jobs: JobsService) -> Coroutine[Any, Any, JobList]:
        return jobs.list(
            status=[Status[x.upper()] for x in statuses] or None,
            name=name,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
            offset=offset,
        )

    records = ask(settings, page).jobs
    if output != "table":
        click.echo(render([_record_json(r) for r in records], output))
    elif records:
        click.echo(format_table(records, terminal()))
    else:
        click.echo("no jobs")


def _utc(value: datetime | None) -> datetime | None:
    # A time typed without a zone is UTC, as the API's `since` and every time shown.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _job(settings: Settings, job: str) -> JobRecord:
    return ask(settings, lambda jobs: jobs.get(job))


@click.command()
@job_argument
@output_option
@pass_settings
def show(settings: Settings, job: str, output: OutputFormat) -> None:
    """Show the record of JOB (an id or a unique prefix), and its stages (JSON and YAML:
    the record with its document, secrets shown as `***`)."""
    if output != "table":
        record = _job(settings, job)
        click.echo(render(_record_json(record, document=True), output))
        return

    async def with_steps(jobs: JobsService) -> tuple[JobRecord, JobSteps]:
        record = await jobs.get(job)
        return record, await jobs.steps(record.job_id)

    record, steps = ask(settings, with_steps)
    screen = terminal()
    click.echo(format_record(record, screen))
    stages = format_stages(steps, screen)
    if stages:
        click.echo(stages)


@click.command()
@job_argument
@output_option
@pass_settings
def status(settings: Settings, job: str, output: OutputFormat) -> None:
    """Print the status of JOB; exit 0 if it SUCCEEDED or is still running, 1 otherwise.
    (JSON and YAML: the job id, status, stage and reason.)"""
    record = _job(settings, job)
    if output != "table":
        fields = {"job_id", "status", "stage", "reason", "completed"}
        click.echo(render(record.model_dump(mode="json", include=fields), output))
    else:
        click.echo(record.status.name)
    ended_badly = record.status.name in ("FAILED", "CANCELLED")
    sys.exit(ExitCode.FAILED if ended_badly else ExitCode.OK)


@click.command()
@job_argument
@click.option("--from", "start", default=1, type=click.IntRange(1), help="First line number.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the job ends.")
@click.option(
    "--tail",
    "-n",
    type=click.IntRange(0),
    help="Only the last N lines (with --follow: then every new one).",
)
@click.option(
    "--since",
    type=SinceType(),
    help="Only lines written since a time (ISO 8601; UTC without a zone) or for a "
    "duration back from now (90s, 10m, 1h30m, 2d).",
)
@click.option(
    "--timestamps",
    "-t",
    is_flag=True,
    help="Put before each line the time it was written (UTC, to the millisecond).",
)
@pass_settings
def log(
    settings: Settings,
    job: str,
    start: int,
    follow: bool,
    tail: int | None,
    since: datetime | None,
    timestamps: bool,
) -> None:
    """Print the log of JOB from a line number, reading it in pages."""
    screen = terminal()

    def show(lines: list[LogLineRow]) -> None:
        sys.stdout.write(format_lines(lines, screen, timestamps=timestamps))
        sys.stdout.flush()

    async def read(jobs: JobsService) -> None:
        # `--since` and `--tail` choose the first line; the rest reads on from there.
        page = await jobs.log(job, start, LOG_PAGE, since=since, tail=tail)
        while page.lines:
            show(page.lines)
            page = await jobs.log(page.job_id, page.next, LOG_PAGE)

    async def follow_log() -> None:
        # Streamed, so asynchronous: the views are kept up to date meanwhile if no server
        # holds them.
        async with jobs_service(settings, live=True) as jobs:
            page = await jobs.log(job, start, LOG_PAGE, since=since, tail=tail)
            show(page.lines)
            async for line in jobs.follow(page.job_id, page.next):
                show([line])

    if follow:
        run_async(follow_log())
    else:
        ask(settings, read)


@click.command()
@output_option
@pass_settings
def stats(settings: Settings, output: OutputFormat) -> None:
    """Jobs by status and how long finished jobs took (JSON and YAML: seconds, unrounded)."""

    result: Stats = ask(settings, lambda jobs: jobs.stats())
    if output != "table":
        click.echo(render(result.model_dump(mode="json"), output))
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
