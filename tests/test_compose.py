"""docker-compose.yml is valid, and keeps what `--scale worker=3` and restarts rely on.

Validated with `docker-compose config`, which needs no Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .kafka_broker import skip_or_fail

COMPOSE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def _config(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        skip_or_fail("docker-compose not found: apt-get install docker-compose")
    assert binary is not None
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=COMPOSE.parent,
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
    for name in ("projector", "worker", "callbacks"):
        environment = services[name]["environment"]
        assert environment["JOBSTREAM_SERVER"] == "http://projector:8080"
        assert "JOBSTREAM_TOKEN" in environment


def test_the_image_holds_the_examples() -> None:
    dockerfile = (COMPOSE.parent / "Dockerfile").read_text()
    assert "/src/examples/ /home/jobstream/examples/" in dockerfile
    assert "WORKDIR /home/jobstream" in dockerfile


def test_the_worker_may_make_the_namespaces_of_its_sandbox(services: dict) -> None:
    # Without these the sandbox cannot start in a container, and the worker refuses jobs
    # rather than running them unconfined beside the keys.
    options = set(services["worker"]["security_opt"])
    assert {"seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"} <= options
    assert "JOBSTREAM_BUILDER" not in services["worker"]["environment"]
