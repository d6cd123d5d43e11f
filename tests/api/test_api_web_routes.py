"""The endpoints the web page added to the API, over real HTTP: the raw log, search in a
log, the log in batches, and the job list as a stream."""

from __future__ import annotations

import json
from pathlib import Path

from jobstream.events.models import Status

from .api_support import LiveServer, sse_events
from .web_support import BigJob, finished_job, text_of


def test_raw_log_is_the_whole_text_in_line_order(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        job = finished_job(server.settings, 25_000)  # more than one page of the server's
        server.wait_done(job.job_id)
        with server.client() as http:
            response = http.get(f"/jobs/{job.job_id[:10]}/log.txt")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/plain")
            assert f'filename="{job.job_id}.log"' in response.headers["content-disposition"]
            assert response.text.splitlines() == [text_of(n) for n in range(1, 25_001)]
            assert http.get("/jobs/feedbeef/log.txt").json()["code"] == "job_not_found"


def test_search_finds_lines_case_insensitively_and_pages(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        job = finished_job(server.settings, 3_000)
        server.wait_done(job.job_id)
        with server.client() as http:
            found = http.get(f"/jobs/{job.job_id}/log/search", params={"q": "LINE 0002345"})
            assert found.json() == {
                "job_id": job.job_id,
                "q": "LINE 0002345",
                "lines": [2345],
                "next": None,
            }
            # Literal text: `%` and `_` are not patterns.
            none = http.get(f"/jobs/{job.job_id}/log/search", params={"q": "line_%"})
            assert none.json()["lines"] == []
            first = http.get(
                f"/jobs/{job.job_id}/log/search", params={"q": "[32m", "limit": 100}
            ).json()
            assert first["lines"] == list(range(10, 1001, 10)) and first["next"] == 1001
            rest = http.get(
                f"/jobs/{job.job_id}/log/search",
                params={"q": "[32m", "limit": 1000, "from": first["next"]},
            ).json()
            assert rest["lines"] == list(range(1010, 3001, 10)) and rest["next"] is None
            empty = http.get(f"/jobs/{job.job_id}/log/search", params={"q": ""})
            assert empty.status_code == 400


def test_log_stream_in_batches_resumes_after_the_last_line(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        job = finished_job(server.settings, 2_500)
        server.wait_done(job.job_id)
        with server.client() as http:
            params = {"batch": "true"}
            headers = {"Last-Event-ID": "1200"}
            url = f"/jobs/{job.job_id}/log/stream"
            with http.stream("GET", url, params=params, headers=headers) as response:
                events = list(sse_events(response.iter_lines()))
        batches = [e for e in events if e["event"] == "lines"]
        numbers = [line["n"] for e in batches for line in json.loads(e["data"])]
        assert numbers == list(range(1201, 2501))
        assert all(int(e["id"]) == json.loads(e["data"])[-1]["n"] for e in batches)
        assert len(batches) < 10
        assert events[-1]["event"] == "end"
        assert json.loads(events[-1]["data"])["lines"] == 2500


def test_jobs_stream_sends_the_page_and_each_change(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        other = BigJob(server.settings, name="other").start()
        with server.client() as http:
            url = "/jobs/stream"
            params = {"name": "watched-*", "limit": 5}
            with http.stream("GET", url, params=params) as response:
                assert response.status_code == 200
                events = sse_events(response.iter_lines())
                first = json.loads(next(events)["data"])
                assert first["jobs"] == [] and first["total"] == 0
                job = BigJob(server.settings, name="watched-1").start()
                page = json.loads(next(events)["data"])
                assert [j["job_id"] for j in page["jobs"]] == [job.job_id]
                other.finish()  # filtered out: no event for it
                job.finish(Status.FAILED)
                # Each change is an event (the views may apply the job's events in more
                # than one batch); the page ends with the job ended.
                while not page["jobs"][0]["completed"]:
                    previous, page = page, json.loads(next(events)["data"])
                    assert page != previous
                    assert [j["job_id"] for j in page["jobs"]] == [job.job_id]
                assert page["jobs"][0]["status"] == "FAILED"
            bad = http.get(url, params={"cursor": "not-a-cursor"})
            assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
