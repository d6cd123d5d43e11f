"""`/jobs`: submitting (JSON, YAML, bad documents, sizes, content types), listing, reading,
cancelling; errors as `{code, message}`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.names import Topics

from ..polling import eventually
from .api_support import LiveServer, job_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
YAML = {"Content-Type": "application/yaml"}


def log_size(server: LiveServer) -> int:
    """Events on both topics, read from the log file beside the server."""

    async def count() -> int:
        async with EmbeddedLog(server.settings.log_path) as log:
            return sum((await log.ends(Topics().all)).values())

    return asyncio.run(count())


@pytest.mark.parametrize("content_type", ["application/yaml", "application/x-yaml", "text/yaml"])
def test_yaml_document_is_queued_and_run(server: LiveServer, content_type: str) -> None:
    with server.client() as http:
        response = http.post(
            "/jobs",
            content=job_yaml("echo hi", name="yaml-job"),
            headers={"Content-Type": f"{content_type}; charset=utf-8"},
        )
        assert response.status_code == 201
        job_id = response.json()["job_id"]
        # The record is visible as soon as the POST answers.
        assert http.get(f"/jobs/{job_id}").json()["name"] == "yaml-job"
    assert server.wait_done(job_id)["status"] == "SUCCEEDED"


def test_json_document_with_labels_and_warnings(server: LiveServer) -> None:
    document = json.loads((EXAMPLES / "hello.json").read_text())
    document["colour"] = "blue"  # unknown top-level key: a warning, not an error
    with server.client() as http:
        response = http.post("/jobs", json=document, params={"label": ["team=infra", "x=a=b"]})
        assert response.status_code == 201, response.text
        body = response.json()
        assert [w["path"] for w in body["warnings"]] == ["colour"]
        record = http.get(f"/jobs/{body['job_id']}").json()
    assert record["labels"]["team"] == "infra"
    assert record["labels"]["x"] == "a=b"
    assert record["submitter"] == "anonymous"


def test_invalid_document_lists_every_problem_and_writes_nothing(server: LiveServer) -> None:
    before = log_size(server)
    bad = "name: 3\nsequence: [{stage: nowhere}]\nstages:\n  - name: s\n    steps: 7\n"
    with server.client() as http:
        response = http.post("/jobs", content=bad, headers=YAML)
        unparsable = http.post(
            "/jobs", content="{not json", headers={"Content-Type": "application/json"}
        )
        not_a_mapping = http.post("/jobs", json=[1, 2])
        empty = http.post("/jobs", content=b"", headers=YAML)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_document"
    paths = {p["path"]: p for p in body["problems"]}
    assert {"name", "stages[0].steps", "sequence[0].stage"} <= set(paths)
    assert paths["name"]["line"] == 1
    for other in (unparsable, not_a_mapping, empty):
        assert other.status_code == 400
        assert other.json()["code"] == "invalid_document"
        assert other.json()["problems"]
    assert log_size(server) == before


def test_other_content_types_are_415(server: LiveServer) -> None:
    with server.client() as http:
        for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}, {}):
            response = http.post("/jobs", content=job_yaml("true"), headers=headers)
            assert response.status_code == 415
            assert response.json()["code"] == "unsupported_media_type"


def test_bodies_over_max_body_are_413(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", with_worker=False, max_body=2048) as server:
        before = log_size(server)
        big = job_yaml("echo " + "x" * 4000)
        with server.client() as http:
            declared = http.post("/jobs", content=big, headers=YAML)

            def chunks():
                for i in range(0, len(big), 500):
                    yield big[i : i + 500].encode()

            chunked = http.post("/jobs", content=chunks(), headers=YAML)
            fits = http.post("/jobs", content=job_yaml("echo small"), headers=YAML)
        assert declared.status_code == 413
        assert declared.json()["code"] == "body_too_large"
        assert chunked.status_code == 413
        assert fits.status_code == 201
        assert log_size(server) == before + 1


def test_list_filters_pages_and_counts(server: LiveServer) -> None:
    ok = [server.submit("true", name=f"build-{i}") for i in range(3)]
    bad = server.submit("exit 3", name="deploy")
    for job_id in [*ok, bad]:
        server.wait_done(job_id)
    with server.client() as http:
        everything = http.get("/jobs").json()
        assert everything["total"] == 4
        assert [j["job_id"] for j in everything["jobs"]] == [bad, *reversed(ok)]  # newest first
        failed = http.get("/jobs", params={"status": "FAILED"}).json()
        assert [j["job_id"] for j in failed["jobs"]] == [bad]
        both = http.get("/jobs", params={"status": ["FAILED", "SUCCEEDED"]}).json()
        assert both["total"] == 4
        assert http.get("/jobs", params={"name": "build-*"}).json()["total"] == 3
        assert http.get("/jobs", params={"name": "dep"}).json()["total"] == 1
        page = http.get("/jobs", params={"limit": 2, "offset": 1}).json()
        assert [j["job_id"] for j in page["jobs"]] == [ok[2], ok[1]]
        assert page["total"] == 4
        first = everything["jobs"][-1]
        since = http.get("/jobs", params={"since": first["submitted"]}).json()
        assert since["total"] == 4
        until = http.get("/jobs", params={"until": first["submitted"]}).json()
        assert until["total"] == 0
        assert everything["jobs"][0]["duration_seconds"] is not None


def test_label_filter(server: LiveServer) -> None:
    with server.client() as http:
        tagged = http.post(
            "/jobs", content=job_yaml("true"), headers=YAML, params={"label": "env=prod"}
        ).json()["job_id"]
        http.post("/jobs", content=job_yaml("true"), headers=YAML, params={"label": "env=dev"})
        found = http.get("/jobs", params={"label": "env=prod"}).json()
        assert [j["job_id"] for j in found["jobs"]] == [tagged]
        assert http.get("/jobs", params={"label": "noequals"}).status_code == 400


def test_cursor_pages_are_stable_while_jobs_arrive(server: LiveServer) -> None:
    ids = [server.submit("true", name=f"j{i}") for i in range(5)]
    seen: list[str] = []
    with server.client() as http:
        page = http.get("/jobs", params={"limit": 2}).json()
        seen += [j["job_id"] for j in page["jobs"]]
        server.submit("true", name="newcomer")  # would shift an offset by one
        while page["next_cursor"]:
            page = http.get("/jobs", params={"limit": 2, "cursor": page["next_cursor"]}).json()
            seen += [j["job_id"] for j in page["jobs"]]
        assert seen == list(reversed(ids))
        bad = http.get("/jobs", params={"cursor": "garbage!"})
        assert bad.status_code == 400
        assert bad.json()["code"] == "invalid_cursor"
        both = http.get("/jobs", params={"cursor": page.get("next_cursor") or "x", "offset": 1})
        assert both.status_code == 400


def test_bad_list_parameters_are_400(server: LiveServer) -> None:
    with server.client() as http:
        for params in (
            {"limit": 0},
            {"limit": 100_001},
            {"offset": -1},
            {"status": "SLEEPING"},
            {"since": "yesterday"},
        ):
            response = http.get("/jobs", params=params)
            assert response.status_code == 400, params
            assert response.json()["code"] == "invalid_request"
            assert response.json()["message"]


def test_one_job_by_id_or_prefix_and_its_status(server: LiveServer) -> None:
    job_id = server.submit("echo done")
    server.wait_done(job_id)
    with server.client() as http:
        record = http.get(f"/jobs/{job_id[:8]}").json()
        assert record["job_id"] == job_id
        status = http.get(f"/jobs/{job_id}/status").json()
        assert status == {
            "job_id": job_id,
            "status": "SUCCEEDED",
            "completed": True,
            "success": True,
            "stage": status["stage"],
            "reason": status["reason"],
        }
        missing = http.get("/jobs/nosuchjob")
        assert missing.status_code == 404
        assert missing.json() == {
            "code": "job_not_found",
            "message": "no job id starts with 'nosuchjob'",
        }
        assert http.get("/jobs/nosuchjob/status").status_code == 404
        assert http.get("/no/such/route").json()["code"] == "not_found"
        assert http.delete("/jobs").json()["code"] == "method_not_allowed"


def test_ambiguous_prefix_is_409(server: LiveServer) -> None:
    ids = [server.submit("true") for _ in range(40)]
    prefixes = {i[:1] for i in ids}
    shared = next(p for p in prefixes if sum(i.startswith(p) for i in ids) > 1)
    with server.client() as http:
        response = http.get(f"/jobs/{shared}")
    assert response.status_code == 409
    assert response.json()["code"] == "ambiguous_job_id"


def test_cancel_a_running_job_then_an_ended_one(server: LiveServer) -> None:
    job_id = server.submit("echo started; sleep 30")
    with server.client() as http:
        eventually(lambda: http.get(f"/jobs/{job_id}").json()["status"] == "STARTED")
        response = http.post(f"/jobs/{job_id}/cancel")
        assert response.status_code == 202
        assert response.json()["requested"] is True
        record = server.wait_done(job_id)
        assert record["status"] == "CANCELLED"
        again = http.post(f"/jobs/{job_id}/cancel")
        assert again.status_code == 200
        assert again.json() == {"job_id": job_id, "requested": False, "status": "CANCELLED"}
        assert http.post("/jobs/nosuchjob/cancel").status_code == 404
