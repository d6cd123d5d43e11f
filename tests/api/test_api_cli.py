"""The command line in a second terminal: while `jobstream serve` holds the views, `list`,
`show`, `status`, `log --follow`, `submit`, `cancel` and `stats` go through its API, found
by the runtime file (or `--server` / `--token` when auth is on)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream import runtime

from ..polling import eventually
from .api_support import job_yaml

ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("JOBSTREAM_")},
            "JOBSTREAM_DATA_DIR": str(data_dir),
            "JOBSTREAM_LEASE": "2",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.cwd = data_dir.parent

    def __call__(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "jobstream", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "jobstream", *args],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Terminal, runtime.RuntimeInfo]]:
    """`jobstream serve --port 0` on a data directory, and a terminal on the same one."""
    data = tmp_path / "data"
    term = Terminal(data)
    proc = term.start("serve", "--port", "0")
    try:
        info = eventually(lambda: runtime.discover(data), timeout=30)
        yield term, info
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            assert proc.stderr is not None
            proc.stderr.close()
    assert runtime.discover(data) is None
    assert not (data / runtime.RUNTIME_FILE).exists()


def test_commands_use_the_running_server(served, tmp_path: Path) -> None:
    term, _ = served
    job = tmp_path / "job.yml"
    job.write_text(job_yaml("echo one; echo two >&2; sleep 1; echo three", name="second-terminal"))
    submitted = term("submit", str(job), "--label", "via=api")
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip()

    followed = term("log", "--follow", job_id[:10])
    assert followed.returncode == 0, followed.stderr
    assert [line for line in followed.stdout.splitlines() if line in ("one", "two", "three")] == [
        "one",
        "two",
        "three",
    ]

    listed = term("list", "--json")
    assert listed.returncode == 0, listed.stderr  # not "held by" (exit 3)
    (record,) = json.loads(listed.stdout)
    assert record["job_id"] == job_id
    assert record["labels"]["via"] == "api"
    assert record["status"] == "SUCCEEDED"

    assert term("status", job_id).stdout.strip() == "SUCCEEDED"
    assert "second-terminal" in term("show", job_id).stdout
    assert "three" in term("log", job_id, "--from", "3").stdout
    assert json.loads(term("stats", "--json").stdout)["total"] == 1
    assert "already ended SUCCEEDED" in term("cancel", job_id).stdout

    missing = term("show", "nosuchjob")
    assert missing.returncode == 2
    assert "no job id starts with 'nosuchjob'" in missing.stderr

    bad = tmp_path / "bad.yml"
    bad.write_text("name: x\nsequence: [{stage: nowhere}]\nstages: []\n")
    rejected = term("submit", str(bad))
    assert rejected.returncode == 4  # ExitCode.INVALID_DOCUMENT
    assert "bad.yml" in rejected.stderr
    assert "sequence[0].stage" in rejected.stderr


def test_cancel_through_the_server(served, tmp_path: Path) -> None:
    term, _ = served
    job = tmp_path / "long.yml"
    job.write_text(job_yaml("echo started; sleep 30"))
    job_id = term("submit", str(job)).stdout.strip()
    eventually(lambda: term("status", job_id).stdout.strip() == "STARTED", timeout=30)
    assert "cancel requested" in term("cancel", job_id).stdout
    eventually(lambda: term("status", job_id).stdout.strip() == "CANCELLED", timeout=30)


def test_auth_server_with_server_and_token_flags(tmp_path: Path) -> None:
    data = tmp_path / "data"
    term = Terminal(data)
    token = term("token", "create", "me", "--scope", "write").stdout.strip()
    proc = term.start("project", "--port", "0", "--auth")
    try:
        info = eventually(lambda: runtime.discover(data), timeout=30)
        refused = term("list")
        assert refused.returncode == 7  # ExitCode.UNAUTHORIZED
        assert "401" in refused.stderr
        assert token not in refused.stderr
        # From elsewhere (no runtime file to find): the URL and token given explicitly.
        elsewhere = Terminal(tmp_path / "other", JOBSTREAM_SERVER=info.url)
        allowed = elsewhere("--token", token, "list")
        assert allowed.returncode == 0, allowed.stderr
        assert allowed.stdout.strip() == "no jobs"
        via_env = Terminal(tmp_path / "other", JOBSTREAM_SERVER=info.url, JOBSTREAM_TOKEN=token)
        assert via_env("stats").returncode == 0
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.stderr is not None
        proc.stderr.close()


def test_port_in_use_is_a_plain_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = Terminal(tmp_path / "data")("project", "--port", str(port), timeout=60)
    assert result.returncode == 8  # ExitCode.CANNOT_LISTEN
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
