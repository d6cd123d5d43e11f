"""Jobs that attack the installation, run for real under the `sandbox` builder (each
attack fails) and under `host` (where it is safe to show, the same attack succeeds)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jobstream.app import make_runner
from jobstream.events.documents.models import JobDocument
from jobstream.events.models import Status
from jobstream.runners import Runner
from jobstream.runners.builders import HostBuilder, SandboxBuilder
from jobstream.runners.builders.sandbox import probe
from jobstream.runners.testing import RecordingNotifier
from jobstream.runners.workspace import job_lock
from jobstream.settings import Settings

from ..polling import eventually, wait_until
from ..processes import gone

BOUND = 60

needs_bwrap = pytest.mark.skipif(
    probe() is not None and not os.environ.get("CI"),
    reason=f"no working bubblewrap here: {probe()}",
)
pytestmark = needs_bwrap

BUILDERS = ["sandbox", "host"]


def document(*commands: str, **extra: Any) -> JobDocument:
    steps = [{"action": "command", "cmd": c} for c in commands]
    return JobDocument.model_validate(
        {
            "name": "attack",
            "stages": [{"name": "a", "steps": steps}],
            "sequence": [{"stage": "a"}],
            **extra,
        }
    )


class Installation:
    """A data directory laid out as jobstream lays it out, with a runner made from its
    settings by the composition root, and another job running beside ours."""

    def __init__(self, root: Path, builder: str) -> None:
        self.data = root / "data"
        self.settings = Settings(data_dir=self.data, builder=builder)
        self.runner: Runner = make_runner(self.settings)
        self.key = self.settings.secret_key_file  # outside the data directory (made here)
        (self.data / "log.sqlite").write_text("LOG-CONTENT")
        (self.data / "views.duckdb").write_text("VIEWS-CONTENT")
        self.other = self.settings.workspaces / "other-job"

    @contextlib.contextmanager
    def other_job(self) -> Iterator[subprocess.Popen[bytes]]:
        """Another job, running: its workspace is locked (so no retention removes it) and
        a process of it works there."""
        with job_lock(self.settings.workspaces, "other-job"):
            self.other.mkdir(parents=True, exist_ok=True)
            (self.other / "secret.txt").write_text("OTHER-JOB-SECRET")
            process = subprocess.Popen(["sleep", "300"], cwd=self.other)
            try:
                yield process
            finally:
                process.kill()
                process.wait()

    async def run(self, doc: JobDocument, job_id: str = "job-1") -> RecordingNotifier:
        notifier = RecordingNotifier()
        async with asyncio.timeout(BOUND):
            await self.runner.run(job_id, doc, notifier)
        return notifier


@pytest.fixture(params=BUILDERS)
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Installation:
    return Installation(tmp_path, request.param)


def sandboxed(installation: Installation) -> bool:
    return installation.settings.builder == "sandbox"


async def test_the_key_log_and_views_cannot_be_read(installation: Installation) -> None:
    data = installation.data
    notifier = await installation.run(
        document(
            f"cat {installation.key} || echo NO-KEY",
            f"cat {data}/log.sqlite || echo NO-LOG",
            f"cat {data}/views.duckdb || echo NO-VIEWS",
            # The first attack: up from the workspace.
            "ls -a %{workspace}/../.. || true",
        )
    )
    out = notifier.texts("stdout")
    key = installation.key.read_text().strip().splitlines()[-1]  # the newest key's line
    if sandboxed(installation):
        assert {"NO-KEY", "NO-LOG", "NO-VIEWS"} <= set(out)
        assert not any(key in line for line in out)
        assert not {"secret.key", "log.sqlite", "views.duckdb"} & set(out)
    else:
        assert key in out and "LOG-CONTENT" in out and "VIEWS-CONTENT" in out
        assert "log.sqlite" in out


async def test_another_jobs_workspace_cannot_be_reached(installation: Installation) -> None:
    with installation.other_job() as other:
        notifier = await installation.run(
            document(
                f"cat {installation.other}/secret.txt || echo NO-PATH",
                # Through another job's process: its cwd link, its environment.
                f"cat /proc/{other.pid}/cwd/secret.txt || echo NO-PROC",
                "cat /proc/[0-9]*/cwd/secret.txt 2>/dev/null; echo PROC-SCAN-DONE",
            )
        )
    out = notifier.texts("stdout")
    if sandboxed(installation):
        assert {"NO-PATH", "NO-PROC"} <= set(out)
        assert "OTHER-JOB-SECRET" not in out
        assert "PROC-SCAN-DONE" in out
    else:
        assert out.count("OTHER-JOB-SECRET") >= 2


async def test_nothing_outside_the_workspace_can_be_written(
    installation: Installation, tmp_path: Path
) -> None:
    # Outside /tmp (the sandbox has its own) and outside the data directory.
    outside = Path("/var/tmp") / f"jobstream-test-{os.getpid()}-{installation.settings.builder}"
    beside = tmp_path / "beside"  # under the host's /tmp, which the sandbox replaces
    try:
        notifier = await installation.run(
            document(
                f"touch {outside} || echo NO-WRITE",
                f"touch {beside}",
                "echo in > %{workspace}/inside && cat %{workspace}/inside",
                "echo private > /tmp/scratch && cat /tmp/scratch",
            )
        )
        out = notifier.texts("stdout")
        assert "in" in out and "private" in out  # the workspace and its own /tmp are writable
        if sandboxed(installation):
            assert "NO-WRITE" in out
            assert not outside.exists() and not beside.exists()
            assert not Path("/tmp/scratch").exists()
        else:
            assert outside.exists() and beside.exists()
    finally:
        outside.unlink(missing_ok=True)
        if not sandboxed(installation):
            Path("/tmp/scratch").unlink(missing_ok=True)


def processes_with(argument: str) -> list[int]:
    """Live processes on this host (any namespace) with `argument` in their command line."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            if argument.encode() in arguments and not gone(int(entry.name)):
                found.append(int(entry.name))
    return found


