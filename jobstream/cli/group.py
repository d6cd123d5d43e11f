"""The `jobstream` group: subcommands imported on demand, errors turned into one line and
an exit code (jobstream.cli.exit_codes).

A subcommand is registered by one line in `COMMANDS` of jobstream/cli/__init__.py,
`"name": "jobstream.cli.module:attribute"`; its module is imported only when that command
runs (or when `--help` lists it), so `jobstream list` never pays for FastAPI, faust or
aiokafka. Keep a command module's top-level imports light; import the heavy parts inside
the function that needs them (tests/jobstream/test_cli_startup.py checks `--help`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from jobstream.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from jobstream.events.errors import JobstreamError

__all__ = ["JobstreamGroup", "exit_code_for"]

# Errors of packages a command may not have imported, by "module:class" (so that matching
# an error never imports anything).
_BY_NAME: dict[str, ExitCode] = {
    "jobstream.settings:SettingsError": ExitCode.USAGE,
    "jobstream.api.tokens:TokenError": ExitCode.USAGE,
    "jobstream.callbacks.registry:CallbackNotFound": ExitCode.USAGE,
    "jobstream.callbacks.base:CallbackConfigError": ExitCode.USAGE,
    "jobstream.service.base:InvalidCursor": ExitCode.USAGE,
    "jobstream.api.server:CannotListen": ExitCode.CANNOT_LISTEN,
}


def exit_code_for(exc: JobstreamError) -> ExitCode:
    """The one exit code that says what kind of problem `exc` is."""
    from jobstream.events.errors import (
        AmbiguousJobId,
        BuilderUnavailable,
        DocumentError,
        JobNotEnded,
        JobNotFound,
        LogError,
        StageExists,
        StageNotFound,
        UnresolvedStage,
        ViewsBusy,
        ViewsOutdated,
    )

    if isinstance(exc, (DocumentError, UnresolvedStage)):
        return ExitCode.INVALID_DOCUMENT
    if isinstance(exc, (JobNotFound, AmbiguousJobId, JobNotEnded, StageExists, StageNotFound)):
        return ExitCode.USAGE
    if isinstance(exc, BuilderUnavailable):  # a setting this machine cannot honour
        return ExitCode.USAGE
    if isinstance(exc, ViewsBusy):
        return ExitCode.VIEWS_BUSY
    if isinstance(exc, ViewsOutdated):  # `jobstream replay` rebuilds them
        return ExitCode.USAGE
    if isinstance(exc, LogError):
        return ExitCode.LOG_UNREACHABLE
    for cls in type(exc).__mro__:
        if (code := _BY_NAME.get(f"{cls.__module__}:{cls.__qualname__}")) is not None:
            return code
        if f"{cls.__module__}:{cls.__qualname__}" == "jobstream.service.remote:ApiRequestError":
            status = getattr(exc, "status", None)
            return ExitCode.UNAUTHORIZED if status in (401, 403) else ExitCode.API_UNREACHABLE
    return ExitCode.ERROR


def report(exc: JobstreamError) -> None:
    """Print `exc` as the user should see it: a document's problems as `lint` prints
    them, anything else as one `error:` line."""
    from jobstream.events.errors import DocumentError

    if isinstance(exc, DocumentError):
        from jobstream.events.documents.validation import format_problems

        for line in format_problems(exc.source, exc.problems):
            click.echo(line, err=True)
        return
    click.echo(f"error: {exc}", err=True)


class JobstreamGroup(click.Group):
    """A click group whose subcommands are named in `lazy` and imported when asked for."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Imported only now: `--help` must not pay for the event models.
            from jobstream.events.errors import JobstreamError

            if not isinstance(exc, JobstreamError):
                raise
            report(exc)
            raise click.exceptions.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            # Instead of click's "Aborted!" and exit 1.
            click.echo("\ninterrupted", err=True)
            raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None
