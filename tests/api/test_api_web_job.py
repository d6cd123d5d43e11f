"""The job page in headless Chromium: cancel and retry only for a token that may write,
the job's labels and retry chain, and stage sections that open and close. Screenshots of a
failed job with its sections open go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.models import Status

from .api_support import LiveServer
from .web_support import ARTIFACTS, CHROMIUM, BigJob, chromium, finished_job

playwright = pytest.importorskip("playwright.sync_api")

# Two stages: build prints and succeeds, test prints to both streams and fails.
STAGED = """\
name: staged
sequence:
  - {stage: build, on_success: test}
stages:
  - name: build
    steps:
      - {action: command, cmd: "for i in 1 2 3; do echo building $i; done"}
      - {action: command, cmd: "echo built"}
  - name: test
    steps:
      - {action: command, cmd: "echo testing; echo 'assertion failed' >&2; exit 3"}
"""


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no system chromium (apt-get install chromium)")
    with chromium() as browser:
        yield browser


def open_job(browser, server: LiveServer, job_id: str, token: str | None = None):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    if token:
        page.add_init_script(f"localStorage.setItem('jobstream.token', {token!r})")
    page.goto(f"{server.url}/?job={job_id}")
    page.locator("#record dd", has_text=job_id).wait_for(timeout=15_000)
    return page


def has_whoami(server: LiveServer, token: str) -> bool:
    with server.client(token) as http:
        return http.get("/whoami").status_code != 404


def test_cancel_and_retry_are_shown_only_to_a_token_that_may_write(tmp_path: Path, browser) -> None:
    with LiveServer(tmp_path / "data", auth=True) as server:
        reader, writer = server.token("viewer", "read"), server.token("ci", "write")
        running = server.submit("sleep 60", name="long", token=writer)
        ended = finished_job(server.settings, 3).job_id
        if not has_whoami(server, writer):
            pytest.skip("this server has no GET /whoami: the write buttons stay hidden")

        for job_id in (running, ended):
            page = open_job(browser, server, job_id, reader)
            page.get_by_text("scopes: read").wait_for(timeout=15_000)
            assert page.is_hidden("#cancel") and page.is_hidden("#retry")
            page.close()

        page = open_job(browser, server, ended, writer)
        page.locator("#retry").wait_for(timeout=15_000)
        assert page.is_hidden("#cancel")
        page.close()

        page = open_job(browser, server, running, writer)
        page.locator("#cancel").wait_for(timeout=15_000)
        assert page.is_hidden("#retry")
        page.click("#cancel")
        page.locator("#job-status", has_text="CANCELLED").wait_for(timeout=30_000)
        page.locator("#retry").wait_for(timeout=15_000)
        page.click("#retry")
        # The retry is a new job, linked back to the one it retries.
        page.wait_for_function(f"!location.search.includes({running!r})", timeout=15_000)
        page.locator("#chain a", has_text=running[:12]).wait_for(timeout=15_000)


def test_labels_and_the_retry_chain(tmp_path: Path, browser) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        first = finished_job(server.settings, 2, status=Status.FAILED, labels={"team": "web"})
        again = BigJob(server.settings, retry_of=first.job_id, labels={"team": "web"}).start()
        again.finish()
        server.wait_done(again.job_id)

        page = open_job(browser, server, again.job_id)
        assert page.locator("#labels .chip").all_inner_texts() == ["team=web"]
        link = page.locator("#chain a", has_text=first.job_id[:12])
        assert "retry of" in page.inner_text("#chain")
        link.click()
        page.locator("#record dd", has_text=first.job_id).wait_for(timeout=15_000)
        page.locator("#job-status", has_text="FAILED").wait_for(timeout=15_000)
        with server.client() as http:
            retried = "retried_by" in http.get(f"/jobs/{first.job_id}").json()
        if retried:  # the views name the newest retry of a job
            page.locator("#chain a", has_text=again.job_id[:12]).wait_for(timeout=15_000)
            assert "retried by" in page.inner_text("#chain")


def test_a_failed_job_shows_its_stages_as_sections(tmp_path: Path, browser) -> None:
    with LiveServer(tmp_path / "data") as server:
        with server.client() as http:
            response = http.post(
                "/jobs", content=STAGED, headers={"Content-Type": "application/yaml"}
            )
            assert response.status_code == 201, response.text
            job_id = response.json()["job_id"]
            assert server.wait_done(job_id)["status"] == "FAILED"
            steps = http.get(f"/jobs/{job_id}/steps")

        page = open_job(browser, server, job_id)
        page.locator("#log .line.stderr", has_text="assertion failed").wait_for(timeout=15_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-failed.png"), full_page=True)
        if steps.status_code == 404:
            # An older server: the log is shown whole, without sections.
            assert page.locator("#log .section").count() == 0
            pytest.skip("this server has no GET /jobs/{id}/steps")

        build = page.locator("#log .section[data-stage='0']")
        test = page.locator("#log .section[data-stage='1']")
        build.wait_for(timeout=15_000)
        assert "build" in build.inner_text() and "SUCCEEDED" in build.inner_text()
        assert "test" in test.inner_text() and "FAILED" in test.inner_text()
        assert "s-FAILED" in (test.get_attribute("class") or "")
        building = page.locator("#log .line.stdout", has_text="building 2")
        assert building.count() == 1

        build.click()  # closed: its lines leave the page, the other section stays
        building.wait_for(state="detached", timeout=5_000)
        assert "▸" in build.inner_text()
        assert page.locator("#log .line.stdout", has_text="testing").count() == 1
        build.click()
        building.wait_for(timeout=5_000)