async def test_a_daemon_does_not_outlive_its_step(installation: Installation) -> None:
    # A unique sleep, so the test finds exactly the daemon this job left.
    seconds = f"{3000 + os.getpid() % 1000}.{len(installation.settings.builder)}"
    notifier = await installation.run(
        document(
            f"setsid sh -c 'touch %{{workspace}}/up; exec sleep {seconds}' </dev/null >&0 2>&0 &"
            # Once `up` exists the daemon has left the step's session.
            " while [ ! -e %{workspace}/up ]; do sleep 0.01; done; echo started"
        )
    )
    assert "started" in notifier.texts("stdout")
    assert notifier.statuses[-1].status is Status.SUCCEEDED
    if sandboxed(installation):
        await wait_until(lambda: not processes_with(seconds), timeout=10)
    else:
        survivors = processes_with(seconds)
        assert survivors  # the difference: on the host it escapes the job
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def tcp_server() -> Iterator[int]:
    """A listening TCP socket on 127.0.0.1 that accepts in the background; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                server.accept()[0].close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def connect(port: int) -> str:
    """A command printing CONNECTED if it reaches the port, else NO-CONNECT. (bash's
    /dev/tcp, not this interpreter: a checkout under /tmp is hidden by the private /tmp.)"""
    return (
        f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo CONNECTED"
        " || echo NO-CONNECT"
    )


@pytest.mark.parametrize("network", [True, False])
async def test_the_network_can_be_turned_off(installation: Installation, network: bool) -> None:
    with tcp_server() as port:
        notifier = await installation.run(document(connect(port), network=network))
    out = notifier.texts("stdout")
    if network:
        assert "CONNECTED" in out
    elif sandboxed(installation):
        assert "NO-CONNECT" in out and "CONNECTED" not in out
    else:
        # The host cannot give what the job asks: it refuses to run the step at all.
        assert notifier.statuses[-1].status is Status.FAILED
        assert "only the sandbox builder" in (notifier.statuses[-1].reason or "")


async def test_a_setting_turns_the_network_off_for_every_job(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", job_network=False)
    runner = make_runner(settings)
    with tcp_server() as port:
        notifier = RecordingNotifier()
        await runner.run("job-1", document(connect(port), network=True), notifier)
    assert "NO-CONNECT" in notifier.texts("stdout")


async def test_the_job_environment_is_only_what_it_is_given(
    installation: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBSTREAM_GITHUB_TOKEN", "gh-token-of-the-worker")
    monkeypatch.setenv("JOBSTREAM_WEBHOOK_SECRET", "hook-secret-of-the-worker")
    monkeypatch.setenv("UNRELATED_WORKER_VARIABLE", "worker-only")
    notifier = await installation.run(document("env"))
    env = dict(line.split("=", 1) for line in notifier.texts("stdout") if "=" in line)
    assert not any(name.startswith("JOBSTREAM_") for name in env)
    assert "gh-token-of-the-worker" not in env.values()
    assert env["PATH"] == os.environ["PATH"]
    if sandboxed(installation):
        assert set(env) <= {"PATH", "HOME", "PWD", "SHLVL", "_", "OLDPWD"}
        assert env["HOME"] == str(installation.settings.workspaces.absolute() / "job-1")
    else:
        assert env["UNRELATED_WORKER_VARIABLE"] == "worker-only"


def command_lines_holding(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


async def test_an_interpolated_secret_is_on_no_command_line(installation: Installation) -> None:
    secret = f"cmdline-secret-{os.getpid()}"
    started = installation.settings.workspaces / "job-1" / "started"
    doc = document(
        "true %{pw}; touch %{workspace}/started; sleep 300",
        secrets={"pw": secret},
        timeout=BOUND / 2,
    )
    cancel = asyncio.Event()
    notifier = RecordingNotifier()
    task = asyncio.create_task(installation.runner.run("job-1", doc, notifier, cancel=cancel))
    await wait_until(started.exists, timeout=BOUND / 2)
    try:
        assert command_lines_holding(secret) == []
    finally:
        cancel.set()
        assert await task is Status.CANCELLED


class _ChallengingGit(http.server.BaseHTTPRequestHandler):
    """A git server that only asks for credentials, and records what it was sent."""

    sent: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        if auth is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
        else:
            self.sent.append(auth)
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


async def test_a_source_token_reaches_git_only_through_the_credential_helper(
    installation: Installation,
) -> None:
    token = f"src-token-{os.getpid()}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChallengingGit)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ChallengingGit.sent = []
    url = f"http://127.0.0.1:{server.server_address[1]}/org/repo.git"
    try:
        doc = JobDocument.model_validate(
            {
                "name": "clone",
                "stages": [{"name": "a", "steps": [{"action": "log", "message": "x"}]}],
                "sequence": [{"stage": "a"}],
                "sources": [{"type": "git", "url": url, "token": token}],
            }
        )
        runner = Runner(
            workspace_root=installation.settings.workspaces,
            builder=installation.runner.builder,
        )
        notifier = RecordingNotifier()
        await runner.run("job-1", doc, notifier)
    finally:
        server.shutdown()
        server.server_close()
    assert notifier.statuses[-1].status is Status.FAILED  # the server has no repository
    sent = {base64.b64decode(a.removeprefix("Basic ")).decode() for a in _ChallengingGit.sent}
    assert sent == {f"{token}:x-oauth-basic"}
    assert not any(token in t for t in notifier.texts())
    workspace = installation.settings.workspaces / "job-1"
    for path in workspace.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


async def test_a_step_ends_with_a_worker_killed_by_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seconds = f"{4000 + os.getpid() % 1000}.5"
    job = tmp_path / "job.json"
    job.write_text(
        '{"name": "quiet", "sequence": [{"stage": "a"}], "stages": [{"name": "a", "steps":'
        f' [{{"action": "command", "cmd": "touch %{{workspace}}/up; sleep {seconds}"}}]}}]}}'
    )
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data)}
    cli = [sys.executable, "-m", "jobstream"]
    subprocess.run([*cli, "submit", str(job)], env=env, check=True, capture_output=True)
    worker = subprocess.Popen([*cli, "worker"], env=env, stderr=subprocess.PIPE)
    try:
        eventually(lambda: list((data / "workspaces").glob("*/up")), timeout=BOUND)
        eventually(lambda: processes_with(seconds), timeout=BOUND)  # `sleep` has started
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # Only the sandbox is gone; the host builder would leave `sleep` behind.
        eventually(lambda: not processes_with(seconds), timeout=10)
    finally:
        worker.kill()
        worker.wait()
        for pid in processes_with(seconds):
            os.kill(pid, signal.SIGKILL)


async def test_a_timed_out_step_leaves_no_process(tmp_path: Path) -> None:
    runner = Runner(workspace_root=tmp_path / "ws", builder=SandboxBuilder(), kill_grace=0.3)
    seconds = f"{5000 + os.getpid() % 1000}.5"
    doc = document(f"setsid sleep {seconds} & sleep {seconds}", timeout=0.5)
    notifier = RecordingNotifier()
    started = time.monotonic()
    assert await runner.run("job-1", doc, notifier) is Status.FAILED
    assert time.monotonic() - started < 10
    await wait_until(lambda: not processes_with(seconds), timeout=10)


def test_the_builders_are_named_by_the_setting(tmp_path: Path) -> None:
    assert isinstance(make_runner(Settings(data_dir=tmp_path)).builder, SandboxBuilder)
    host = make_runner(Settings(data_dir=tmp_path, builder="host")).builder
    assert isinstance(host, HostBuilder)


async def test_a_cancelled_step_gets_sigterm_and_its_grace(tmp_path: Path) -> None:
    runner = Runner(workspace_root=tmp_path / "ws", builder=SandboxBuilder(), kill_grace=5)
    started = tmp_path / "ws" / "job-1" / "up"
    doc = document(
        "trap 'echo cleaning up; exit 3' TERM; touch %{workspace}/up; while :; do sleep 0.05; done"
    )
    cancel = asyncio.Event()
    notifier = RecordingNotifier()
    task = asyncio.create_task(runner.run("job-1", doc, notifier, cancel=cancel))
    await wait_until(started.exists, timeout=BOUND / 2)
    begun = time.monotonic()
    cancel.set()
    assert await task is Status.CANCELLED
    assert "cleaning up" in notifier.texts("stdout"), notifier.texts()  # SIGTERM reached it
    assert time.monotonic() - begun < 5  # and it did not need the SIGKILL
