"""docker-compose.yml is valid, and keeps what `--scale worker=3` and restarts rely on.

Validated with `docker-compose config`, which needs no Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from .kafka_broker import skip_or_fail

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


SASL = COMPOSE.with_name("docker-compose.kafka-sasl.yml")


def _config(
    *args: str, files: tuple[Path, ...] = (COMPOSE,), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        skip_or_fail("docker-compose not found: apt-get install docker-compose")
    assert binary is not None
    return subprocess.run(
        [binary, *(f"--file={f}" for f in files), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=COMPOSE.parent,
        env={**os.environ, **(env or {})},
    )


def test_compose_file_is_valid() -> None:
    result = _config("-q")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def services() -> dict:
    result = _config()
    assert result.returncode == 0, result.stderr
    return dict(yaml.safe_load(result.stdout)["services"])


def test_every_jobstream_service_uses_kafka(services: dict) -> None:
    for name in ("projector", "worker", "callbacks"):
        assert services[name]["environment"]["JOBSTREAM_BROKER"] == "kafka://kafka:9092"
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_worker_can_be_scaled(services: dict) -> None:
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["healthcheck"]["test"][-3:] == ["jobstream", "worker", "--check"]


def test_state_survives_restarts(services: dict) -> None:
    assert any("/var/lib/kafka/data" in str(v) for v in services["kafka"]["volumes"])
    assert "healthcheck" in services["kafka"]
    assert any("/data" in str(v) for v in services["projector"]["volumes"])


def test_every_service_shares_one_keyring_outside_the_data_volume(services: dict) -> None:
    for name in ("projector", "worker", "callbacks"):
        service = services[name]
        key_file = service["environment"]["JOBSTREAM_SECRET_KEY_FILE"]
        assert key_file == "/keys/secret.key"
        mounts = {
            target: source for source, target, *_ in (v.split(":") for v in service["volumes"])
        }
        assert mounts["/keys"] == "jobstream-keys" and mounts["/data"] == "jobstream-data"


def test_the_command_line_in_a_container_reaches_the_api_by_name(services: dict) -> None:
    # No runtime file across containers: the projector's service name and port, and the
    # token from the environment that runs docker-compose.
    assert "8080" in str(services["projector"]["ports"])
    for name in ("projector", "worker", "callbacks", "cli"):
        environment = services[name]["environment"]
        assert environment["JOBSTREAM_SERVER"] == "http://projector:8080"
        assert "JOBSTREAM_TOKEN" in environment


def test_the_image_holds_the_examples() -> None:
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "/src/examples/ /home/jobstream/examples/" in dockerfile
    assert "WORKDIR /home/jobstream" in dockerfile
    # The build context must hold them, or the COPY above fails.
    ignored = (COMPOSE.parent / ".dockerignore").read_text().splitlines()
    assert not [p for p in ignored if p.strip() and fnmatch("examples", p.strip("/"))]


def test_the_worker_may_make_the_namespaces_of_its_sandbox(services: dict) -> None:
    # Without these the sandbox cannot start in a container, and the worker refuses jobs
    # rather than running them unconfined beside the keys.
    options = set(services["worker"]["security_opt"])
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= options
    assert "JOBSTREAM_BUILDER" not in services["worker"]["environment"]


def test_kafka_is_not_reachable_from_outside_the_compose_network(services: dict) -> None:
    kafka = services["kafka"]
    assert "ports" not in kafka
    protocols = kafka["environment"]["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert (
        "EXTERNAL" not in protocols
        and "localhost" not in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )


def test_the_sasl_override_opens_kafka_to_the_host_with_a_password_only() -> None:
    files = (COMPOSE, SASL)
    refused = _config("-q", files=files, env={"KAFKA_HOST_PASSWORD": ""})
    assert refused.returncode != 0 and "KAFKA_HOST_PASSWORD" in refused.stderr
    result = _config(files=files, env={"KAFKA_HOST_PASSWORD": "pw-of-the-host"})
    assert result.returncode == 0, result.stderr
    kafka = yaml.safe_load(result.stdout)["services"]["kafka"]
    environment = kafka["environment"]
    assert "HOST:SASL_PLAINTEXT" in environment["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert environment["KAFKA_LISTENER_NAME_HOST_SASL_ENABLED_MECHANISMS"] == "PLAIN"
    assert (
        'user_host="pw-of-the-host"'
        in environment["KAFKA_LISTENER_NAME_HOST_PLAIN_SASL_JAAS_CONFIG"]
    )
    # Only the SASL listener is published, and only on the loopback address.
    (port,) = kafka["ports"]
    assert str(port).startswith("127.0.0.1:29092")
    assert "PLAINTEXT://:9092" in environment["KAFKA_LISTENERS"]


def test_the_callbacks_service_is_behind_a_profile(services: dict) -> None:
    assert services["callbacks"]["profiles"] == ["callbacks"]
    assert "profiles" not in services["projector"] and "profiles" not in services["worker"]


def test_the_cli_service_reads_job_documents_from_a_mounted_folder(services: dict) -> None:
    cli = services["cli"]
    assert cli["profiles"] == ["cli"]
    assert cli["environment"]["JOBSTREAM_SERVER"] == "http://projector:8080"
    assert "JOBSTREAM_TOKEN" in cli["environment"]
    jobs = [v for v in cli["volumes"] if v.split(":")[1] == "/jobs"]
    assert len(jobs) == 1 and jobs[0].endswith(":ro")
    assert jobs[0].split(":")[0] == str(COMPOSE.parent / "jobs")
