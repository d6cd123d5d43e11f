"""The README as a new user follows it: from a fresh directory holding `examples/`, with the
default (relative) data directory `.jobstream`, no `--data-dir` and no JOBSTREAM_* set."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.polling import eventually

from .cli_support import EXAMPLES, ROOT

# What each example ends as (`run` exits 0 only if the job SUCCEEDED).
OUTCOMES = {
    "failing.yml": ("FAILED", 1),
    "handlers.yml": ("SUCCEEDED", 0),
    "hello.json": ("SUCCEEDED", 0),
    "minimal.yml": ("SUCCEEDED", 0),
    "script.yml": ("SUCCEEDED", 0),
    "secrets.yml": ("SUCCEEDED", 0),
}


def fresh_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSTREAM_")}
    # `jobstream` on PATH is this interpreter's console script.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A directory with `examples/` in it, as a fresh clone has."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


def jobstream(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["jobstream", *args],
        cwd=cwd,
        env=fresh_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_every_example_runs_with_the_default_data_directory(clone: Path) -> None:
    assert set(OUTCOMES) == {p.name for p in EXAMPLES.iterdir()}, "a new example: add it"
    for name, (status, code) in OUTCOMES.items():
        result = jobstream(clone, "run", f"examples/{name}")
        assert result.returncode == code, (name, result.stdout, result.stderr)
        assert re.search(rf"status\s+{status}", result.stdout), (name, result.stdout)
    assert (clone / ".jobstream" / "log.sqlite").is_file()
    records = json.loads(jobstream(clone, "list", "--json").stdout)
    assert sorted(r["status"] for r in records) == sorted(s for s, _ in OUTCOMES.values())
    # %{workspace} is the absolute path of the job's own workspace.
    (script,) = [r for r in records if r["name"] == "script"]
    log = jobstream(clone, "log", script["job_id"]).stdout
    workspace = clone / ".jobstream" / "workspaces" / script["job_id"]
    assert f"job script ran in {workspace}" in log


def readme_blocks() -> list[list[str]]:
    """The command lines of the README's `sh` blocks, comments removed."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [
        [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tour:
    """Runs README lines in a shell in `cwd`: `3f2a` stands for the newest job's id prefix,
    port 8080 for a free one; `CMD &` starts a background job, `kill %N` stops the Nth."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.env = {**fresh_env(), "JOBSTREAM_PORT": str(self.port)}
        self.background: list[subprocess.Popen[bytes]] = []

    def newest_job(self) -> str:
        records = json.loads(jobstream(self.cwd, "list", "--json").stdout)
        return records[0]["job_id"][:8]

    def wait_succeeded(self, job: str) -> None:
        def status() -> bool:
            return jobstream(self.cwd, "status", job).stdout.strip() == "SUCCEEDED"

        eventually(status, 60)

    def wait_announced(self) -> None:
        """Until the API's runtime file exists; fails at once, with what every background
        command printed, if one of them ended."""

        def announced() -> bool:
            ended = [i for i, proc in enumerate(self.background) if proc.poll() is not None]
            assert not ended, {i + 1: self.output(i) for i in ended}
            return (self.cwd / ".jobstream" / "server.json").exists()

        try:
            eventually(announced, 60)
        except AssertionError as exc:
            outputs = {i + 1: self.output(i) for i in range(len(self.background))}
            raise AssertionError(f"{exc}; background output: {outputs}") from None

    def line(self, line: str) -> subprocess.CompletedProcess[str] | None:
        if "3f2a" in line:
            line = line.replace("3f2a", self.newest_job())
        line = line.replace("8080", str(self.port))
        if m := re.match(r"kill %(\d+); (.*)", line):
            self.stop(int(m[1]) - 1)
            line = m[2]
        if line.endswith("&"):
            self.start(line.removesuffix("&"))
            return None
        if line.startswith("jobstream callbacks run"):
            # Runs until interrupted: let it deliver what the log holds, then Ctrl-C it.
            index = len(self.background)
            self.start(line)
            eventually(lambda: "SUCCEEDED" in self.output(index), 30)
            self.stop(index, signal.SIGINT)
            return None
        return subprocess.run(
            ["bash", "-c", line],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def start(self, line: str) -> None:
        index = len(self.background)
        with self._output_path(index).open("w") as out:
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {line}"],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.background.append(proc)

    def _output_path(self, index: int) -> Path:
        return self.cwd / f"background-{index + 1}.out"

    def output(self, index: int) -> str:
        return self._output_path(index).read_text()

    def stop(self, index: int, sig: int = signal.SIGTERM) -> None:
        proc = self.background[index]
        if proc.poll() is None:
            proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, self.output(index)

    def close(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_the_readme_tour_works_as_written(clone: Path) -> None:
    single, several = readme_blocks()
    tour = Tour(clone)
    try:
        for line in single:
            result = tour.line(line)
            assert result is not None and result.returncode == 0, (line, result)
        assert not (clone / ".jobstream" / "server.json").exists()
        for line in several:
            if line.startswith("jobstream list"):
                # answered by `project` through its API: wait until it announced it
                tour.wait_announced()
            result = tour.line(line)
            if result is None:
                continue
            assert result.returncode == 0, (line, result.stdout, result.stderr)
            if line.startswith("curl"):
                assert json.loads(result.stdout)["jobs"], result.stdout
            if line.startswith("jobstream submit"):
                tour.wait_succeeded(result.stdout.strip())
            if "replay --verify" in line:
                assert "views match the log" in result.stdout
    finally:
        tour.close()


def test_a_callback_module_in_the_current_directory_is_found(clone: Path) -> None:
    # docs/callbacks.md's way: a module:Class beside the user, run by the console script
    # (whose sys.path, unlike `python -m`'s, does not start with the current directory).
    (clone / "mycallbacks.py").write_text(
        "from jobstream.callbacks.stdout import StdoutCallback\n\n\n"
        "class Loud(StdoutCallback):\n"
        "    name = 'loud'\n"
    )
    assert jobstream(clone, "run", "examples/minimal.yml").returncode == 0
    proc = subprocess.Popen(
        ["jobstream", "callbacks", "run", "mycallbacks:Loud", "--from", "earliest"],
        cwd=clone,
        env=fresh_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "SUCCEEDED" in line:
                break
        else:
            raise AssertionError(proc.communicate()[1])
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "callback loud" in err
