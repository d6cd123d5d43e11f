"""`jobstream callbacks run/list` as real processes; SIGKILL mid-stream and restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from jobstream.callbacks.webhook import SIGNATURE_HEADER, verify
from jobstream.events.log.embedded import EmbeddedLog

from ..polling import eventually
from .callbacks_support import Request, append_jobs, serving

# Until the group is registered in jobstream.cli, add it here (add_command is idempotent).
LAUNCH = (
    "from jobstream.cli import main; from jobstream.cli.callbacks import callbacks; "
    "main.add_command(callbacks); main(prog_name='jobstream')"
)


def jobstream(*args: str) -> list[str]:
    return [sys.executable, "-c", LAUNCH, *args]


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "JOBSTREAM_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra}
    env.pop("JOBSTREAM_BROKER", None)
    return env


def seed(data_dir: Path, jobs: int) -> list[str]:
    async def go() -> list[str]:
        async with EmbeddedLog(data_dir / "log.sqlite") as log:
            return await append_jobs(log, jobs, chunks=2)

    data_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(go())


def test_sigkill_mid_stream_then_restart_delivers_everything_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = seed(data, 150)
    expected = 150 * 4  # 3 status changes and 1 completion each

    def respond(request: Request) -> tuple[int, Any]:
        return 200, {}

    with serving(respond) as receiver:
        env = environment(
            data,
            JOBSTREAM_WEBHOOK_URL=receiver.url,
            JOBSTREAM_WEBHOOK_SECRET="k",
            JOBSTREAM_CALLBACK_BACKOFF="0.01",
        )
        argv = jobstream("callbacks", "run", "webhook", "--from", "earliest")
        first = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            eventually(lambda: len(receiver.requests) >= expected // 3, timeout=60)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        at_kill = len(receiver.requests)
        assert at_kill < expected, "killed too late to test anything"

        second = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            eventually(
                lambda: len({r.headers["Idempotency-Key"] for r in receiver.requests}) >= expected,
                timeout=60,
            )
            listed = subprocess.run(
                jobstream("callbacks", "list"),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            second.terminate()
            assert second.wait(timeout=15) == 0
    keys = Counter(r.headers["Idempotency-Key"] for r in receiver.requests)
    assert len(keys) == expected
    # The only repeat possible is the one request in flight at the SIGKILL (answered, not yet
    # recorded); it carries the same Idempotency-Key, so the receiver can drop it.
    repeats = sum(n - 1 for n in keys.values())
    print(f"\nkilled after {at_kill} of {expected} requests; repeated keys: {repeats}")
    assert repeats <= 1
    assert all(verify("k", r.body, r.headers[SIGNATURE_HEADER]) for r in receiver.requests)
    completions = {
        r.json()["job"]["id"] for r in receiver.requests if r.json()["hook"] == "completion"
    }
    assert completions == set(ids)

    assert listed.returncode == 0, listed.stderr
    out = listed.stdout
    assert "webhook" in out and "jobstream.callbacks.github:GitHubCallback" in out
    (row,) = [
        line.split()
        for line in out.splitlines()
        if line.strip().startswith("webhook ") and "running" in line
    ]
    # name state pid delivered dead topic position end lag
    assert row[3] == str(expected) and row[4] == "0" and row[-1] == "0"


def test_run_rejects_an_unknown_callback(tmp_path: Path) -> None:
    result = subprocess.run(
        jobstream("callbacks", "run", "nope"),
        env=environment(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no callback named 'nope'" in result.stderr
