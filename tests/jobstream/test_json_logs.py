"""`--log-format json`: a long-running command's stderr is one JSON object per line, with
time, level, logger, message and the call's extra fields (here the lease keeper's, as it
retries a failed job automatically)."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path

from jobstream import runtime

from ..polling import eventually
from .cli_support import Cli

FLAKY = """\
name: flaky
retry: {automatic: {exit_status: 2, limit: 1}}
sequence: [{stage: s}]
stages: [{name: s, steps: [{action: command, cmd: "exit 2"}]}]
"""


def test_project_logs_json_lines_with_their_fields(cli: Cli, tmp_path: Path) -> None:
    cli.env["JOBSTREAM_LOG_LEVEL"] = "INFO"
    project = cli.start("project", "--log-format", "json")
    eventually(lambda: runtime.discover(cli.data_dir), timeout=60)
    job = tmp_path / "flaky.yml"
    job.write_text(FLAKY)
    # `run` runs it here, through the log; the projecting process's keeper retries it.
    assert cli("run", str(job)).returncode == 1
    listed = eventually(
        lambda: (out := cli("list", "--json").stdout) and len(json.loads(out)) == 2 and out,
        timeout=30,
    )
    project.send_signal(signal.SIGINT)
    _, stderr = project.communicate(timeout=30)
    assert project.returncode == 0, stderr

    entries = [json.loads(line) for line in stderr.splitlines()]
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry)
        datetime.fromisoformat(entry["time"])
    retry, original = sorted(json.loads(listed), key=lambda j: j["attempt"])[::-1]
    (retried,) = [e for e in entries if e.get("retried_as")]
    assert retried["level"] == "WARNING"
    assert retried["logger"] == "jobstream.dispatcher.leases"
    assert (retried["job_id"], retried["retried_as"]) == (original["job_id"], retry["job_id"])
    assert (retried["exit_status"], retried["attempt"]) == (2, 2)
    # The announcement and uvicorn's own lines are JSON too.
    assert any(e["message"].startswith("API on http://127.0.0.1:") for e in entries)
    assert any(e["logger"].startswith("uvicorn") for e in entries)


def test_the_format_is_a_setting_and_refuses_other_values(cli: Cli) -> None:
    cli.env["JOBSTREAM_LOG_FORMAT"] = "xml"
    refused = cli("project")
    assert refused.returncode == 2
    assert "log_format" in refused.stderr and "Traceback" not in refused.stderr
