"""`%{organization}` and the default job file, as a user of Cyclid files meets them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from jobstream.events.codec import decode
from jobstream.events.models import JobSubmitted

from .cli_support import Cli

ORG_JOB = """\
name: org
stages:
  - name: s
    steps:
      - action: log
        message: "organisation=%{organization}."
sequence:
  - stage: s
"""


@pytest.mark.parametrize(
    ("flags", "env", "document_key", "expected"),
    [
        ((), {}, None, "default"),
        ((), {"JOBSTREAM_ORGANIZATION": "acme"}, None, "acme"),
        (("--organization", "initech"), {"JOBSTREAM_ORGANIZATION": "acme"}, None, "initech"),
        ((), {"JOBSTREAM_ORGANIZATION": "acme"}, "from-doc", "from-doc"),
        (("--organization", "initech"), {}, "from-doc", "initech"),
    ],
)
def test_organization_is_in_the_context(
    cli: Cli,
    tmp_path: Path,
    flags: tuple[str, ...],
    env: dict[str, str],
    document_key: str | None,
    expected: str,
) -> None:
    document = tmp_path / "org.yml"
    document.write_text(ORG_JOB + (f"organization: {document_key}\n" if document_key else ""))
    cli.env.update(env)
    ran = cli("run", *flags, str(document))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"organisation={expected}." in ran.stdout


def test_submit_records_the_organization_in_job_submitted(cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "org.yml"
    document.write_text(ORG_JOB)
    submitted = cli("submit", "--organization", "acme", str(document))
    assert submitted.returncode == 0, submitted.stderr
    con = sqlite3.connect(cli.data_dir / "log.sqlite")
    try:
        values = [row[0] for row in con.execute("select value from records")]
    finally:
        con.close()
    events = [decode(v) for v in values]
    (event,) = [e for e in events if isinstance(e, JobSubmitted)]
    assert event.organization == "acme"
    assert event.document["organization"] == "acme"


def test_a_job_submitted_before_organizations_decodes_as_default() -> None:
    old = {
        "type": "JobSubmitted",
        "event_id": "00000000-0000-0000-0000-000000000001",
        "job_id": "j1",
        "writer": "submit-1",
        "seq": 1,
        "at": "2026-01-01T00:00:00Z",
        "v": 1,
        "document": {"name": "n", "sequence": [{"stage": "s"}]},
    }
    event = decode(json.dumps(old).encode())
    assert isinstance(event, JobSubmitted)
    assert event.organization == "default"


# -- the default job file ------------------------------------------------------------------


def _job(message: str) -> str:
    return json.dumps(
        {
            "name": "here",
            "stages": [{"name": "s", "steps": [{"action": "log", "message": message}]}],
            "sequence": [{"stage": "s"}],
        }
    )


@pytest.mark.parametrize(
    ("present", "chosen"),
    [
        ([".cyclid.yml"], ".cyclid.yml"),
        ([".cyclid.yaml"], ".cyclid.yaml"),
        ([".cyclid.json", ".cyclid.yml"], ".cyclid.json"),
        ([".cyclid.yml", ".cyclid.yaml"], ".cyclid.yaml"),  # git's order: yaml < yml
        ([".cyclid.json", ".cyclid.yaml", ".cyclid.yml"], ".cyclid.json"),
    ],
)
def test_run_and_lint_without_file_use_cyclids_preference(
    cli: Cli, tmp_path: Path, present: list[str], chosen: str
) -> None:
    for name in present:
        # JSON is YAML too, so every file is valid whatever its extension.
        (tmp_path / name).write_text(_job(f"from {name}"))
    linted = cli("lint")
    assert linted.returncode == 0, linted.stderr
    assert f"using {chosen}" in linted.stderr
    assert f"{chosen}: ok" in linted.stdout
    ran = cli("run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"using {chosen}" in ran.stderr
    assert f"from {chosen}" in ran.stdout
    for other in set(present) - {chosen}:
        assert other in ran.stderr  # named as ignored


def test_without_file_and_without_a_job_file_is_a_usage_error(cli: Cli) -> None:
    for command in ("lint", "run"):
        result = cli(command)
        assert result.returncode == 2
        assert ".cyclid.json, .cyclid.yaml, .cyclid.yml" in result.stderr
