"""What every subcommand shares: settings from the context, exit codes, the jobs service
(the server's API, or the views this process opens)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

import click

from jobstream import runtime
from jobstream.app import open_log, projection_host, secret_box
from jobstream.events.errors import (
    AmbiguousJobId,
    DocumentError,
    JobNotFound,
    JobstreamError,
    ViewsBusy,
)
from jobstream.events.log.base import EventLog, Record, TopicPartition
from jobstream.projections import ViewsHost
from jobstream.service import JobsService, LocalJobs, RemoteJobs
from jobstream.settings import Settings, SettingsError

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_UNKNOWN_JOB",
    "LocalViews",
    "jobs_service",
    "local_jobs",
    "pass_settings",
    "remote_jobs",
    "run_async",
]

EXIT_FAILED = 1  # the job did not succeed, or a document has errors
EXIT_UNKNOWN_JOB = 2  # no such job id, or an ambiguous prefix (click's usage errors too)
EXIT_BUSY = 3  # another process holds the views

T = TypeVar("T")


def load_settings(ctx: click.Context, **flags: Any) -> Settings:
    """The group's settings with this command's own flags on top."""
    base: dict[str, Any] = ctx.find_root().params
    try:
        return Settings.load(
            base.get("config"),
            flags={**_setting_flags(base), **flags},
        )
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _setting_flags(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in Settings.model_fields}


def pass_settings(fn: Callable[..., T]) -> Callable[..., T]:
    """Give the command its Settings (group flags plus the command's setting flags)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        ctx = click.get_current_context()
        own = {k: kwargs.pop(k) for k in list(kwargs) if k in Settings.model_fields}
        return fn(load_settings(ctx, **own), *args, **kwargs)

    return wrapper


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine, turning jobstream's errors into messages and exit codes."""
    try:
        return asyncio.run(coro)
    except DocumentError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_FAILED)
    except (JobNotFound, AmbiguousJobId) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNKNOWN_JOB)
    except ViewsBusy as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BUSY)
    except JobstreamError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)


class LocalViews:
    """The views as a command line with no server to ask holds them: opened by this
    process at the first query (ViewsBusy, exit 3, when another process holds them), so
    a command that only appends (`submit`) never takes DuckDB's one writer lock.

    `catch_up`: once open, apply everything the log held, so a query answers for all of
    it. `live`: keep applying what the log brings while the command runs (`log --follow`,
    and `run`, which waits for its own job to be applied). The views close with `stack`."""

    def __init__(
        self,
        settings: Settings,
        log: EventLog,
        stack: contextlib.AsyncExitStack,
        *,
        catch_up: bool = True,
        live: bool = False,
    ) -> None:
        self.settings = settings
        self.log = log
        self.catch_up = catch_up
        self.live = live
        self._stack = stack
        self._host: ViewsHost | None = None
        self._opening = asyncio.Lock()

    async def open(self) -> ViewsHost:
        """The host of the views, opened and caught up (as asked) on the first call."""
        async with self._opening:
            if self._host is None:
                host = await self._stack.enter_async_context(
                    projection_host(self.settings, self.log)
                )
                if self.catch_up:
                    await host.run_until_caught_up()
                if self.live:
                    stop = asyncio.Event()
                    projecting = asyncio.create_task(host.run(stop))
                    self._stack.push_async_callback(_stop_projecting, stop, projecting)
                self._host = host
            return self._host

    async def query(self, fn: Callable[..., T], *args: Any) -> T:
        return await (await self.open()).query(fn, *args)

    async def wait_for(
        self, target: Record | tuple[TopicPartition, int], timeout: float = 10.0
    ) -> None:
        await (await self.open()).wait_for(target, timeout)


async def _stop_projecting(stop: asyncio.Event, projecting: asyncio.Task[None]) -> None:
    stop.set()
    await projecting


def local_jobs(settings: Settings, log: EventLog, views: LocalViews) -> LocalJobs:
    return LocalJobs(
        log,
        settings.topics,
        views,
        functools.partial(secret_box, settings),
        organization=settings.organization,
    )


def remote_jobs(settings: Settings) -> RemoteJobs | None:
    """The jobs service of the API to ask instead of opening the views: the configured
    server, else the one a `serve` or `project` on this data directory announced; None
    when neither."""
    url = settings.server
    if url is None:
        info = runtime.discover(settings.data_dir)
        url = info.url if info is not None else None
    return RemoteJobs(url, settings.token) if url is not None else None


@contextlib.asynccontextmanager
async def jobs_service(settings: Settings, *, live: bool = False) -> AsyncIterator[JobsService]:
    """The one service a command asks: the server's API if there is a server, else the
    log and the views of this data directory (LocalViews; `live` for following a log)."""
    remote = remote_jobs(settings)
    if remote is not None:
        async with remote:
            yield remote
        return
    async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
        yield local_jobs(settings, log, LocalViews(settings, log, stack, live=live))
