"""Property: every document is accepted and runs, or is refused with named problems.

Hostile documents (`hostile.py`) go through the parser and validator, the event a
submission writes, the check a worker makes of it, and the real runner with real
processes (which only parse the steps); then through `jobstream lint` and `jobstream
submit` in process, and a few through the real command line. Nothing may raise but
DocumentError, print a traceback or exit with an undocumented code, and nothing accepted
may fail to reach an end. The `slow` variants try many more and print the tally that
docs/reliability.md reports."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from jobstream.cli import main
from jobstream.events.codec import decode, encode
from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.validation import check_document, load_document
from jobstream.events.errors import DocumentError
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.testing import drain
from jobstream.events.models import JobSubmitted
from jobstream.events.names import Topics

from .hostile import HOSTILE, Case, Tally, cases, run_parse_only


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def through_the_core(fmt: str, case: Case, workspaces: Path) -> str:
    """The outcome of one document from bytes to the end of its run."""
    try:
        validated = load_document(case.text.encode(), f"job.{fmt}")
    except DocumentError as exc:
        assert exc.problems and any(p.severity == "error" for p in exc.problems)
        assert all("\n" not in p.message for p in exc.problems)
        return "refused"
    # What a submission writes, and what a worker makes of it.
    raw = validated.document.model_dump(mode="json", exclude_defaults=True)
    event = JobSubmitted(
        job_id=uuid.uuid4().hex,
        writer="fuzz",
        seq=1,
        name=validated.document.name,
        version=validated.document.version,
        document=raw,
    )
    read_back = decode(encode(event))
    assert isinstance(read_back, JobSubmitted)
    document, problems = check_document(read_back.document)
    assert document is not None, problems
    asyncio.run(run_parse_only(validated, workspaces))
    return "accepted and ran"


def fuzz_core(examples: int, tmp_path: Path) -> Tally:
    tally = Tally()

    @fuzz(examples)
    @given(cases())
    def check(drawn: tuple[str, Case]) -> None:
        fmt, case = drawn
        tally.add(case, through_the_core(fmt, case, tmp_path / "ws"))

    check()
    return tally


def test_hostile_documents_are_refused_or_run(tmp_path: Path) -> None:
    tally = fuzz_core(400, tmp_path)
    print(tally.summary("parser, validator, runner"))
    # Both outcomes happen, and the hostile kinds were all tried.
    assert tally.outcomes["refused"] and tally.outcomes["accepted and ran"]
    assert len(tally.tried) >= len(HOSTILE) // 2


def fuzz_cli(examples: int, tmp_path: Path) -> Tally:
    runner = CliRunner()
    env = {"JOBSTREAM_DATA_DIR": str(tmp_path / "data"), "JOBSTREAM_LOG_LEVEL": "ERROR"}
    tally = Tally()
    n = 0

    @fuzz(examples)
    @given(cases())
    def check(drawn: tuple[str, Case]) -> None:
        nonlocal n
        fmt, case = drawn
        n += 1
        path = tmp_path / f"job-{n}.{fmt}"
        path.write_bytes(case.text.encode("utf-8", "surrogatepass"))
        linted = runner.invoke(main, ["lint", str(path)], env=env)
        submitted = runner.invoke(main, ["submit", str(path)], env=env)
        for result in (linted, submitted):
            assert result.exit_code in (0, 4), (result.exit_code, result.output)
            assert isinstance(result.exception, SystemExit | None), result.exception
            assert "Traceback" not in result.output
        # What lint refuses, submit refuses (submit also refuses a stage that is not stored).
        assert linted.exit_code == 0 or submitted.exit_code == 4, submitted.output
        tally.add(case, "submitted" if submitted.exit_code == 0 else "refused (exit 4)")

    check()
    return tally


def test_lint_and_submit_refuse_or_accept_hostile_documents(tmp_path: Path) -> None:
    tally = fuzz_cli(120, tmp_path)
    print(tally.summary("lint + submit (in process)"))
    assert tally.outcomes["submitted"] and tally.outcomes["refused (exit 4)"]
    # Everything submitted is on the log, and a worker reading it finds a valid document.
    submitted = asyncio.run(_submitted(tmp_path / "data" / "log.sqlite"))
    assert len(submitted) == tally.outcomes["submitted"]
    for event in submitted:
        document, problems = check_document(event.document)
        assert document is not None, problems


async def _submitted(path: Path) -> list[JobSubmitted]:
    async with (
        EmbeddedLog(path, partitions=4) as log,
        log.consumer([Topics().jobs], start="earliest") as consumer,
    ):
        records = await drain(consumer, idle=0.2)
    events = [decode_record(r) for r in records]
    return [e for e in events if isinstance(e, JobSubmitted)]


# A few of each kind, through the real command line as a user types it.
REAL = [
    ("yaml", "environment: {d: 2001-13-45}"),
    ("yaml", "environment: {d: !!binary aGVsbG8=}"),
    ("yaml", "environment: {d: " + "[" * 300 + "]" * 300 + "}"),
    ("yaml", "retry: " + "9" * 5000),
    ("yaml", "timeout: !!float abc"),
    ("yaml", 'environment: {d: "\\ud800"}'),
    ("json", None),
]


def _real_document(fmt: str, extra: str | None) -> str:
    if fmt == "json":
        raw = {"name": "j", "sequence": [{"stage": "s"}], "stages": []}
        return json.dumps(raw).replace('"stages": []', '"retry": ' + "7" * 5000)
    head = "name: j\nsequence: [{stage: s}]\nstages:\n  - name: s\n    steps:\n"
    return head + "      - action: command\n        cmd: 'true'\n" + (extra or "") + "\n"


def test_the_real_command_line_names_every_problem(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "JOBSTREAM_DATA_DIR": str(tmp_path / "data"),
        "JOBSTREAM_BUILDER": "host",
    }
    env.pop("JOBSTREAM_SERVER", None)
    files = []
    for i, (fmt, extra) in enumerate(REAL):
        path = tmp_path / f"job-{i}.{fmt}"
        path.write_text(_real_document(fmt, extra))
        files.append(path)

    def jobstream(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobstream", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    linted = jobstream("lint", *map(str, files))
    assert linted.returncode == 4
    assert "Traceback" not in linted.stdout + linted.stderr
    for path in files:
        assert f"{path}:" in linted.stdout and "error" in linted.stdout
    for command in ("submit", "run"):
        for path in files[:3]:
            done = jobstream(command, str(path))
            assert done.returncode == 4, (command, path, done.stderr)
            assert "Traceback" not in done.stderr
            assert all(line.startswith(f"{path}:") for line in done.stderr.splitlines())


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_many_hostile_documents(tmp_path: Path) -> None:
    print()
    print(fuzz_core(3000, tmp_path).summary("parser, validator, runner"))
    print(fuzz_cli(600, tmp_path).summary("lint + submit (in process)"))
