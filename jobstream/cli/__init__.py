"""The `jobstream` command line: one module per group of subcommands."""

from __future__ import annotations

import os
from pathlib import Path

import click

from jobstream.cli.callbacks import callbacks
from jobstream.cli.documents import lint, schema, secret
from jobstream.cli.jobs import cancel, run, submit_command
from jobstream.cli.services import project, replay, serve, worker
from jobstream.cli.tokens import token
from jobstream.cli.views import list_command, log, show, stats, status
from jobstream.cli.workspace import workspace

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": None})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Settings file (TOML) [env: JOBSTREAM_CONFIG; default: ./jobstream.toml].",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Workspaces, embedded log and views [env: JOBSTREAM_DATA_DIR; default: .jobstream].",
)
@click.option(
    "--broker", help="kafka://HOST:PORT[,...]; unset: the embedded log [env: JOBSTREAM_BROKER]."
)
@click.option("--server", help="URL of a running jobstream API [env: JOBSTREAM_SERVER].")
@click.option(
    "--token", help="Bearer token sent to the API [env: JOBSTREAM_TOKEN]; see `token create`."
)
@click.option("--log-level", help="Logging level of services [env: JOBSTREAM_LOG_LEVEL].")
@click.option(
    "--builder",
    help="What runs jobs' steps: sandbox, host [env: JOBSTREAM_BUILDER; default: sandbox].",
)
@click.version_option(package_name="jobstream")
def main(**_: object) -> None:
    """jobstream: CI jobs (Cyclid documents) as events on an append-only log."""
    # Every file a command writes into the data directory is the owner's only (app.data_dir).
    os.umask(0o077)


for command in (
    run,
    submit_command,
    cancel,
    list_command,
    show,
    status,
    log,
    stats,
    worker,
    project,
    serve,
    replay,
    lint,
    schema,
    secret,
    token,
    callbacks,
    workspace,
):
    main.add_command(command)
