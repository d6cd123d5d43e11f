"""The job page's log viewer in headless Chromium, on logs written to the event log
directly: a 100,000-line log is drawn in a window of rows, scrolls to its end, links to
lines, finds a line the page never fetched, marks stderr, shows timestamps, follows a live
log at its end; the raw log downloads whole. Screenshots go to tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.models import Status

from ..polling import eventually
from .api_support import LiveServer
from .web_support import ARTIFACTS, CHROMIUM, BigJob, chromium, finished_job, text_of

playwright = pytest.importorskip("playwright.sync_api")

BIG = 100_000
STDERR_EVERY = 7
VIEWPORT = {"width": 1200, "height": 800}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """One server for the module, holding a finished 100,000-line job."""
    with LiveServer(tmp_path_factory.mktemp("web") / "data", with_worker=False) as server:
        job = finished_job(server.settings, BIG, stderr_every=STDERR_EVERY, name="big-log")
        server.wait_done(job.job_id)
        yield server, job.job_id


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no system chromium (apt-get install chromium)")
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def line(page, n: int):
    return page.locator(f"#log .line[data-n='{n}']")


def on_screen(page, n: int) -> bool:
    """Line n is drawn inside the log's visible box (not only in the DOM's margin)."""
    return page.evaluate(
        """(n) => {
          const row = document.querySelector(`#log .line[data-n='${n}']`);
          if (!row || row.classList.contains('pending')) return false;
          const box = document.getElementById('log').getBoundingClientRect();
          const r = row.getBoundingClientRect();
          return r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
        }""",
        n,
    )


def test_a_big_log_is_drawn_in_a_window_and_scrolls_to_its_end(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}")
    line(page, 1).filter(has_text="line 0000001").wait_for(timeout=15_000)
    assert on_screen(page, 1)
    # Only the screen and a margin are in the DOM, yet the scrollbar spans every line.
    assert page.locator("#log .line").count() < 200
    assert page.evaluate("document.getElementById('log').scrollHeight") > BIG * 10

    page.click("#log-end")
    line(page, BIG).filter(has_text=f"line {BIG:07d}").wait_for(timeout=15_000)
    eventually(lambda: on_screen(page, BIG), timeout=10)
    assert page.locator("#log .line").count() < 200
    assert line(page, 1).count() == 0

    # A line in the middle, reached by the scrollbar, is fetched and drawn.
    page.evaluate(
        "(() => { const b = document.getElementById('log'); b.scrollTop = b.scrollHeight / 2; })()"
    )
    eventually(
        lambda: page.evaluate(
            "[...document.querySelectorAll('#log .line.stdout, #log .line.stderr')]"
            ".some(r => Math.abs(Number(r.dataset.n) - 50000) < 1000)"
        ),
        timeout=10,
    )


def test_stderr_lines_are_marked_and_colours_rendered(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}")
    page.locator("#log .line.stderr[data-n='14']").wait_for(timeout=15_000)
    assert line(page, 13).get_attribute("class") == "line stdout"
    green = line(page, 10).locator(".f2")
    assert green.inner_text() == "line 0000010"
    assert "\x1b" not in page.locator("#log").inner_text()


def test_line_links_mark_a_line_or_a_range(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}#L60000-L60004")
    line(page, 60000).filter(has_text="line 0060000").wait_for(timeout=15_000)
    eventually(lambda: on_screen(page, 60000), timeout=10)
    marked = page.locator("#log .line.hl")
    assert [int(n) for n in marked.evaluate_all("rs => rs.map(r => r.dataset.n)")] == list(
        range(60000, 60005)
    )

    line(page, 60010).locator("a.ln").click()
    assert page.evaluate("location.hash") == "#L60010"
    line(page, 60013).locator("a.ln").click(modifiers=["Shift"])
    assert page.evaluate("location.hash") == "#L60010-L60013"
    numbers = marked.evaluate_all("rs => rs.map(r => Number(r.dataset.n))")
    assert numbers == [60010, 60011, 60012, 60013]

    # Reloading the link shows the same lines.
    page.reload()
    line(page, 60010).filter(has_text="line 0060010").wait_for(timeout=15_000)
    assert "hl" in (line(page, 60012).get_attribute("class") or "")


def test_search_finds_a_line_the_page_never_fetched(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}")
    line(page, 1).filter(has_text="line 0000001").wait_for(timeout=15_000)
    page.fill("#search", "LINE 0087654")
    page.press("#search", "Enter")
    found = page.locator("#log .line.current")
    found.wait_for(timeout=15_000)
    found.filter(has_text="line 0087654").wait_for(timeout=15_000)
    assert found.get_attribute("data-n") == "87654"
    eventually(lambda: on_screen(page, 87654), timeout=10)
    assert page.inner_text("#search-info").startswith("1 of 1")

    page.fill("#search", "no such text anywhere")
    page.press("#search", "Enter")
    page.get_by_text("no match").wait_for(timeout=15_000)


def test_timestamps_toggle(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}")
    line(page, 1).filter(has_text="line 0000001").wait_for(timeout=15_000)
    assert line(page, 1).locator(".ts").count() == 0
    page.check("#timestamps")
    stamp = line(page, 1).locator(".ts")
    stamp.wait_for(timeout=5_000)
    assert len(stamp.inner_text()) == len("12:34:56.789")
    page.reload()  # the choice is remembered
    line(page, 1).locator(".ts").wait_for(timeout=15_000)
    page.uncheck("#timestamps")
    line(page, 1).locator(".ts").wait_for(state="detached", timeout=5_000)


def test_raw_log_downloads_whole(big, page) -> None:
    server, job_id = big
    page.goto(f"{server.url}/?job={job_id}")
    line(page, 1).filter(has_text="line 0000001").wait_for(timeout=15_000)
    with page.expect_download(timeout=30_000) as info:
        page.click("#download")
    path = info.value.path()
    text = Path(path).read_text()
    lines = text.splitlines()
    assert len(lines) == BIG
    # As written: the raw log keeps its ANSI escapes.
    assert lines[0] == text_of(1) and lines[-1] == text_of(BIG)


def test_a_live_log_is_followed_at_its_end(tmp_path: Path, page) -> None:
    with LiveServer(tmp_path / "data", with_worker=False) as server:
        job = BigJob(server.settings, name="live-log").start()
        job.append(300)
        eventually(lambda: server.client().get(f"/jobs/{job.job_id}").json()["lines"] == 300)
        page.goto(f"{server.url}/?job={job.job_id}")
        line(page, 300).filter(has_text="line 0000300").wait_for(timeout=15_000)
        page.get_by_text("following…").wait_for(timeout=15_000)
        for _ in range(10):  # 20,000 lines in bursts, as a busy job writes them
            job.append(2_000)
        line(page, job.lines).filter(has_text=f"line {job.lines:07d}").wait_for(timeout=30_000)
        eventually(lambda: on_screen(page, job.lines), timeout=10)
        assert page.locator("#log .line").count() < 200
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-running.png"), full_page=True)
        # Scrolled up, the view stays where the reader is while lines keep coming.
        page.evaluate("document.getElementById('log').scrollTop = 0")
        line(page, 1).filter(has_text="line 0000001").wait_for(timeout=15_000)
        before = job.lines
        job.append(500)
        page.wait_for_function(
            f"document.getElementById('log').scrollHeight > {before} * 20", timeout=15_000
        )
        assert on_screen(page, 1)
        job.finish(Status.FAILED)
        page.get_by_text("job ended FAILED").wait_for(timeout=15_000)
        page.locator("#job-status", has_text="FAILED").wait_for(timeout=15_000)
