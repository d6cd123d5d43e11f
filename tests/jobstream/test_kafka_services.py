"""Worker, projector (faust) and command line as separate processes on a Kafka broker.

The Kafka twins of test_services.py: every command gets `--broker kafka://...` and a topic
prefix of its own on the session's tansu; group sessions are 2 s, so a killed member's
partitions move on quickly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from jobstream import runtime
from jobstream.dispatcher import check_health
from jobstream.events.codec import decode
from jobstream.events.log.kafka import KafkaLog, parse_broker_url
from jobstream.events.models import Completed, Event
from jobstream.events.names import Topics

from ..kafka_broker import KafkaBroker, skip_or_fail
from ..polling import eventually
from .cli_support import EXAMPLES, Cli, valid_events

# Above the faust host's lag on tansu (its fetches wait up to 1.5 s), so a live job is
# never taken for lost; short enough for the lost-worker test.
LEASE = "5"


class KafkaCli(Cli):
    """`jobstream --broker kafka://... COMMAND` with topics of its own."""

    def __init__(self, data_dir: Path, broker: KafkaBroker) -> None:
        super().__init__(data_dir)
        self.broker = broker
        self.topics = Topics(prefix=f"cli-{uuid.uuid4().hex[:8]}-")
        self.env.update(
            {
                "JOBSTREAM_TOPIC_PREFIX": self.topics.prefix,
                "JOBSTREAM_KAFKA_SESSION_TIMEOUT": "2",
                "JOBSTREAM_LEASE": LEASE,
                "JOBSTREAM_PORT": "0",
            }
        )

    def argv(self, *args: str) -> list[str]:
        return super().argv("--broker", self.broker.url, *args)

    def events(self) -> list[Event]:
        """Every valid event on both topics, read straight from Kafka."""

        async def go() -> list[Event]:
            async with KafkaLog(parse_broker_url(self.broker.url), partitions=4) as log:
                return await valid_events(log, self.topics, idle=0.5)

        return asyncio.run(go())

    def completions(self) -> dict[str, Completed]:
        return {e.job_id: e for e in self.events() if isinstance(e, Completed)}

    def jobs(self) -> dict[str, dict]:
        """The views' job records (through the projector's API when one runs); {} while a
        starting projector holds the views but does not answer yet."""
        result = self("list", "--json")
        if result.returncode == 3 and "held by process" in result.stderr:
            return {}
        assert result.returncode == 0, result.stderr
        return {r["job_id"]: r for r in json.loads(result.stdout)}


@pytest.fixture
def kcli(tmp_path: Path, kafka_broker: KafkaBroker):
    runner = KafkaCli(tmp_path / "data", kafka_broker)
    yield runner
    runner.stop_all()


def write_job(path: Path, name: str, cmd: str) -> Path:
    path.write_text(
        f"name: {name}\nsequence: [{{stage: s}}]\nstages:\n  - name: s\n    steps:\n"
        f"      - action: command\n        cmd: {json.dumps(cmd)}\n"
    )
    return path


def submit(cli: KafkaCli, document: Path) -> str:
    result = cli("submit", str(document))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_serve_makes_its_data_directory_on_kafka(kcli: KafkaCli) -> None:
    # On Kafka nothing but the views needs the directory: serve makes it, no IOException.
    assert not kcli.data_dir.exists()
    proc = kcli.start("serve")
    eventually(lambda: runtime.discover(kcli.data_dir) or proc.poll() is not None, 60, 0.2)
    assert proc.poll() is None, proc.communicate()[1]
    info = runtime.discover(kcli.data_dir)
    assert info is not None
    assert info.url.startswith("http://127.0.0.1:")
    assert (kcli.data_dir / "views.duckdb").is_file()


def test_a_submitted_job_runs_on_a_worker_and_reaches_the_projector_views(kcli: KafkaCli) -> None:
    projector = kcli.start("project")
    kcli.start("worker", "--concurrency", "2")
    ids = [submit(kcli, EXAMPLES / "minimal.yml") for _ in range(3)]
    assert all(len(i) == 32 for i in ids)

    done = eventually(lambda: (c := kcli.completions()) and set(ids) <= set(c) and c, 60, 0.5)
    assert all(done[i].success for i in ids)
    eventually(lambda: {kcli.jobs().get(i, {}).get("status") for i in ids} == {"SUCCEEDED"}, 30)

    stop(projector)
    # Without a projector the command line opens the views and catches up itself.
    assert {kcli.jobs()[i]["status"] for i in ids} == {"SUCCEEDED"}
    rebuilt = kcli("replay")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "views replaced" in rebuilt.stdout
    assert {kcli.jobs()[i]["status"] for i in ids} == {"SUCCEEDED"}


def test_projector_killed_mid_stream_equals_a_clean_replay(kcli: KafkaCli, tmp_path: Path) -> None:
    kcli.start("worker")
    job = write_job(
        tmp_path / "chatty.yml",
        "chatty",
        "i=0; while [ $i -lt 30 ]; do seq 1 300; echo oops >&2; sleep 0.1; i=$((i+1)); done",
    )
    ids = [submit(kcli, job) for _ in range(2)]
    rng = random.Random(11)
    for _ in range(4):
        projector = kcli.start("project")
        # Early kills land in the bulk catch-up, later ones in the faust app.
        time.sleep(rng.uniform(0.5, 4.0))
        os.kill(projector.pid, signal.SIGKILL)
        projector.wait()
    eventually(lambda: set(ids) <= set(kcli.completions()), 90, 0.5)

    last = kcli.start("project")

    def projected() -> bool:
        jobs = kcli.jobs()
        return all(
            jobs.get(i, {}).get("status") == "SUCCEEDED" and jobs[i]["lines"] >= 30 * 301
            for i in ids
        )

    eventually(projected, 60, 0.5)
    stop(last)

    result = kcli("replay", "--verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "views match" in result.stdout


def test_a_killed_workers_job_fails_and_its_queued_jobs_run_on_the_survivor(
    kcli: KafkaCli, tmp_path: Path
) -> None:
    kcli.start("project")
    doomed = kcli.start("worker", "--concurrency", "1")
    long_job = submit(kcli, write_job(tmp_path / "long.yml", "long", "echo started; sleep 60"))

    def running(job_id: str) -> bool:
        return any(
            e.job_id == job_id and e.type == "StatusChanged" and e.status.name == "STARTED"
            for e in kcli.events()
        )

    eventually(lambda: running(long_job), 60, 0.5)
    # The doomed worker is busy: these wait on its partitions (all of them, for now).
    quick = [submit(kcli, EXAMPLES / "minimal.yml") for _ in range(4)]
    survivor = kcli.start("worker", "--concurrency", "2")
    # Killed only once the survivor is up: its health file says its loop runs.
    eventually(lambda: survivor.pid in {h.pid for h in check_health(kcli.data_dir / "workers")})
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()

    done = eventually(lambda: (c := kcli.completions()) and {long_job, *quick} <= set(c) and c, 90)
    assert all(done[i].success for i in quick)
    lost = done[long_job]
    assert lost.success is False
    assert lost.writer == "lease-keeper"
    reason = next(
        e.reason
        for e in kcli.events()
        if e.job_id == long_job and e.type == "StatusChanged" and e.status.name == "FAILED"
    )
    assert "lost" in reason
    eventually(lambda: kcli.jobs().get(long_job, {}).get("status") == "FAILED", 30, 0.5)


@pytest.fixture
def kcat_cli(tmp_path: Path, librdkafka_broker: KafkaBroker):
    """The command line on the broker kcat can talk to (see kafka_broker.LibrdkafkaShim)."""
    if shutil.which("kcat") is None:
        skip_or_fail("kcat not found: apt-get install kcat")
    runner = KafkaCli(tmp_path / "data", librdkafka_broker)
    yield runner
    runner.stop_all()


def kcat(cli: KafkaCli, *args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["kcat", "-b", cli.broker.bootstrap, *args], input=stdin, capture_output=True, timeout=60
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def test_a_document_produced_by_kcat_runs_and_kcat_reads_the_documented_events(
    kcat_cli: KafkaCli,
) -> None:
    kcat_cli.start("worker")
    kcat_cli.start("project")
    # As anyone would send it: one JSON document a line, no key, no headers.
    document = json.dumps(json.loads((EXAMPLES / "hello.json").read_text())).encode()
    kcat(kcat_cli, "-P", "-t", kcat_cli.topics.jobs, stdin=document + b"\n")
    done = eventually(lambda: kcat_cli.completions(), 90, 0.5)
    ((job_id, completed),) = done.items()
    assert completed.success

    messages = [
        json.loads(line)
        for line in kcat(
            kcat_cli, "-C", "-t", kcat_cli.topics.events, "-o", "beginning", "-e", "-J"
        ).splitlines()
    ]
    assert {"StatusChanged", "LogAppended", "Completed"} <= {
        json.loads(m["payload"])["type"] for m in messages
    }
    for message in messages:
        payload = json.loads(message["payload"])
        event = decode(message["payload"])  # the JSON the README documents, exactly
        assert event.model_dump(mode="json") == payload
        assert message["key"] == payload["job_id"] == job_id
        headers = dict(zip(message["headers"][::2], message["headers"][1::2], strict=True))
        assert headers == {"type": payload["type"]}
    printed = [
        line["text"]
        for m in messages
        if (p := json.loads(m["payload"]))["type"] == "LogAppended"
        for line in p["lines"]
    ]
    assert "Hello, hello-json!" in printed
    eventually(lambda: kcat_cli.jobs().get(job_id, {}).get("name") == "hello-json", 30, 0.5)
