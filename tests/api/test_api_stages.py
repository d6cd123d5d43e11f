"""`/stages` on a real server, and jobs submitted over HTTP that name stored stages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from .api_support import LiveServer

BUILD_V1 = "name: build\nversion: 1.0.0\nsteps:\n  - {action: command, cmd: echo stored-one}\n"
BUILD_V2 = BUILD_V1.replace("1.0.0", "2.0.0").replace("stored-one", "stored-two")
YAML = {"Content-Type": "application/yaml"}


def test_define_list_read_and_refuse_a_duplicate(server: LiveServer) -> None:
    with server.client() as http:
        created = http.post("/stages", content=BUILD_V1, headers=YAML)
        assert created.status_code == 201, created.text
        assert created.json() == {"name": "build", "version": "1.0.0", "warnings": []}
        plain = {"name": "notify", "steps": [{"action": "log", "message": "done"}]}
        assert http.post("/stages", json=plain).json()["version"] == "0.0.1"
        assert http.post("/stages", content=BUILD_V2, headers=YAML).status_code == 201

        duplicate = http.post("/stages", content=BUILD_V1, headers=YAML)
        assert duplicate.status_code == 409
        assert duplicate.json() == {
            "code": "stage_exists",
            "message": "a stage 'build' with version '1.0.0' already exists",
        }

        listed = http.get("/stages").json()["stages"]
        assert [(s["name"], s["version"]) for s in listed] == [
            ("build", "1.0.0"),
            ("build", "2.0.0"),
            ("notify", "0.0.1"),
        ]
        versions = http.get("/stages/build").json()["stages"]
        assert [s["version"] for s in versions] == ["1.0.0", "2.0.0"]
        one = http.get("/stages/build/1.0.0").json()
        assert one["steps"] == [{"action": "command", "cmd": "echo stored-one"}]

        for path in ("/stages/deploy", "/stages/build/9.9.9"):
            missing = http.get(path)
            assert missing.status_code == 404
            assert missing.json()["code"] == "stage_not_found"


def test_an_invalid_stage_is_400_with_every_problem(server: LiveServer) -> None:
    body = {"name": "build", "version": "v1", "steps": [{"action": "command"}]}
    with server.client() as http:
        response = http.post("/stages", json=body)
        assert response.status_code == 400
        error = response.json()
        assert error["code"] == "invalid_stage"
        assert {p["path"] for p in error["problems"]} == {"version", "steps[0].cmd"}
        assert http.get("/stages").json() == {"stages": []}


def test_a_read_token_reads_stages_and_cannot_define_one(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", auth=True, with_worker=False) as server:
        reader, writer = server.token("dash", "read"), server.token("ci", "write")
        with server.client(reader) as http:
            assert http.post("/stages", content=BUILD_V1, headers=YAML).status_code == 403
            assert http.get("/stages").status_code == 200
        with server.client(writer) as http:
            assert http.post("/stages", content=BUILD_V1, headers=YAML).status_code == 201
        with server.client(reader) as http:
            assert http.get("/stages/build").status_code == 200


def test_submitted_jobs_run_stored_stages_by_version_or_the_latest(server: LiveServer) -> None:
    with server.client() as http:
        for body in (BUILD_V2, BUILD_V1):  # 1.0.0 is defined last: it is the latest
            assert http.post("/stages", content=body, headers=YAML).status_code == 201
        latest = _submit(http, {"stage": "build"})
        exact = _submit(http, {"stage": "build", "version": "2.0.0"})
    for job_id, word in ((latest, "stored-one"), (exact, "stored-two")):
        record = server.wait_done(job_id)
        assert record["status"] == "SUCCEEDED", record
        with server.client() as http:
            texts = [line["text"] for line in http.get(f"/jobs/{job_id}/log").json()["lines"]]
        assert word in texts


def test_a_stage_that_is_not_stored_is_422_naming_it(server: LiveServer) -> None:
    with server.client() as http:
        assert http.post("/stages", content=BUILD_V1, headers=YAML).status_code == 201
        document = {
            "name": "j",
            "stages": [],
            "sequence": [{"stage": "build", "on_failure": "failure"}],
        }
        response = http.post("/jobs", json=document)
        assert response.status_code == 422
        error = response.json()
        assert error["code"] == "unresolved_stage"
        assert error["problems"] == [
            {
                "path": "sequence[0].on_failure",
                "message": "stage 'failure' is not defined in the job and is not a stored "
                "stage (`jobstream stage list`)",
                "severity": "error",
            }
        ]
        assert http.get("/jobs").json()["total"] == 0


def test_the_command_line_asks_the_server_that_holds_the_views(
    server: LiveServer, tmp_path: Path
) -> None:
    definition = tmp_path / "build.yml"
    definition.write_text(BUILD_V1)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/bin:/bin", "JOBSTREAM_SERVER": server.url}
        return subprocess.run(
            [sys.executable, "-m", "jobstream", "--data-dir", str(tmp_path / "other"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert cli("stage", "create", str(definition)).stdout == "build v1.0.0\n"
    again = cli("stage", "create", str(definition))
    assert (again.returncode, again.stderr) == (
        2,  # USAGE: that name and version is taken
        "error: a stage 'build' with version '1.0.0' already exists\n",
    )
    assert cli("stage", "list").stdout == "build v1.0.0\n"
    shown = json.loads(cli("stage", "show", "build").stdout)
    assert shown["steps"] == [{"action": "command", "cmd": "echo stored-one"}]
    missing = cli("stage", "show", "build", "--version", "2.0.0")
    assert (missing.returncode, missing.stderr) == (
        2,
        "error: no stored stage 'build' with version '2.0.0'\n",
    )
    job = tmp_path / "job.yml"
    job.write_text("name: j\nstages: []\nsequence: [{stage: nope}]\n")
    refused = cli("submit", str(job))
    assert refused.returncode == 4  # INVALID_DOCUMENT
    assert (
        "stage 'nope' is not defined in the job and is not a stored stage"
        in (refused.stderr.splitlines()[-1])
    )


def _submit(http: httpx.Client, entry: dict) -> str:
    response = http.post("/jobs", json={"name": "j", "stages": [], "sequence": [entry]})
    assert response.status_code == 201, response.text
    return response.json()["job_id"]
