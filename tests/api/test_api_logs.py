"""`/jobs/{id}/log` ranges and the `/log/stream` Server-Sent Events: live lines, resume from
Last-Event-ID without gaps or repeats, the final `end` event."""

from __future__ import annotations

import json

import httpx

from jobstream.api.models import LogLine

from .api_support import LiveServer, sse_events

COUNT = "for i in $(seq 1 {n}); do echo line $i; sleep {pause}; done"


def stream(http: httpx.Client, job_id: str, **kwargs) -> list[dict[str, str]]:
    with http.stream("GET", f"/jobs/{job_id}/log/stream", **kwargs) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response.iter_lines()))


def numbers(events: list[dict[str, str]]) -> list[int]:
    return [int(e["id"]) for e in events if e.get("event") == "line"]


def test_ranges_of_a_log(server: LiveServer) -> None:
    job_id = server.submit(COUNT.format(n=50, pause=0))
    record = server.wait_done(job_id)
    with server.client() as http:
        page = http.get(f"/jobs/{job_id}/log", params={"from": 10, "limit": 5}).json()
        assert [line["n"] for line in page["lines"]] == [10, 11, 12, 13, 14]
        assert page["next"] == 15
        assert page["completed"] is True
        assert {line["stream"] for line in page["lines"]} <= {"stdout", "system"}
        assert any(line["text"] == "line 9" for line in page["lines"])
        everything = http.get(f"/jobs/{job_id}/log", params={"limit": 10_000}).json()
        assert len(everything["lines"]) == record["lines"]
        past_end = http.get(f"/jobs/{job_id}/log", params={"from": 10_000}).json()
        assert past_end["lines"] == []
        assert past_end["next"] == 10_000
        for params in ({"from": 0}, {"from": -3}, {"limit": 0}, {"limit": 10_001}, {"from": "x"}):
            bad = http.get(f"/jobs/{job_id}/log", params=params)
            assert bad.status_code == 400, params
            assert bad.json()["code"] == "invalid_request"
        assert http.get("/jobs/nosuchjob/log").status_code == 404
        assert http.get("/jobs/nosuchjob/log/stream").status_code == 404


def test_stream_sends_every_line_live_then_end(server: LiveServer) -> None:
    job_id = server.submit(COUNT.format(n=20, pause=0.05) + "; echo err >&2")
    with server.client() as http:
        events = stream(http, job_id)
        record = http.get(f"/jobs/{job_id}").json()
    lines = [json.loads(e["data"]) for e in events if e.get("event") == "line"]
    assert numbers(events) == list(range(1, record["lines"] + 1))
    assert [line["n"] for line in lines] == numbers(events)
    assert {"stdout", "stderr", "system"} <= {line["stream"] for line in lines}
    end = events[-1]
    assert end["event"] == "end"
    assert json.loads(end["data"]) == {
        "job_id": job_id,
        "status": "SUCCEEDED",
        "lines": record["lines"],
    }


def test_stream_resumes_after_last_event_id_without_gaps_or_repeats(server: LiveServer) -> None:
    job_id = server.submit(COUNT.format(n=40, pause=0.02))
    received: list[int] = []
    with server.client() as http:
        # Drop the connection after a few lines, several times, resuming each time.
        last: str | None = None
        for _ in range(3):
            headers = {"Last-Event-ID": last} if last else {}
            with http.stream("GET", f"/jobs/{job_id}/log/stream", headers=headers) as response:
                for event in sse_events(response.iter_lines()):
                    if event.get("event") == "line":
                        received.append(int(event["id"]))
                        last = event["id"]
                        if len(received) % 7 == 0:
                            break
        rest = stream(http, job_id, headers={"Last-Event-ID": last or "0"})
        total = http.get(f"/jobs/{job_id}").json()["lines"]
    received += numbers(rest)
    assert received == list(range(1, total + 1))
    assert rest[-1]["event"] == "end"


def test_stream_from_a_line_and_of_an_ended_job(server: LiveServer) -> None:
    job_id = server.submit(COUNT.format(n=10, pause=0))
    record = server.wait_done(job_id)
    with server.client() as http:
        events = stream(http, job_id, params={"from": 5})
        assert numbers(events) == list(range(5, record["lines"] + 1))
        assert events[-1]["event"] == "end"
        # Last-Event-ID wins over `from` (a browser's EventSource resends it by itself).
        resumed = stream(http, job_id, params={"from": 2}, headers={"Last-Event-ID": "8"})
        assert numbers(resumed) == list(range(9, record["lines"] + 1))
        beyond = stream(http, job_id, params={"from": 1000})
        assert [e["event"] for e in beyond] == ["end"]


def test_a_range_can_start_at_the_tail_or_at_a_time(server: LiveServer) -> None:
    job_id = server.submit(COUNT.format(n=30, pause=0.02))
    total = server.wait_done(job_id)["lines"]
    with server.client() as http:

        def page(**params: object) -> dict:
            response = http.get(f"/jobs/{job_id}/log", params={"limit": 10_000, **params})
            assert response.status_code == 200, response.text
            return response.json()

        everything = page()["lines"]
        tail = page(tail=3)
        assert [line["n"] for line in tail["lines"]] == [total - 2, total - 1, total]
        assert tail["next"] == total + 1
        assert [line["n"] for line in page(tail=1000)["lines"]] == list(range(1, total + 1))
        # No line qualifies: an empty page whose `next` is where new lines would come.
        assert page(tail=0) == {**tail, "lines": []}

        cut = everything[15]["at"]
        since = page(since=cut)["lines"]
        first = since[0]["n"]
        assert since[-1]["n"] == total
        assert all(line["at"] >= cut for line in since)
        assert first > 1 and everything[first - 2]["at"] < cut  # the line before: earlier
        # `since` and `tail` together: the last lines of those written since.
        assert [line["n"] for line in page(since=cut, tail=2)["lines"]] == [total - 1, total]
        # A time without a zone is UTC, as everywhere in the API.
        assert page(since=cut.removesuffix("Z").split("+")[0])["lines"] == since
        future = page(since="2999-01-01T00:00:00Z")
        assert future["lines"] == [] and future["next"] == total + 1

        for params in ({"tail": -1}, {"since": "yesterday"}):
            bad = http.get(f"/jobs/{job_id}/log", params=params)
            assert bad.status_code == 400, params


def test_streamed_lines_are_the_lines_a_range_returns(server: LiveServer) -> None:
    # Colours, quotes, backslashes, tabs and non-ASCII text come through a stream as they
    # were written, in both of its forms, just as a range returns them.
    # (é and 😀 as printf's octal escapes: the job's YAML takes no escaped surrogates)
    job_id = server.submit(
        r"""printf '\033[31mred\033[0m "quoted" back\\slash\ttab \303\251 \360\237\230\200\n'"""
        "; echo plain"
    )
    server.wait_done(job_id)
    with server.client() as http:
        ranged = http.get(f"/jobs/{job_id}/log").json()["lines"]
        one_by_one = [
            json.loads(e["data"]) for e in stream(http, job_id) if e.get("event") == "line"
        ]
        batches = stream(http, job_id, params={"batch": "true"})
    batched = [line for e in batches if e.get("event") == "lines" for line in json.loads(e["data"])]
    wanted = [LogLine.model_validate(line) for line in ranged]
    assert any("\x1b[31mred\x1b[0m" in line.text and "😀" in line.text for line in wanted)
    assert [LogLine.model_validate(line) for line in one_by_one] == wanted
    assert [LogLine.model_validate(line) for line in batched] == wanted
