"""`workspace clean`: remove finished jobs' workspaces by hand, as the worker does after
each job (setting `workspace_retention`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jobstream.cli.common import pass_settings

if TYPE_CHECKING:
    from jobstream.runners.workspace import Retention
    from jobstream.settings import Settings

__all__ = ["workspace"]


def _retention(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Retention | None:
    from jobstream.runners.workspace import Retention

    try:
        return None if value is None else Retention.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group()
def workspace() -> None:
    """Jobs' working directories under the data directory."""


@workspace.command()
@click.option(
    "--keep",
    callback=_retention,
    help="none, last:N or a duration (1h, 7d) [default: the workspace_retention setting].",
)
@pass_settings
def clean(settings: Settings, keep: Retention | None) -> None:
    """Remove the workspaces that are not kept, and scripts a crashed worker left behind.
    A job's workspace is never removed while the job runs, in any process."""
    from jobstream.runners.workspace import clean_workspaces, sweep_scripts

    root = settings.workspaces
    scripts = sweep_scripts(root)
    removed = clean_workspaces(root, keep or settings.retention)
    for path in removed:
        click.echo(f"removed {path}")
    click.echo(f"{len(removed)} workspace(s) removed, {len(scripts)} left-over script(s)")
