"""Hostile documents (tests/events/documents/hostile.py) sent to `POST /jobs` of a real
server: every answer is 201 or a documented 4xx naming the problems, never a 500, and an
accepted job is there to read, with a document a worker would run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from jobstream.events.documents.validation import check_document

from ..events.documents.hostile import Case, Tally, cases
from .api_support import LiveServer

TYPES = {"yaml": "application/yaml", "json": "application/json"}


@pytest.fixture
def fuzzed(tmp_path: Path) -> Iterator[LiveServer]:
    # No worker: the documents' commands must not run (the runner's side is fuzzed in
    # tests/events/documents/test_fuzz_documents.py, with commands only parsed).
    with LiveServer(tmp_path / "data", with_worker=False) as live:
        yield live


def fuzz_post(live: LiveServer, examples: int) -> Tally:
    tally = Tally()
    with live.client() as http:

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(cases())
        def check(drawn: tuple[str, Case]) -> None:
            fmt, case = drawn
            body = case.text.encode("utf-8", "surrogatepass")
            response = http.post("/jobs", content=body, headers={"content-type": TYPES[fmt]})
            assert response.status_code in (201, 400, 422), response.text
            answer = response.json()
            if response.status_code == 201:
                job = http.get(f"/jobs/{answer['job_id']}")
                assert job.status_code == 200
                tally.add(case, "201 accepted")
                return
            assert answer["code"] in ("invalid_document", "unresolved_stage"), answer
            errors = [p for p in answer["problems"] if p["severity"] == "error"]
            assert errors and all("\n" not in p["message"] for p in errors)
            tally.add(case, f"{response.status_code} {answer['code']}")

        check()
        # What was accepted is what a worker will read and run.
        for job in http.get("/jobs", params={"limit": 10_000}).json()["jobs"]:
            assert check_document(job["document"])[0] is not None, job["job_id"]
    return tally


def test_post_jobs_refuses_or_accepts_hostile_documents(fuzzed: LiveServer) -> None:
    tally = fuzz_post(fuzzed, 150)
    print(tally.summary("POST /jobs"))
    assert tally.outcomes["201 accepted"] and tally.outcomes["400 invalid_document"]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_post_jobs_many(fuzzed: LiveServer) -> None:
    print()
    print(fuzz_post(fuzzed, 1500).summary("POST /jobs"))
