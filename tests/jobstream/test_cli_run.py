"""`run`, `submit`, `list`, `show`, `status`, `log`, `lint` end to end, as a user types them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb

from jobstream.projections.views import DuckDBViews

from .cli_support import EXAMPLES, Cli


def test_run_minimal_example_succeeds_and_fills_the_views(cli: Cli) -> None:
    result = cli("run", str(EXAMPLES / "minimal.yml"))
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout
    assert "SUCCEEDED" in result.stdout

    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    (record,) = json.loads(listed.stdout)
    assert record["status"] == "SUCCEEDED"
    assert record["name"]
    for field in ("job_id", "name", "version", "status", "submitted", "started", "ended"):
        assert record[field] is not None, field

    log = cli("log", record["job_id"][:6])
    assert log.returncode == 0, log.stderr
    assert "hello" in log.stdout


def test_run_failing_job_exits_non_zero_and_records_failure(cli: Cli) -> None:
    result = cli("run", str(EXAMPLES / "failing.yml"))
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["status"] == "FAILED"
    status = cli("status", record["job_id"])
    assert status.stdout.strip() == "FAILED"
    assert status.returncode == 1


def test_every_line_is_in_the_views_when_run_returns(cli: Cli, tmp_path: Path) -> None:
    doc = tmp_path / "many.yml"
    doc.write_text(
        "name: many\nsequence: [{stage: s}]\nstages:\n"
        "  - name: s\n    steps:\n"
        "      - action: command\n"
        "        cmd: i=1; while [ $i -le 3000 ];"
        " do echo line $i; echo err $i >&2; i=$((i+1)); done\n"
    )
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(cli.data_dir / "views.duckdb"), read_only=True)
    try:
        counts = dict(
            con.execute("select stream, count(*) from log_lines group by stream").fetchall()
        )
        numbers = con.execute("select min(n), max(n), count(distinct n) from log_lines").fetchone()
    finally:
        con.close()
    assert counts["stdout"] == 3000
    assert counts["stderr"] == 3000
    assert numbers[0] == 1 and numbers[1] == numbers[2]  # numbered from 1, no gaps


def test_filters_limit_and_prefixes(cli: Cli) -> None:
    assert cli("run", str(EXAMPLES / "minimal.yml")).returncode == 0
    assert cli("run", str(EXAMPLES / "failing.yml")).returncode == 1
    assert cli("run", str(EXAMPLES / "hello.json")).returncode == 0

    everything = json.loads(cli("list", "--json").stdout)
    assert len(everything) == 3
    submitted = [r["submitted"] for r in everything]
    assert submitted == sorted(submitted, reverse=True)  # newest first

    failed = json.loads(cli("list", "--json", "--status", "failed").stdout)
    assert [r["status"] for r in failed] == ["FAILED"]
    assert len(json.loads(cli("list", "--json", "--limit", "1", "--offset", "1").stdout)) == 1

    unknown = cli("show", "zzzz")
    assert unknown.returncode == 2
    assert "zzzz" in unknown.stderr
    ambiguous = cli("show", "")
    assert ambiguous.returncode == 2
    assert "matches 3 jobs" in ambiguous.stderr


def test_invalid_document_writes_nothing_and_lists_every_error(cli: Cli, tmp_path: Path) -> None:
    doc = tmp_path / "bad.yml"
    doc.write_text(
        "name: bad\nsequence:\n  - stage: build\n    on_failure: deploy\n"
        "stages:\n  - name: build\n    steps:\n      - action: teleport\n"
    )
    lint = cli("lint", str(doc))
    assert lint.returncode == 4  # ExitCode.INVALID_DOCUMENT
    assert "sequence[0].on_failure" in lint.stdout
    for command in ("run", "submit"):
        result = cli(command, str(doc))
        assert result.returncode == 4
        assert "deploy" in result.stderr
        assert "teleport" in result.stderr
        # every problem, as `lint` prints it, and no traceback
        assert result.stderr.splitlines() == lint.stdout.splitlines()
    # nothing reached the log: not even the data directory was made
    assert not cli.data_dir.exists()


def test_lint_examples_and_schema(cli: Cli) -> None:
    files = sorted(str(p) for p in EXAMPLES.iterdir() if p.suffix in (".yml", ".yaml", ".json"))
    result = cli("lint", *files)
    assert result.returncode == 0, result.stdout
    schema = json.loads(cli("schema").stdout)
    assert "sequence" in schema["properties"]


def test_secret_encrypt_value_is_accepted_and_masked(cli: Cli, tmp_path: Path) -> None:
    token = cli("secret", "encrypt", "-", input="hunter2-very-secret\n").stdout.strip()
    assert token.startswith("enc:v2:org:") and ":default:" in token
    assert "hunter2" not in token
    doc = tmp_path / "secret.yml"
    doc.write_text(
        "name: pre-encrypted\nsecrets:\n  password: " + token + "\n"
        "sequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
        "      - action: command\n        cmd: echo the password is %{password}\n"
    )
    result = cli("run", str(doc))
    assert result.returncode == 0, result.stderr
    assert "the password is ***" in result.stdout
    assert "hunter2" not in result.stdout


def test_submit_needs_only_the_log_while_queries_need_the_views(cli: Cli) -> None:
    cli.data_dir.mkdir(parents=True)
    views = DuckDBViews.open(cli.data_dir / "views.duckdb")  # held, as by a server with no API
    try:
        submitted = cli("submit", str(EXAMPLES / "minimal.yml"))
        assert submitted.returncode == 0, submitted.stderr
        busy = cli("show", submitted.stdout.strip())
        assert busy.returncode == 3
        assert f"process {os.getpid()}" in busy.stderr
    finally:
        views.close()
    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["job_id"] == submitted.stdout.strip()
    assert record["status"] == "NEW"  # queued: no worker ran it
