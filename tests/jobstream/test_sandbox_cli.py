"""The builder as a user meets it on the command line: refused when the sandbox cannot
work, announced when unconfined, owner-only files, and `workspace clean`."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from jobstream.runners.builders.sandbox import probe

from ..polling import eventually
from .cli_support import Cli

JOB = """\
name: hello
stages:
  - name: a
    steps:
      - action: command
        cmd: echo hello
sequence:
  - stage: a
"""


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    (tmp_path / "job.yml").write_text(JOB)
    return Cli(tmp_path / "data")


def test_without_bwrap_jobs_are_refused_with_how_to_choose_host(cli: Cli, tmp_path: Path) -> None:
    # A PATH holding only the interpreter: no bwrap to be found.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    cli.env["PATH"] = str(bin_dir)
    result = cli("run", str(tmp_path / "job.yml"))
    assert result.returncode == 2  # USAGE: the setting cannot work here
    assert "bwrap is not installed" in result.stderr
    assert "--builder host" in result.stderr
    assert "hello" not in result.stdout


def test_host_is_announced_once_and_runs(cli: Cli, tmp_path: Path) -> None:
    result = cli("--builder", "host", "run", str(tmp_path / "job.yml"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("jobs run unconfined") == 1
    assert "hello" in result.stdout


@pytest.mark.skipif(probe() is not None and not os.environ.get("CI"), reason="no bubblewrap")
def test_the_data_directory_is_owner_only(cli: Cli, tmp_path: Path) -> None:
    result = cli("run", str(tmp_path / "job.yml"))
    assert result.returncode == 0, result.stderr
    assert "unconfined" not in result.stderr
    assert cli("token", "create", "me").returncode == 0
    paths = [cli.data_dir, *cli.data_dir.rglob("*")]
    assert {p.name for p in paths} >= {"log.sqlite", "views.duckdb", "tokens.sqlite"}
    open_to_others = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode))
        for p in paths
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert open_to_others == {}


def test_workspace_clean_keeps_what_it_is_told(cli: Cli) -> None:
    root = cli.data_dir / "workspaces"
    for n, name in enumerate(["old", "mid", "new"]):
        (root / name / ".jobstream").mkdir(parents=True)
        os.utime(root / name, (1000 + n, 1000 + n))
    (root / "new" / ".jobstream" / "script-1").write_text("echo secret")
    result = cli("workspace", "clean", "--keep", "last:2")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in root.iterdir()) == ["mid", "new"]
    assert not (root / "new" / ".jobstream" / "script-1").exists()
    assert cli("workspace", "clean").returncode == 0  # the default: keep none
    assert list(root.iterdir()) == []
    assert cli("workspace", "clean", "--keep", "soon").returncode == 2


def test_a_crashed_workers_script_is_removed_on_the_next_start(cli: Cli, tmp_path: Path) -> None:
    seconds = f"{6000 + os.getpid() % 1000}.5"
    doc = tmp_path / "quiet.yml"
    doc.write_text(
        "name: quiet\nsecrets: {pw: crash-secret-value}\nsequence: [{stage: s}]\n"
        "stages: [{name: s, steps: [{action: script, script: "
        f"'touch %{{workspace}}/up; echo %{{pw}} > /dev/null; sleep {seconds}'}}]}}]\n"
    )
    # The host builder keeps its scripts on disk; the sandbox never writes them anywhere.
    cli.env["JOBSTREAM_BUILDER"] = "host"
    doomed = cli.start("worker")
    assert cli("submit", str(doc)).returncode == 0
    workspaces = cli.data_dir / "workspaces"
    try:
        eventually(lambda: list(workspaces.glob("*/up")), timeout=60)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        # The step's script, and the shell text the builder runs it with.
        scripts = list(workspaces.glob("*/.jobstream/script-*"))
        assert any("crash-secret-value" in s.read_text() for s in scripts)
        (workspace,) = {s.parent.parent for s in scripts}
        cli.start("worker")
        eventually(lambda: not any(s.exists() for s in scripts), timeout=60)
        # The crashed job's workspace went too (the default retention keeps none): it held
        # the job's files, and the job can never finish to have it removed.
        assert not workspace.exists()
    finally:
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if entry.name.isdigit() and seconds.encode() in (entry / "cmdline").read_bytes():
                    os.kill(int(entry.name), signal.SIGKILL)
