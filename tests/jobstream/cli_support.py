"""Driving the real `jobstream` command line in subprocesses, for the CLI tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from jobstream.events.documents.ingest import decode_record
from jobstream.events.errors import MalformedEvent
from jobstream.events.log.base import EventLog
from jobstream.events.models import Event
from jobstream.events.names import Topics

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


class Cli:
    """Runs `python -m jobstream` against one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "JOBSTREAM_DATA_DIR": str(data_dir),
            "JOBSTREAM_LEASE": "2",
            "JOBSTREAM_KILL_GRACE": "1",
            "JOBSTREAM_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("JOBSTREAM_BROKER", None)
        self.env.pop("JOBSTREAM_SERVER", None)
        self.services: list[subprocess.Popen[str]] = []

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "jobstream", *args]

    def __call__(self, *args: str, timeout: float = 60, input: str | None = None):
        return subprocess.run(
            self.argv(*args),
            env=self.env,
            cwd=self.data_dir.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """A long-running service (worker, project, serve), stopped at teardown."""
        proc = subprocess.Popen(
            self.argv(*args),
            env=self.env,
            cwd=self.data_dir.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.services.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.services:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.services:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
            if proc.stderr:
                proc.stderr.close()


async def valid_events(log: EventLog, topics: Topics, idle: float) -> list[Event]:
    """Every valid event on the topics, read from the start until `idle` s bring nothing."""
    out = []
    async with log.consumer(topics.all, start="earliest") as consumer:
        while batch := await consumer.getmany(max_records=10_000, timeout=idle):
            for record in batch:
                with contextlib.suppress(MalformedEvent):
                    out.append(decode_record(record))
    return out
