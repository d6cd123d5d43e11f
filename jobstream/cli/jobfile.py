"""The job file of the current directory, for `run` and `lint` without FILE.

Cyclid's GitHub plugin took the first entry of the repository's root tree matching
`.cyclid.(json|yml|yaml)`; git orders a tree bytewise by name, so its preference was
`.cyclid.json`, then `.cyclid.yaml`, then `.cyclid.yml`. The Cyclid client had no default.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["JOB_FILES", "default_job_file"]

JOB_FILES = (".cyclid.json", ".cyclid.yaml", ".cyclid.yml")


def default_job_file(directory: Path | None = None) -> Path:
    """The job file to use, after saying on stderr which one (and which others it ignores)."""
    directory = directory or Path()
    found = [directory / name for name in JOB_FILES if (directory / name).is_file()]
    if not found:
        raise click.UsageError(
            f"no FILE given and no {', '.join(JOB_FILES)} in {directory.resolve()}"
        )
    chosen, *ignored = found
    note = f" ({', '.join(p.name for p in ignored)} ignored, as Cyclid did)" if ignored else ""
    click.echo(f"using {chosen}{note}", err=True)
    return chosen
