"""A step whose process cannot start, and a runner that fails where nothing foresaw it:
the job ends FAILED at once with the reason, masked, instead of waiting for its lease."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.secrets import Keyring, SecretBox
from jobstream.events.models import Status
from jobstream.runners.builders import HostBuilder
from jobstream.runners.builders.base import Launch, Spawn
from jobstream.runners.executor import Runner
from jobstream.runners.testing import RecordingNotifier

BOUND = 30


class _Unstartable(HostBuilder):
    """Starts what the host builder would, changed as `change` says."""

    def __init__(self, change: str) -> None:
        super().__init__()
        self.change = change

    @contextlib.contextmanager
    def spawn(self, launch: Launch) -> Iterator[Spawn]:
        with super().spawn(launch) as spawn:
            if self.change == "nul":
                yield Spawn([*spawn.argv, "a\0b"], spawn.cwd, spawn.env)
            elif self.change == "cwd":
                yield Spawn(spawn.argv, spawn.cwd / "gone", spawn.env)
            elif self.change == "exec":
                yield Spawn([str(spawn.cwd / "no-such-program")], spawn.cwd, spawn.env)
            else:
                raise RuntimeError(f"a bug that mentions {self.change}")


def document(**extra: object) -> JobDocument:
    return JobDocument.model_validate(
        {
            "name": "j",
            "stages": [{"name": "s", "steps": [{"action": "command", "cmd": "echo %{token}"}]}],
            "sequence": [{"stage": "s"}],
            **extra,
        }
    )


async def run(tmp_path: Path, change: str, doc: JobDocument) -> tuple[Status, RecordingNotifier]:
    box = SecretBox(Keyring.generate())
    runner = Runner(workspace_root=tmp_path / "ws", builder=_Unstartable(change), secret_box=box)
    notifier = RecordingNotifier()
    started = time.monotonic()
    async with asyncio.timeout(BOUND):
        status = await runner.run("job-1", doc, notifier)
    assert time.monotonic() - started < 5
    assert notifier.completions[-1].status is status
    return status, notifier


async def test_a_process_that_cannot_start_fails_its_step(tmp_path: Path) -> None:
    for change, words in [
        ("nul", "embedded null byte"),
        ("cwd", "No such file or directory"),
        ("exec", "No such file or directory"),
    ]:
        status, notifier = await run(tmp_path / change, change, document())
        assert status is Status.FAILED
        reason = notifier.statuses[-1].reason or ""
        assert reason.startswith("stage 's' step 1 (command): cannot start in ")
        assert words in reason


class _FailsOnStart(RecordingNotifier):
    """Fails once, where no runner code expects it: reporting STARTED."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words

    async def status_changed(
        self, status: Status, previous: Status | None, **kw: str | None
    ) -> None:
        if status is Status.STARTED and self.words:
            words, self.words = self.words, ""
            raise RuntimeError(f"a bug that mentions {words}")
        await super().status_changed(status, previous, **kw)


async def test_an_unforeseen_failure_ends_the_job_with_the_reason_masked(tmp_path: Path) -> None:
    secret = "hunter2-value"
    box = SecretBox(Keyring.generate())
    runner = Runner(workspace_root=tmp_path / "ws", secret_box=box)
    notifier = _FailsOnStart(secret)
    async with asyncio.timeout(BOUND):
        status = await runner.run("job-1", document(secrets={"token": secret}), notifier)
    assert status is Status.FAILED
    assert notifier.completions[-1].status is Status.FAILED
    reason = notifier.statuses[-1].reason or ""
    assert reason == "the runner failed: RuntimeError: a bug that mentions ***"
    assert all(secret not in text for text in notifier.texts("system"))
