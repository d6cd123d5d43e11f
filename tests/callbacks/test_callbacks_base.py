"""The Callback interface, JobInfo, the registry, the stdout callback, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import io
from pathlib import Path

import pytest

from jobstream.callbacks import Callback, CallbackNotFound, JobInfo, installed, load
from jobstream.callbacks.base import CallbackConfigError
from jobstream.callbacks.stdout import StdoutCallback
from jobstream.callbacks.webhook import WebhookCallback, sign, verify
from jobstream.events.models import (
    Completed,
    Heartbeat,
    JobSubmitted,
    LogAppended,
    LogLine,
    Status,
    StatusChanged,
)

LINE = LogLine(n=1, at="2026-11-28T00:00:00Z", stream="stdout", text="hi")
STATUS = StatusChanged(job_id="j", writer="w", seq=1, status=Status.STARTED)
LOG = LogAppended(job_id="j", writer="w", seq=2, lines=[LINE])
DONE = Completed(job_id="j", writer="w", seq=3, success=True, status="SUCCEEDED", lines=1, bytes=2)
BEAT = Heartbeat(job_id="j", writer="w", seq=4, lease_seconds=5, worker="x")


class OnlyCompletion(Callback):
    async def completion(self, job: JobInfo, success: bool) -> None:
        pass


def test_exported_members() -> None:
    from jobstream import callbacks
    from jobstream.callbacks import base, host, registry, store

    modules = (base, host, registry, store)
    assert sorted(callbacks.__all__) == sorted(n for m in modules for n in m.__all__)
    assert all(hasattr(callbacks, name) for name in callbacks.__all__)


def test_job_info_from_the_submitted_document() -> None:
    event = JobSubmitted(
        job_id="j1",
        writer="submit",
        seq=1,
        document={"name": "unit", "version": 1.5, "labels": {"a": "doc", "b": "doc"}},
        labels={"b": "event"},
        submitter="ann",
    )
    job = JobInfo.from_event(event)
    assert (job.id, job.name, job.version, job.submitter) == ("j1", "unit", "1.5", "ann")
    assert job.labels == {"a": "doc", "b": "event"}


def test_only_the_overridden_hooks_are_taken() -> None:
    only = OnlyCompletion()
    assert [only.takes(e) for e in (STATUS, LOG, DONE, BEAT)] == [False, False, True, False]
    assert [StdoutCallback().takes(e) for e in (STATUS, LOG, DONE, BEAT)] == [True] * 4


def test_registry_knows_builtins_entry_points_and_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "demo_callbacks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-callbacks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[jobstream.callbacks]\ndemo = demo_module:Demo\nstdout = demo_module:Demo\n"
    )
    (tmp_path / "demo_module.py").write_text(
        "from jobstream.callbacks import Callback\nclass Demo(Callback):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    names = {i.name: i for i in installed()}
    assert {"webhook", "github", "stdout", "demo"} <= set(names)
    assert names["demo"].source == "demo-callbacks"
    # A built-in name cannot be taken over.
    assert names["stdout"].spec == "jobstream.callbacks.stdout:StdoutCallback"
    name, cls = load("demo")
    assert (name, cls.__name__) == ("demo", "Demo")
    assert load("demo_module:Demo")[0] == "demo_module.Demo"
    assert load("jobstream.callbacks.stdout:StdoutCallback") == ("stdout", StdoutCallback)
    for bad in ("missing", "demo_module:Nope", "nomodule:X", "jobstream.events.models:Status"):
        with pytest.raises(CallbackNotFound):
            load(bad)


def test_builtins_check_their_settings() -> None:
    with pytest.raises(CallbackConfigError):
        WebhookCallback.from_settings({})
    hook = WebhookCallback.from_settings({"webhook_url": "http://x", "webhook_logs": True})
    assert hook.takes(LOG) and not hook.takes(BEAT)


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"hook":"completion"}'
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert sign("key", body) == f"sha256={expected}"
    assert verify("key", body, f"sha256={expected}")
    assert not verify("key", body + b" ", f"sha256={expected}")
    assert not verify("key", body, None)


async def test_stdout_prints_one_line_per_event() -> None:
    out = io.StringIO()
    printer = StdoutCallback(out)
    job = JobInfo(id="0123456789abcdef", name="unit")
    for event in (STATUS, LOG, DONE):
        await printer.on_event(job, event)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("0123456789ab unit StatusChanged STARTED")
    assert "Completed SUCCEEDED success=True" in lines[2]
