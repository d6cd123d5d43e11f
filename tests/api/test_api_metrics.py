"""`/metrics` scraped from a real server and read with prometheus_client's own parser:
jobs by status, queue depth, running jobs, projection lag per partition, events applied,
dead letters and callback deliveries, and the API latency histogram by route template."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from jobstream.events.log.base import Message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.names import Topics

from ..polling import eventually
from .api_support import LiveServer


def scrape(server: LiveServer, token: str | None = None) -> dict[str, dict[tuple, float]]:
    """Every sample, by name, keyed by its sorted labels."""
    with server.client(token) as http:
        response = http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def append_garbage(server: LiveServer) -> None:
    async def go() -> None:
        async with EmbeddedLog(server.settings.log_path) as log:
            await log.append(Topics().events, [Message(b"not an event", key="x")])

    asyncio.run(go())


def test_a_scrape_shows_jobs_lag_dead_letters_and_latency(server: LiveServer) -> None:
    ok, failed = server.submit("true"), server.submit("exit 3")
    server.wait_done(ok), server.wait_done(failed)
    running = server.submit("sleep 30")
    with server.client() as http:
        eventually(lambda: http.get(f"/jobs/{running}").json()["status"] == "STARTED")
    append_garbage(server)

    def settled() -> dict[str, dict[tuple, float]] | None:
        samples = scrape(server)
        dead = samples["jobstream_dead_letters"][(("consumer", "views"),)]
        lag = sum(samples["jobstream_projection_lag"].values())
        return samples if dead == 1 and lag == 0 else None

    samples = eventually(settled, timeout=30)
    jobs = {dict(k)["status"]: v for k, v in samples["jobstream_jobs"].items()}
    assert (jobs["SUCCEEDED"], jobs["FAILED"], jobs["STARTED"], jobs["CANCELLED"]) == (1, 1, 1, 0)
    assert samples["jobstream_running_jobs"][()] == 1
    assert samples["jobstream_queue_depth"][()] == 0
    assert samples["jobstream_events_applied_total"][()] > 10
    # One series per partition of each topic the views read.
    partitions = {dict(k)["topic"]: set() for k in samples["jobstream_projection_lag"]}
    for key in samples["jobstream_projection_lag"]:
        partitions[dict(key)["topic"]].add(dict(key)["partition"])
    assert partitions == {t: {"0", "1", "2", "3"} for t in ("jobs", "job-events", "stages")}
    # Latency by route template: the job ids polled above are not labels.
    counts = samples["jobstream_api_request_duration_seconds_count"]
    by_route = {
        (dict(k)["method"], dict(k)["route"], dict(k)["status"]): v for k, v in counts.items()
    }
    assert by_route[("POST", "/jobs", "201")] == 3
    assert by_route[("GET", "/jobs/{job_id}", "200")] >= 3
    assert not any(running in route for _, route, _ in by_route)
    buckets = samples["jobstream_api_request_duration_seconds_bucket"]
    inf = [v for k, v in buckets.items() if dict(k)["le"] == "+Inf" and dict(k)["route"] == "/jobs"]
    assert inf == [3]
    with server.client() as http:
        http.post(f"/jobs/{running}/cancel")


def test_metrics_need_a_read_token_when_auth_is_on(auth_server: LiveServer) -> None:
    with auth_server.client() as http:
        assert http.get("/metrics").status_code == 401
    samples = scrape(auth_server, auth_server.token("prometheus", "read"))
    assert samples["jobstream_jobs"][(("status", "NEW"),)] == 0


def deliveries(server: LiveServer) -> float:
    counts = scrape(server).get("jobstream_callback_deliveries_total", {})
    return counts.get((("callback", "stdout"),), 0)


def test_callback_deliveries_come_from_the_callbacks_store(server: LiveServer) -> None:
    server.wait_done(server.submit("echo hi"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JOBSTREAM_")},
        "JOBSTREAM_DATA_DIR": str(server.settings.data_dir),
    }
    callback = subprocess.Popen(
        [sys.executable, "-m", "jobstream", "callbacks", "run", "stdout", "--from", "earliest"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # WAITING, STARTED, the line, SUCCEEDED and Completed: three deliveries at least.
        delivered = eventually(lambda: (n := deliveries(server)) >= 3 and n, timeout=60)
    finally:
        callback.terminate()
        callback.wait(timeout=30)
    assert delivered >= 3
    # Nothing was set aside.
    samples = scrape(server)
    assert samples["jobstream_dead_letters"][(("consumer", "callback:stdout"),)] == 0
