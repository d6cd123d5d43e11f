"""The `jobstream` command line: one module per group of subcommands."""

from __future__ import annotations

import atexit
import gc
import os
from pathlib import Path

import click

from jobstream.cli.group import JobstreamGroup

__all__ = ["COMMANDS", "main"]

# At exit the interpreter's last collections walk every object the imports made (pydantic's
# schemas above all): about 0.1 s of a query command (docs/benchmarks.md). The process is
# ending, so those objects are frozen instead (atexit runs this after the callbacks
# registered later, and before the modules are torn down); files and connections are
# closed by their code.
atexit.register(gc.freeze)

# Every subcommand: its name, and where it is (imported only when used; jobstream.cli.group).
# Adding a command is one line here.
COMMANDS = {
    "run": "jobstream.cli.jobs:run",
    "submit": "jobstream.cli.jobs:submit_command",
    "cancel": "jobstream.cli.jobs:cancel",
    "retry": "jobstream.cli.jobs:retry",
    "list": "jobstream.cli.views:list_command",
    "show": "jobstream.cli.views:show",
    "status": "jobstream.cli.views:status",
    "log": "jobstream.cli.views:log",
    "stats": "jobstream.cli.views:stats",
    "worker": "jobstream.cli.services:worker",
    "project": "jobstream.cli.services:project",
    "serve": "jobstream.cli.services:serve",
    "replay": "jobstream.cli.services:replay",
    "lint": "jobstream.cli.documents:lint",
    "schema": "jobstream.cli.documents:schema",
    "secret": "jobstream.cli.documents:secret",
    "token": "jobstream.cli.tokens:token",
    "callbacks": "jobstream.cli.callbacks:callbacks",
    "stage": "jobstream.cli.stages:stage",
    "workspace": "jobstream.cli.workspace:workspace",
    "dead-letters": "jobstream.cli.deadletters:dead_letters",
}


@click.group(
    cls=JobstreamGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": None},
)
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
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour and the job's own escape sequences; auto follows NO_COLOR, FORCE_COLOR "
    "and whether the output is a terminal.",
)
@click.option(
    "--builder",
    help="What runs jobs' steps: sandbox, host [env: JOBSTREAM_BUILDER; default: sandbox].",
)
@click.version_option(package_name="jobstream")
def main(**_: object) -> None:
    """jobstream: CI jobs (Cyclid documents) as events on an append-only log."""
    # Every file a command writes into the data directory is the owner's only (logs.data_dir).
    os.umask(0o077)
