"""`lint`, `schema`, `secret ...`: job documents before they run, and the keys of secrets."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobstream.cli.common import pass_settings
from jobstream.cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from jobstream.events.documents.secrets import Keyring
    from jobstream.settings import Settings

__all__ = ["lint", "schema", "secret"]


@click.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def lint(files: tuple[Path, ...]) -> None:
    """Check job documents; print every problem with its path and severity.

    Without FILES, the current directory's .cyclid.json, .cyclid.yaml or .cyclid.yml (the
    first there, in that order, as Cyclid chose). Exits 4 if any file has an error
    (warnings alone pass)."""
    from jobstream.cli.jobfile import default_job_file
    from jobstream.events.documents.validation import format_problems, load_document
    from jobstream.events.errors import DocumentError

    failed = False
    for path in files or (default_job_file(),):
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
    """Secrets for job documents, and the installation's keys (docs/secrets.md)."""


@secret.command()
@click.argument("value", required=False)
@click.option("--organization", help="the organisation whose jobs may use it (a setting)")
@click.option("--rsa", is_flag=True, help="Cyclid's form: RSA with the organisation's imported key")
@pass_settings
def encrypt(settings: Settings, value: str | None, rsa: bool) -> None:
    """Encrypt a secret for the jobs of an organisation; print the sealed text.

    Without VALUE (or with '-') the value is read from standard input (one trailing
    newline dropped, as Cyclid's client does), so it is never on a command line. Put the
    printed text in a document's `secrets`: it is accepted as it is and opens only in jobs
    of that organisation."""
    if value is None or value == "-":
        if sys.stdin.isatty():
            value = click.prompt("secret", hide_input=True, err=True)
        else:
            value = sys.stdin.read().removesuffix("\n")
    from jobstream.app import secret_box

    with _secret_errors():
        box = secret_box(settings)
        if rsa:
            click.echo(box.encrypt_rsa(value, settings.organization))
        else:
            click.echo(box.encrypt_for_organization(value, settings.organization))


@secret.command()
@pass_settings
def rotate(settings: Settings) -> None:
    """Add a new key that seals every new secret; the older keys still open old ones."""
    from jobstream.app import keyring
    from jobstream.events.documents.secrets import Keyring, key_id

    with _secret_errors():
        current = keyring(settings)
        new = Keyring.generate()
        _save(settings, new.merged(current))
    click.echo(
        f"added key {key_id(new.keys[0])}: it seals new secrets; "
        f"{len(current.keys)} older key(s) still open old ones"
    )


@secret.command(name="import-key")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organization", help="the organisation the key is of (a setting)")
@pass_settings
def import_key(settings: Settings, file: Path) -> None:
    """Import an organisation's RSA private key (PEM or DER) from a Cyclid server, so the
    secrets Cyclid's `secret encrypt` made for it open in its jobs."""
    from jobstream.app import keyring
    from jobstream.events.documents.secrets import Keyring, load_rsa_key

    with _secret_errors():
        key = load_rsa_key(file.read_bytes())
        current = keyring(settings)
        _save(settings, Keyring(current.keys, {**current.rsa, settings.organization: key}))
        click.echo(f"imported the {key.key_size}-bit RSA key of '{settings.organization}'")


@secret.command()
@pass_settings
def keys(settings: Settings) -> None:
    """List the keys held (their ids, never their material) and where they come from."""
    from jobstream.app import keyring

    with _secret_errors():
        held = keyring(settings)
    source = "JOBSTREAM_SECRET_KEY" if settings.secret_key else str(settings.secret_key_file)
    click.echo(f"# {source}")
    for line in held.describe():
        click.echo(line)


def _save(settings: Settings, new: Keyring) -> None:
    from jobstream.events.documents.secrets import write_keyring

    if settings.secret_key is not None:
        # The keys are not ours to write: hand the new value to whoever sets it.
        click.echo(
            "the keys come from JOBSTREAM_SECRET_KEY: set it, in every process, to the "
            "value printed below",
            err=True,
        )
        click.echo(",".join(new.dump().splitlines()[1:]))
        return
    write_keyring(settings.secret_key_file, new, replace=True)


@contextlib.contextmanager
def _secret_errors() -> Iterator[None]:
    from jobstream.events.errors import SecretError

    try:
        yield
    except SecretError as error:
        raise click.ClickException(str(error)) from None
