"""The organisation in the job record, and views built by an older jobstream.

An older jobstream's `job_records` has no `organization` column; `CREATE TABLE IF NOT
EXISTS` would keep it so, and every projected write would fail on the missing column. The
command line must say so in one line and `jobstream replay` must rebuild the file."""

from __future__ import annotations

import json

import duckdb

from jobstream.cli.exit_codes import ExitCode

from .cli_support import EXAMPLES, Cli


def test_a_projected_job_shows_its_organisation(cli: Cli) -> None:
    result = cli("run", str(EXAMPLES / "minimal.yml"), "--organization", "acme")
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["organization"] == "acme"
    shown = json.loads(cli("show", record["job_id"], "--json").stdout)
    assert shown["organization"] == "acme"


def test_views_of_an_older_layout_are_refused_until_replay_rebuilds_them(cli: Cli) -> None:
    assert cli("run", str(EXAMPLES / "minimal.yml"), "--organization", "acme").returncode == 0
    views = cli.data_dir / "views.duckdb"
    with duckdb.connect(str(views)) as conn:
        conn.execute("ALTER TABLE job_records DROP COLUMN organization")

    refused = cli("list", "--json")
    assert refused.returncode != ExitCode.OK
    assert refused.stderr.strip().splitlines() == [
        f"error: views built by an older jobstream ({views} has no organization): "
        "rebuild them with `jobstream replay`"
    ]

    replayed = cli("replay")
    assert replayed.returncode == 0, replayed.stderr
    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["organization"] == "acme"
