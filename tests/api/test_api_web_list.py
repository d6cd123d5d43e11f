"""The job list in headless Chromium: filters by status, name, label and time, pages
through every job with the API's cursor, and changes live (SSE, no polling)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobstream.events.models import Status

from .api_support import LiveServer
from .web_support import ARTIFACTS, CHROMIUM, BigJob, chromium, ended_jobs

playwright = pytest.importorskip("playwright.sync_api")

T0 = datetime(2026, 1, 1, tzinfo=UTC)
JOBS = 120


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """120 ended jobs, a minute apart: build-N and deploy-N, every 4th FAILED, team a/b."""
    with LiveServer(tmp_path_factory.mktemp("list") / "data", with_worker=False) as live:
        specs = [
            {
                "name": f"{'build' if i % 2 else 'deploy'}-{i:03d}",
                "labels": {"team": "a" if i % 3 else "b"},
                "at": T0 + timedelta(minutes=i),
                "status": Status.FAILED if i % 4 == 0 else Status.SUCCEEDED,
            }
            for i in range(JOBS)
        ]
        jobs = ended_jobs(live.settings, specs)
        live.wait_done(jobs[-1].job_id)
        with live.client() as http:
            assert http.get("/jobs", params={"limit": 1}).json()["total"] == JOBS
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no system chromium (apt-get install chromium)")
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, timezone_id="UTC")
    try:
        yield context.new_page()
    finally:
        context.close()


def names(page) -> list[str]:
    return page.locator("#jobs tr td:nth-child(2)").all_inner_texts()


def wait_info(page, text: str) -> None:
    page.locator("#page-info", has_text=text).wait_for(timeout=15_000)


def test_pages_through_every_job_with_the_cursor(server: LiveServer, page) -> None:
    page.goto(server.url + "/")
    wait_info(page, f"1-50 of {JOBS}")
    first = names(page)
    assert first[0] == "build-119" and len(first) == 50  # newest first
    assert page.is_disabled("#page-prev")
    page.click("#page-next")
    wait_info(page, f"51-100 of {JOBS}")
    second = names(page)
    assert second[0] == "build-069" and not set(first) & set(second)
    page.click("#page-next")
    wait_info(page, f"101-120 of {JOBS}")
    assert names(page)[-1] == "deploy-000"
    assert page.is_disabled("#page-next")
    page.click("#page-prev")
    wait_info(page, f"51-100 of {JOBS}")
    assert names(page) == second
    page.click("#page-first")
    wait_info(page, f"1-50 of {JOBS}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-list.png"), full_page=True)


def test_filters_by_status_name_label_and_time(server: LiveServer, page) -> None:
    page.goto(server.url + "/")
    wait_info(page, f"of {JOBS}")
    page.select_option("#status-filter", "FAILED")
    wait_info(page, "1-30 of 30")
    statuses = page.locator("#jobs tr td.status").all_inner_texts()
    assert set(statuses) == {"FAILED"}

    page.fill("#name-filter", "deploy-*")
    page.press("#name-filter", "Enter")
    wait_info(page, "1-30 of 30")  # every 4th job is an even one: a deploy
    page.select_option("#status-filter", "")
    wait_info(page, "1-50 of 60")
    assert all(n.startswith("deploy-") for n in names(page))

    page.fill("#label-filter", "team=b")
    page.press("#label-filter", "Enter")
    wait_info(page, "1-20 of 20")  # even multiples of 3
    assert page.locator("#jobs .chip", has_text="team=b").count() == 20

    page.fill("#name-filter", "")
    page.fill("#label-filter", "")
    page.fill("#since-filter", "2026-01-01T01:40")  # T0 + 100 minutes, in the page's UTC
    page.press("#since-filter", "Enter")
    wait_info(page, "1-20 of 20")
    page.fill("#until-filter", "2026-01-01T01:50")
    page.press("#until-filter", "Enter")
    wait_info(page, "1-10 of 10")
    assert names(page) == [f"{'build' if i % 2 else 'deploy'}-{i:03d}" for i in range(109, 99, -1)]

    # The filters are in the address: a reload shows the same list.
    page.reload()
    wait_info(page, "1-10 of 10")
    assert page.input_value("#since-filter") == "2026-01-01T01:40"


def test_the_list_changes_live(tmp_path: Path, page) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        page.goto(server.url + "/")
        page.get_by_text("no jobs").wait_for(timeout=15_000)
        job = BigJob(server.settings, name="arrives-later").start()
        row = page.locator(f"tr[data-job='{job.job_id}']")
        row.locator("td.status", has_text="STARTED").wait_for(timeout=15_000)
        job.finish(Status.FAILED)
        row.locator("td.status.s-FAILED", has_text="FAILED").wait_for(timeout=15_000)
        assert row.locator("td.dur").inner_text() == "42.0s"
