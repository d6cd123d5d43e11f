"""What every subcommand shares: settings from the context, exit codes, opening the views."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from jobstream import runtime
from jobstream.app import open_log, projection_host
from jobstream.client import ApiClient
from jobstream.events.errors import (
    AmbiguousJobId,
    DocumentError,
    JobNotFound,
    JobstreamError,
    ViewsBusy,
)
from jobstream.events.log.base import EventLog
from jobstream.projections import ViewsHost
from jobstream.settings import Settings, SettingsError

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_UNKNOWN_JOB",
    "Session",
    "api_client",
    "pass_settings",
    "run_async",
    "session",
]

EXIT_FAILED = 1  # the job did not succeed, or a document has errors
EXIT_UNKNOWN_JOB = 2  # no such job id, or an ambiguous prefix (click's usage errors too)
EXIT_BUSY = 3  # another process holds the views

T = TypeVar("T")


@dataclass
class Session:
    settings: Settings
    log: EventLog
    host: ViewsHost


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


@contextlib.asynccontextmanager
async def session(settings: Settings, *, catch_up: bool = True) -> AsyncIterator[Session]:
    """The log and the views, held by this process; the views first catch up with the log,
    so a query answers for everything appended so far."""
    async with open_log(settings) as log, projection_host(settings, log) as host:
        if catch_up:
            await host.run_until_caught_up()
        yield Session(settings, log, host)


def api_client(settings: Settings) -> ApiClient | None:
    """A client of the API to ask instead of opening the views: the configured server, else
    the one a `serve` or `project` on this data directory announced; None when neither."""
    url = settings.server
    if url is None:
        info = runtime.discover(settings.data_dir)
        url = info.url if info is not None else None
    return ApiClient(url, settings.token) if url is not None else None
