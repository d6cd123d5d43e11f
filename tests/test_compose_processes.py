"""The docker-compose stack as processes on this machine: the same services, run with the
commands and environment docker-compose.yml gives them, on a real Kafka-protocol broker.

No Docker engine is needed. Each service's `command` and `environment` are read from the
compose file (YAML merge keys and `${VAR:-default}` resolved), and only what differs
between a container and a process is changed: service host names become 127.0.0.1 with
the ports of this test's broker and API, listening on every address becomes listening on
127.0.0.1, and a volume's mount point becomes a directory of this test. A job document
goes into the mounted jobs folder, the command line submits it through the projector's
API with a token, two workers share the jobs topic, and the callbacks service delivers the
job's outcome to a webhook receiver here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from jobstream import runtime

from .callbacks.callbacks_support import Request, free_port, serving
from .kafka_broker import KafkaBroker
from .polling import eventually

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"

# Compose's interpolation, the forms the file uses: ${NAME}, ${NAME:-default}, ${NAME-default}.
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")
# A service reached by name in a URL or an address: `kafka://kafka:9092`, `http://projector:8080`.
_SERVICE_ADDRESS = re.compile(r"(?<=//)(?P<host>[a-z][\w-]*):(?P<port>\d+)")


def interpolate(value: str, environ: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name, op, default = match["name"], match["op"], match["default"] or ""
        given = environ.get(name)
        if given is None or (op == ":-" and given == ""):
            return default if op else ""
        return given

    return _VARIABLE.sub(one, value)


@dataclass
class Stack:
    """docker-compose.yml's services, started as processes on 127.0.0.1."""

    services: dict[str, Any]
    root: Path
    # service name -> {container port: (host, port) here}
    addresses: dict[str, dict[int, tuple[str, int]]]
    environ: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _volume(self, spec: str) -> tuple[str, Path]:
        source, target, *_ = spec.split(":")
        if source.startswith("./"):
            return target, self.root / "project" / source[2:]
        return target, self.root / "volumes" / source

    def _mounts(self, service: str) -> list[tuple[str, Path]]:
        mounts = [self._volume(v) for v in self.services[service].get("volumes", [])]
        return sorted(mounts, key=lambda m: -len(m[0]))  # /data/x before /data

    def _local(self, service: str, value: str) -> str:
        """A value as the process must see it: services by address, mounts by path."""

        def address(match: re.Match[str]) -> str:
            ports = self.addresses.get(match["host"])
            if ports is None:
                return match[0]
            host, port = ports[int(match["port"])]
            return f"{host}:{port}"

        value = _SERVICE_ADDRESS.sub(address, value)
        if value == "0.0.0.0":
            return "127.0.0.1"  # network only on 127.0.0.1
        for target, path in self._mounts(service):
            if value == target or value.startswith(target + "/"):
                return str(path) + value[len(target) :]
        return value

    def environment(self, service: str) -> dict[str, str]:
        given = self.services[service].get("environment") or {}
        env = {
            name: self._local(service, interpolate(str(value), self.environ))
            for name, value in given.items()
        }
        # A container's own port is its service's: the API listens where its name leads.
        if service in self.addresses:
            ((inside, (_, port)),) = self.addresses[service].items()
            assert "JOBSTREAM_PORT" not in env, "the compose file sets the API's port itself"
            assert inside == 8080, "the compose file's API port is jobstream's default"
            env["JOBSTREAM_PORT"] = str(port)
        return env

    def argv(self, service: str, command: list[str] | None = None) -> list[str]:
        args = command if command is not None else self.services[service]["command"]
        return [sys.executable, "-m", "jobstream", *(self._local(service, a) for a in args)]

    def process_env(self, service: str, **extra: str) -> dict[str, str]:
        for _, path in self._mounts(service):
            path.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in self.environ.items() if not k.startswith("JOBSTREAM_")}
        return {**base, **self.environment(service), "PYTHONUNBUFFERED": "1", **extra}

    def start(self, service: str, **extra: str) -> subprocess.Popen[bytes]:
        """The service's own command; its output goes to a file (a pipe nobody reads
        would block it once full)."""
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        out = (logs / f"{service}-{len(self.processes)}.log").open("wb")
        proc = subprocess.Popen(
            self.argv(service),
            env=self.process_env(service, **extra),
            cwd=self.root / "project",
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.processes.append(proc)
        return proc

    def run(self, service: str, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """`docker-compose run --rm SERVICE COMMAND...`."""
        return subprocess.run(
            self.argv(service, list(command)),
            env=self.process_env(service, **extra),
            cwd=self.root / "project",
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def healthy(self, service: str) -> bool:
        """The service's compose health check, run here: CMD form, exit 0 means healthy."""
        kind, *command = self.services[service]["healthcheck"]["test"]
        assert kind == "CMD"
        local = [self._local(service, c) for c in command]
        for inside, (_, port) in self.addresses.get(service, {}).items():
            local = [c.replace(f"127.0.0.1:{inside}", f"127.0.0.1:{port}") for c in local]
        if local[0] == "jobstream":
            local = [sys.executable, "-m", "jobstream", *local[1:]]
        elif local[0] == "python":
            local = [sys.executable, *local[1:]]
        result = subprocess.run(
            local,
            env=self.process_env(service),
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        return result.returncode == 0

    def output(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted((self.root / "logs").glob("*.log"))
        )

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def compose_services() -> dict[str, Any]:
    """The services of docker-compose.yml, merge keys applied (PyYAML's safe loader does)."""
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


@pytest.fixture
def stack(tmp_path: Path, kafka_broker: KafkaBroker) -> Iterator[Stack]:
    (tmp_path / "project").mkdir()
    environ = {
        **os.environ,
        # What a user puts in .env beside the compose file; the token is set once made.
        "JOBSTREAM_TOKEN": "",
        "JOBSTREAM_WEBHOOK_URL": "",
    }
    stack = Stack(
        compose_services(),
        tmp_path,
        {
            "kafka": {9092: (kafka_broker.host, kafka_broker.port)},
            "projector": {8080: ("127.0.0.1", free_port())},
        },
        environ,
    )
    try:
        yield stack
    finally:
        stack.stop()


def test_the_compose_services_run_a_job_as_processes(stack: Stack) -> None:
    # The shared tansu broker serves every test: topics of this test's own, and group
    # sessions short enough for tansu's joins (it makes a join wait half the session).
    own = {
        "JOBSTREAM_TOPIC_PREFIX": f"compose-{uuid.uuid4().hex[:8]}-",
        "JOBSTREAM_KAFKA_SESSION_TIMEOUT": "2",
    }

    made = stack.run("cli", "token", "create", "ci", "--scope", "write", **own)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    stack.environ["JOBSTREAM_TOKEN"] = token

    with serving(lambda request: (200, {})) as receiver:
        stack.environ["JOBSTREAM_WEBHOOK_URL"] = f"{receiver.url}/hook"
        stack.start("projector", **own)
        eventually(lambda: stack.healthy("projector"), 90, 0.5)
        workers = [stack.start("worker", **own) for _ in range(2)]
        stack.start("callbacks", **own)
        eventually(lambda: stack.healthy("worker"), 90, 0.5)
        assert all(w.poll() is None for w in workers), stack.output()

        jobs = stack.root / "project" / "jobs"
        jobs.mkdir(exist_ok=True)
        (jobs / "hello.yml").write_text(
            "name: compose-hello\nsequence: [{stage: greet}]\nstages:\n"
            "  - name: greet\n    steps:\n"
            "      - {action: command, cmd: echo, args: [hello from compose]}\n"
        )
        # In compose the data volume's server.json was written in another container: a
        # command given a server must not read it. Here it names a live process of this
        # host, so only not reading it keeps the command off its closed port.
        data_dir = Path(stack.environment("cli")["JOBSTREAM_DATA_DIR"])
        runtime.write(data_dir, f"http://127.0.0.1:{free_port()}")
        assert runtime.discover(data_dir) is not None

        # The projector requires a token: the command line without one is refused.
        refused = stack.run("cli", "submit", "/jobs/hello.yml", JOBSTREAM_TOKEN="", **own)
        assert refused.returncode == 7, refused.stdout + refused.stderr

        submitted = stack.run("cli", "submit", "/jobs/hello.yml", **own)
        assert submitted.returncode == 0, submitted.stderr + stack.output()
        job_id = submitted.stdout.strip().splitlines()[-1]

        api = stack.environment("cli")["JOBSTREAM_SERVER"]
        headers = {"Authorization": f"Bearer {token}"}

        def status() -> str | None:
            answer = httpx.get(f"{api}/jobs/{job_id}/status", headers=headers, timeout=10)
            return answer.json()["status"] if answer.status_code == 200 else None

        try:
            eventually(lambda: status() in {"SUCCEEDED", "FAILED", "CANCELLED"}, 120, 0.5)
        except AssertionError:
            raise AssertionError(stack.output()) from None
        assert status() == "SUCCEEDED", stack.output()
        log = httpx.get(f"{api}/jobs/{job_id}/log", headers=headers, timeout=10)
        assert "hello from compose" in log.text

        def completion() -> Request | None:
            return next(
                (
                    r
                    for r in list(receiver.requests)
                    if r.json()["hook"] == "completion" and r.json()["job"]["id"] == job_id
                ),
                None,
            )

        try:
            delivered = eventually(completion, 60, 0.2)
        except AssertionError:
            raise AssertionError(stack.output()) from None
        assert delivered.path == "/hook"
        assert delivered.json()["success"] is True
        assert delivered.json()["job"]["name"] == "compose-hello"
