"""What every subcommand shares: settings from the context, the terminal, the jobs
service (the server's API, or the views this process opens)."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import click

from jobstream.console import OutputFormat, Terminal

if TYPE_CHECKING:
    import asyncio

    from jobstream.events.log.base import EventLog, Record, TopicPartition
    from jobstream.projections import ViewsHost
    from jobstream.service import JobsService, LocalJobs, RemoteJobs
    from jobstream.settings import Settings

# Heavy modules (duckdb, aiokafka, httpx, the runner) are imported inside the functions
# that use them, so `--help` and `lint` start fast (jobstream.cli.group); asyncio too, so
# that a question a server answers (`ask`) never loads it.

__all__ = [
    "LocalViews",
    "ask",
    "jobs_service",
    "local_jobs",
    "output_option",
    "pass_settings",
    "remote_jobs",
    "run_async",
    "terminal",
]

T = TypeVar("T")


def load_settings(ctx: click.Context, **flags: Any) -> Settings:
    """The group's settings with this command's own flags on top."""
    from jobstream.settings import Settings

    base: dict[str, Any] = ctx.find_root().params
    return Settings.load(base.get("config"), flags={**_setting_flags(base), **flags})


def _setting_flags(params: dict[str, Any]) -> dict[str, Any]:
    from jobstream.settings import Settings

    return {k: v for k, v in params.items() if k in Settings.names()}


def terminal() -> Terminal:
    """How standard output should look, from the group's `--color` and the environment."""
    choice = click.get_current_context().find_root().params.get("color") or "auto"
    return Terminal.detect(choice)


def output_option(fn: Callable[..., T]) -> Callable[..., T]:
    """`-o/--output table|json|yaml`, and `--json` for `-o json`; the command gets
    `output`. Tables are for people (times with their zone, durations like `3 m 05 s`);
    JSON and YAML for scripts (ISO 8601 times, seconds)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, output: OutputFormat, as_json: bool, **kwargs: Any) -> T:
        return fn(*args, output="json" if as_json else output, **kwargs)

    wrapper = click.option("--json", "as_json", is_flag=True, help="Same as -o json.")(wrapper)
    return click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json", "yaml"]),
        default="table",
        show_default=True,
        help="How to print: a table for people, JSON or YAML for scripts.",
    )(wrapper)


def pass_settings(fn: Callable[..., T]) -> Callable[..., T]:
    """Give the command its Settings (group flags plus the command's setting flags)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        from jobstream.settings import Settings

        ctx = click.get_current_context()
        own = {k: kwargs.pop(k) for k in list(kwargs) if k in Settings.names()}
        return fn(load_settings(ctx, **own), *args, **kwargs)

    return wrapper


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; its errors become messages and exit codes in the group
    (jobstream.cli.group)."""
    import asyncio

    return asyncio.run(coro)


def ask(settings: Settings, question: Callable[[JobsService], Coroutine[Any, Any, T]]) -> T:
    """`question` put to the jobs service (as `jobs_service` chooses it) and answered.

    A server's API is asked with blocking requests (RemoteJobs(blocking=True)), so the
    coroutine runs to its end at its first step, with no event loop: a query command then
    neither starts one nor loads the asynchronous HTTP stack (anyio's backend, its sockets
    and TLS streams), which cost it more than the request itself."""
    remote = remote_jobs(settings, blocking=True)
    if remote is None:

        async def locally() -> T:
            async with _local_jobs_service(settings) as jobs:
                return await question(jobs)

        return run_async(locally())

    async def remotely() -> T:
        async with remote:
            return await question(remote)

    return _run_to_end(remotely())


def _run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    """The result of `coro`, which never waits (every await in it ends in a blocking call)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a question to a blocking RemoteJobs waited for an event loop")


def existing_data_dir(settings: Settings) -> None:
    """Refuse a data directory that does not exist for a command that only reads it: a
    mistyped `--data-dir` should say so, not answer `no jobs` from a new empty one. (On
    Kafka the log is elsewhere: the views are rebuilt into a new directory.)"""
    from jobstream.settings import SettingsError

    if settings.broker is None and not settings.data_dir.is_dir():
        raise SettingsError(
            f"no data directory at {settings.data_dir}: nothing has run here "
            "(mistyped --data-dir / JOBSTREAM_DATA_DIR?)"
        )


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
        import asyncio

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
                from jobstream.app import projection_host

                host = await self._stack.enter_async_context(
                    projection_host(self.settings, self.log)
                )
                if self.catch_up:
                    await host.run_until_caught_up()
                if self.live:
                    import asyncio

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

    def next_apply(self) -> asyncio.Event:
        if self._host is None:  # not open yet: say "look again", the look opens them
            import asyncio

            opened = asyncio.Event()
            opened.set()
            return opened
        return self._host.next_apply()


async def _stop_projecting(stop: asyncio.Event, projecting: asyncio.Task[None]) -> None:
    stop.set()
    await projecting


def local_jobs(settings: Settings, log: EventLog, views: LocalViews) -> LocalJobs:
    from jobstream.app import secret_box
    from jobstream.service import LocalJobs

    return LocalJobs(
        log,
        settings.topics,
        views,
        functools.partial(secret_box, settings),
        organization=settings.organization,
        callbacks=settings.callbacks_path,
    )


def remote_jobs(
    settings: Settings, *, timeout: float = 30.0, blocking: bool = False
) -> RemoteJobs | None:
    """The jobs service of the API to ask instead of opening the views: the configured
    server, else the one a `serve` or `project` on this data directory announced; None
    when neither. `timeout`: seconds any one request may take; `blocking`: see `ask`."""
    from jobstream import runtime

    # httpx imports its own command line, and rich and pygments with it, whenever those are
    # installed (about 0.1 s, half of what `list` costs); jobstream never runs it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]
    from jobstream.service import RemoteJobs

    url = settings.server
    if url is None:
        info = runtime.discover(settings.data_dir)
        url = info.url if info is not None else None
    if url is None:
        return None
    return RemoteJobs(url, settings.token, timeout=timeout, blocking=blocking)


@contextlib.asynccontextmanager
async def jobs_service(
    settings: Settings, *, live: bool = False, create: bool = False
) -> AsyncIterator[JobsService]:
    """The one service a command asks: the server's API if there is a server, else the
    log and the views of this data directory (LocalViews; `live` for following a log).
    Only a command that appends (`create`) makes a data directory that is not there."""
    remote = remote_jobs(settings)
    if remote is not None:
        async with remote:
            yield remote
        return
    async with _local_jobs_service(settings, live=live, create=create) as jobs:
        yield jobs


@contextlib.asynccontextmanager
async def _local_jobs_service(
    settings: Settings, *, live: bool = False, create: bool = False
) -> AsyncIterator[JobsService]:
    """The log and the views of this data directory, for a command no server answers."""
    if not create:
        existing_data_dir(settings)
    from jobstream.logs import open_log

    async with open_log(settings) as log, contextlib.AsyncExitStack() as stack:
        yield local_jobs(settings, log, LocalViews(settings, log, stack, live=live))
