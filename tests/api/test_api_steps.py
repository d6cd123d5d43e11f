"""`GET /jobs/{id}/steps` as the job page reads it, and `GET /dead-letters`, over HTTP."""

from __future__ import annotations

import asyncio
from datetime import datetime

from jobstream.events.log.base import Message, to_message
from jobstream.events.log.embedded import EmbeddedLog

from ..polling import eventually
from ..projections.projections_support import run_events, submitted
from .api_support import LiveServer

DOCUMENT = """\
name: sections
stages:
  - name: build
    steps:
      - {action: command, cmd: "echo compiling; echo careful >&2"}
  - name: test
    steps:
      - {action: command, cmd: exit 3}
  - name: report
    steps:
      - {action: log, message: tests failed}
sequence:
  - stage: build
  - {stage: test, on_failure: report}
"""

STAGE_KEYS = {
    "index",
    "name",
    "status",
    "started_at",
    "finished_at",
    "duration_s",
    "first_line",
    "last_line",
    "steps",
}
STEP_KEYS = STAGE_KEYS - {"name", "steps"} | {"action", "title", "exit_code"}


def _append(server: LiveServer, topic: str, messages: list[Message]) -> None:
    async def go() -> None:
        async with EmbeddedLog(
            server.settings.log_path, partitions=server.settings.partitions
        ) as log:
            await log.append(topic, messages)

    asyncio.run(go())


def test_steps_answer_the_contract_shape_with_lines_of_the_log(server: LiveServer) -> None:
    with server.client() as http:
        created = http.post("/jobs", content=DOCUMENT, headers={"Content-Type": "application/yaml"})
        job_id = created.json()["job_id"]
        assert server.wait_done(job_id)["status"] == "FAILED"
        answer = http.get(f"/jobs/{job_id[:10]}/steps")
        log = http.get(f"/jobs/{job_id}/log").json()["lines"]
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"job_id", "stages"} and body["job_id"] == job_id
    stages = body["stages"]
    assert all(set(s) == STAGE_KEYS for s in stages)
    assert all(set(t) == STEP_KEYS for s in stages for t in s["steps"])
    assert [(s["index"], s["name"], s["status"]) for s in stages] == [
        (0, "build", "SUCCEEDED"),
        (1, "test", "FAILED"),
        (2, "report", "SUCCEEDED"),
    ]
    steps = [
        (t["index"], t["action"], t["title"], t["status"], t["exit_code"])
        for t in [t for s in stages for t in s["steps"]]
    ]
    assert steps == [
        (0, "command", "echo compiling; echo careful >&2", "SUCCEEDED", 0),
        (0, "command", "exit 3", "FAILED", 3),
        (0, "log", "log", "SUCCEEDED", None),
    ]
    for section in [*stages, *(t for s in stages for t in s["steps"])]:
        started = datetime.fromisoformat(section["started_at"])
        assert datetime.fromisoformat(section["finished_at"]) >= started
        assert section["started_at"].endswith("Z") and section["duration_s"] >= 0
    texts = {line["n"]: (line["stream"], line["text"]) for line in log}
    build = stages[0]
    lines = [texts[n] for n in range(build["first_line"], build["last_line"] + 1)]
    assert lines[:2] == [("system", "==> stage build"), ("system", "$ " + steps[0][2])]
    assert sorted(lines[2:4]) == [("stderr", "careful"), ("stdout", "compiling")]
    assert lines[4:] == [("system", "==> exit code 0")]
    # The stages cover the log up to the job's own last line.
    assert stages[-1]["last_line"] == max(texts) - 1


def test_a_job_logged_without_stage_events_has_no_stages(server: LiveServer) -> None:
    _append(server, "jobs", [to_message(submitted("old-job"))])
    _append(server, "job-events", [to_message(e) for e in run_events("old-job")])
    with server.client() as http:
        eventually(lambda: http.get("/jobs/old-job").json().get("completed"))
        assert http.get("/jobs/old-job/steps").json() == {"job_id": "old-job", "stages": []}
        missing = http.get("/jobs/nosuchjob/steps")
    assert missing.status_code == 404 and missing.json()["code"] == "job_not_found"


def test_steps_and_dead_letters_need_a_read_token(auth_server: LiveServer) -> None:
    reader = auth_server.token("page", "read")
    _append(auth_server, "jobs", [Message(b'{"type": "Completed", "secret": "s3cr3t"}')])
    with auth_server.client() as anonymous:
        assert anonymous.get("/jobs/x/steps").status_code == 401
        assert anonymous.get("/dead-letters").status_code == 401
    with auth_server.client(reader) as http:
        assert http.get("/jobs/nosuchjob/steps").status_code == 404
        letters = eventually(lambda: http.get("/dead-letters").json()["dead_letters"])
    (letter,) = letters
    assert set(letter) == {"consumer", "topic", "partition", "offset", "reason", "time"}
    assert (letter["consumer"], letter["topic"], letter["offset"]) == ("views", "jobs", 0)
    assert "s3cr3t" not in str(letters)


def test_a_running_section_has_its_first_line_and_no_end_yet(server: LiveServer) -> None:
    job_id = server.submit("echo started; sleep 30")
    with server.client() as http:

        def running() -> dict | None:
            stages = http.get(f"/jobs/{job_id}/steps").json()["stages"]
            steps = stages[0]["steps"] if stages else []
            # The step's first line is out once its `$ command` line is in the log.
            return stages[0] if steps and steps[0]["first_line"] is not None else None

        stage = eventually(running)
        (step,) = stage["steps"]
        assert (stage["status"], stage["first_line"], stage["last_line"]) == ("RUNNING", 1, None)
        assert (step["status"], step["first_line"], step["last_line"]) == ("RUNNING", 2, None)
        assert [stage[k] for k in ("finished_at", "duration_s")] == [None, None]
        assert [step[k] for k in ("finished_at", "duration_s", "exit_code")] == [None] * 3
        assert http.post(f"/jobs/{job_id}/cancel").status_code == 202
        server.wait_done(job_id)
        (stage,) = http.get(f"/jobs/{job_id}/steps").json()["stages"]
    assert stage["status"] == stage["steps"][0]["status"] == "FAILED"
    assert stage["last_line"] >= stage["steps"][0]["last_line"] >= 3
