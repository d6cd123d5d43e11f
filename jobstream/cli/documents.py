"""`lint`, `schema`, `secret encrypt`: working with job documents before they run."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import pass_settings
from jobstream.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from jobstream.settings import Settings

__all__ = ["lint", "schema", "secret"]


@click.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def lint(files: tuple[Path, ...]) -> None:
    """Check job documents; print every problem with its path and severity.

    Exits 4 if any file has an error (warnings alone pass)."""
    from jobstream.events.documents.validation import format_problems, load_document
    from jobstream.events.errors import DocumentError

    failed = False
    for path in files:
        try:
            problems = load_document(path.read_bytes(), str(path)).warnings
        except DocumentError as exc:
            failed, problems = True, exc.problems
        for line in format_problems(str(path), problems):
            click.echo(line)
        if not problems:
            click.echo(f"{path}: ok")
    sys.exit(ExitCode.INVALID_DOCUMENT if failed else ExitCode.OK)


@click.command()
def schema() -> None:
    """Print the JSON Schema of a job document (for editors)."""
    from jobstream.events.documents.validation import document_json_schema

    click.echo(json.dumps(document_json_schema(), indent=2))


@click.group()
def secret() -> None:
    """Secrets for job documents."""


@secret.command()
@click.argument("value")
@pass_settings
def encrypt(settings: Settings, value: str) -> None:
    """Encrypt VALUE ('-' reads it from standard input) with this installation's key.

    Put the printed text in a document's `secrets`; it is accepted as it is."""
    from jobstream.app import secret_box

    if value == "-":
        value = sys.stdin.read().rstrip("\n")
    click.echo(secret_box(settings).encrypt(value))
