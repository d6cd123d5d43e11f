"""`show` prints a job's stages; `dead-letters` lists what the views passed over."""

from __future__ import annotations

import asyncio
import json
import re

from jobstream.events.log.base import Message
from jobstream.events.log.embedded import EmbeddedLog

from .cli_support import Cli

DOCUMENT = """\
name: sections
stages:
  - name: build
    steps:
      - {action: command, cmd: echo compiling}
  - name: test
    steps:
      - {action: command, cmd: echo testing}
      - {action: command, cmd: exit 3}
  - name: report
    steps:
      - {action: log, message: tests failed}
sequence:
  - stage: build
  - {stage: test, on_failure: report}
"""

_DURATION = r"\d+\.\d\d s"


def test_show_prints_each_stage_run_and_step_with_status_and_duration(cli: Cli) -> None:
    job = cli.data_dir.parent / "sections.yml"
    job.write_text(DOCUMENT)
    assert cli("run", str(job)).returncode == 1
    (record,) = json.loads(cli("list", "--json").stdout)

    shown = cli("--color", "never", "show", record["job_id"][:8])
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout.splitlines()
    stages = out[out.index("    stages") + 1 :]
    patterns = [
        rf"build +SUCCEEDED +{_DURATION} +lines 1-4",
        rf"  echo compiling +SUCCEEDED +{_DURATION} +exit 0 +lines 2-4",
        rf"test +FAILED +{_DURATION} +lines 5-11",
        rf"  echo testing +SUCCEEDED +{_DURATION} +exit 0 +lines 6-8",
        rf"  exit 3 +FAILED +{_DURATION} +exit 3 +lines 9-10",
        rf"report +SUCCEEDED +{_DURATION} +lines 12-13",
        rf"  log +SUCCEEDED +{_DURATION} +line 13",
    ]
    assert len(stages) == len(patterns), shown.stdout
    for line, pattern in zip(stages, patterns, strict=True):
        assert re.fullmatch(" {6}" + pattern, line), (line, pattern)
    # The line numbers are the log's own.
    log = cli("log", record["job_id"]).stdout.splitlines()
    assert log[4] == "==> stage test" and log[10].startswith("==> failed: stage 'test'")


def test_dead_letters_lists_position_and_reason_never_the_record(cli: Cli) -> None:
    job = cli.data_dir.parent / "ok.yml"
    job.write_text(
        "name: ok\nstages: [{name: s, steps: [{action: log, message: hi}]}]\n"
        "sequence: [{stage: s}]\n"
    )
    assert cli("run", str(job)).returncode == 0
    assert cli("dead-letters").stdout == "no dead letters\n"

    raw = b'{"type": "StatusChanged", "job_id": "j", "password": "do-not-print-me"}'

    async def append() -> None:
        async with EmbeddedLog(cli.data_dir / "log.sqlite") as log:
            await log.append("job-events", [Message(raw, key="j")])

    asyncio.run(append())
    listed = cli("--color", "never", "dead-letters")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["TIME", "CONSUMER", "TOPIC", "PARTITION", "OFFSET", "REASON"]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +views +job-events +\d+ +\d+ +", row)
    assert "StatusChanged.writer: Field required" in row
    (letter,) = json.loads(cli("dead-letters", "--json").stdout)
    assert letter["consumer"] == "views" and letter["topic"] == "job-events"
    assert "do-not-print-me" not in listed.stdout + json.dumps(letter)
