"""The webhook and github callbacks against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from jobstream.callbacks import CallbackStore
from jobstream.callbacks.github import GitHubCallback
from jobstream.callbacks.webhook import SIGNATURE_HEADER, WebhookCallback, verify
from jobstream.events.log.embedded import EmbeddedLog

from ..polling import wait_until
from .callbacks_support import (
    TOPICS,
    Request,
    Server,
    append_jobs,
    job_messages,
    running,
    serving,
)

SECRET = "s3cret"


async def test_a_receiver_that_was_down_gets_everything_once_signed(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    ids = await append_jobs(log, 10)
    failures = {"left": 6}

    def respond(request: Request) -> tuple[int, Any]:
        if failures["left"] > 0:
            failures["left"] -= 1
            return 500, {"error": "restarting"}
        return 200, {}

    receiver = Server(respond)  # not listening yet: connection refused
    webhook = WebhookCallback(receiver.url, secret=SECRET, timeout=2)
    options = {"backoff": 0.02, "max_backoff": 0.2, "attempts": 50}
    async with running(log, store, webhook, "webhook", **options) as host:
        # Up only once a delivery to it was refused and is being retried.
        await wait_until(lambda: host.stats.retries >= 1)
        receiver.start()
        try:
            await wait_until(lambda: len(receiver.requests) >= 6 + 10 * 4, timeout=30)
        finally:
            receiver.stop()
    accepted = receiver.requests[6:]
    keys = Counter(r.headers["Idempotency-Key"] for r in accepted)
    assert len(keys) == 10 * 4 and max(keys.values()) == 1
    for r in receiver.requests:
        assert verify(SECRET, r.body, r.headers[SIGNATURE_HEADER])
        assert r.headers["Idempotency-Key"] == r.json()["event_id"]
        assert r.headers["X-Jobstream-Event"] == r.json()["hook"]
    completions = [r.json() for r in accepted if r.json()["hook"] == "completion"]
    assert Counter(c["job"]["id"] for c in completions) == Counter(ids)
    assert {c["success"] for c in completions} == {True}
    assert completions[0]["job"]["name"] == "build"
    # A retry carries its attempt number.
    assert int(receiver.requests[0].headers["X-Jobstream-Delivery-Attempt"]) > 1
    assert await store.dead_letters() == []


async def test_webhook_log_chunks_and_rejections(log: EmbeddedLog, store: CallbackStore) -> None:
    def respond(request: Request) -> tuple[int, Any]:
        return (400, {}) if request.json()["hook"] == "completion" else (204, None)

    await append_jobs(log, 1, chunks=3)
    with serving(respond) as receiver:
        webhook = WebhookCallback(receiver.url, logs=True)
        async with running(log, store, webhook, "hooks") as host:
            await wait_until(lambda: host.stats.dead == 1)
    hooks = Counter(r.json()["hook"] for r in receiver.requests)
    # A 400 is not retried; no secret, no signature.
    assert hooks == {"status_changed": 3, "log_write": 3, "completion": 1}
    assert all(SIGNATURE_HEADER not in r.headers for r in receiver.requests)
    (dead,) = await store.dead_letters("hooks")
    assert dead.error.startswith("GiveUp:") and "400" in dead.error


# --- github ---------------------------------------------------------------------------

TOKEN = "ghp_test"
STATUS_PATH = re.compile(r"^/api/v3/repos/(?P<repo>[^/]+/[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$")


class FakeGitHub:
    """Checks requests as GitHub's statuses API does, and records the accepted ones."""

    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.rejected: list[tuple[int, str]] = []

    def __call__(self, request: Request) -> tuple[int, Any]:
        status, body = self._check(request)
        if status >= 400:
            self.rejected.append((status, body["message"]))
        return status, body

    def _check(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials"}
        if "application/vnd.github+json" not in request.headers.get("Accept", ""):
            return 415, {"message": "Unsupported Media Type"}
        match = STATUS_PATH.match(request.path)
        if match is None or match["repo"] != "acme/widgets":
            return 404, {"message": "Not Found"}
        body = request.json()
        if body.get("state") not in {"error", "failure", "pending", "success"}:
            return 422, {"message": "Validation Failed"}
        if len(body.get("description", "")) > 140 or not isinstance(body.get("context"), str):
            return 422, {"message": "Validation Failed"}
        url = body.get("target_url")
        if url is not None and not url.startswith(("http://", "https://")):
            return 422, {"message": "Validation Failed"}
        self.statuses.append({"sha": match["sha"], **body})
        return 201, {"id": len(self.statuses), **body}


def labels(sha: str) -> dict[str, str]:
    return {"github.repository": "acme/widgets", "github.sha": sha}


async def test_github_sets_commit_statuses_only_when_they_change(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    good, bad = "a" * 40, "b" * 40
    await append_jobs(log, 1, labels=labels(good), name="unit")
    await append_jobs(log, 1, labels=labels(bad), name="lint", failing=True, success=False)
    await append_jobs(log, 1)  # no labels: no status
    fake = FakeGitHub()
    with serving(fake) as server:
        github = GitHubCallback(
            TOKEN, api=f"{server.url}/api/v3", public_url="https://ci.example.com/"
        )
        async with running(log, store, github, "github") as host:
            await wait_until(lambda: host.stats.delivered == 3 + 4 + 3)
    assert fake.rejected == []
    by_sha = {sha: [s["state"] for s in fake.statuses if s["sha"] == sha] for sha in (good, bad)}
    # WAITING and STARTED are both pending: sent once. FAILING then failure: sent once.
    assert by_sha == {good: ["pending", "success"], bad: ["pending", "failure"]}
    first = fake.statuses[0]
    assert first["target_url"].startswith("https://ci.example.com/jobs/")
    assert {s["context"] for s in fake.statuses} == {"jobstream/unit", "jobstream/lint"}


async def test_github_bad_token_is_dead_lettered_not_retried(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    _, jobs, events = job_messages(labels=labels("c" * 40))
    await log.append(TOPICS.jobs, jobs)
    await log.append(TOPICS.events, events)
    fake = FakeGitHub()
    with serving(fake) as server:
        github = GitHubCallback("wrong", api=f"{server.url}/api/v3")
        async with running(log, store, github, "github-bad", attempts=5) as host:
            await wait_until(lambda: host.stats.dead >= 1)
    assert fake.rejected[0] == (401, "Bad credentials")
    dead = await store.dead_letters("github-bad")
    assert "401 Bad credentials" in dead[0].error and dead[0].attempts == 1
