"""The web page in headless Chromium (Debian's, driven by Playwright): the job list, then a
job whose printed line appears live, coloured, with stderr told apart. The screenshot is
kept in tests/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .api_support import LiveServer
from .web_support import ARTIFACTS, CHROMIUM, chromium

playwright = pytest.importorskip("playwright.sync_api")

# The job waits (at most 60 s) for the test to open its gate, a file in its workspace: the
# line after the gate can then only reach the page over the live stream.
JOB = (
    "echo first line; i=0; while [ ! -e gate ] && [ $i -lt 1200 ]; do sleep 0.05; "
    "i=$((i+1)); done; printf '\\033[32mgreen live line\\033[0m\\n'; echo complaint >&2"
)


@pytest.fixture
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("no system chromium (apt-get install chromium)")
    with chromium() as browser:
        yield browser


def test_page_lists_jobs_and_follows_a_log_live(tmp_path: Path, browser) -> None:
    with LiveServer(tmp_path / "data", auth=True) as server:
        token = server.token("browser", "read")
        job_id = server.submit(JOB, name="web-demo", token=server.token("ci", "write"))

        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.add_init_script(f"localStorage.setItem('jobstream.token', {token!r})")
        page.goto(server.url + "/")
        row = page.locator(f"tr[data-job='{job_id}']")
        row.wait_for(timeout=15_000)
        assert "web-demo" in row.inner_text()
        page.select_option("#status-filter", "FAILED")
        page.locator(f"tr[data-job='{job_id}']").wait_for(state="detached", timeout=15_000)
        page.select_option("#status-filter", "")
        page.locator(f"tr[data-job='{job_id}']").click()

        log = page.locator("#log")
        stdout = page.locator("#log .line.stdout")
        stdout.filter(has_text="first line").wait_for(timeout=15_000)
        # The job waits at its gate before printing this: it can only come over the stream.
        assert stdout.filter(has_text="green live line").count() == 0
        (server.settings.workspaces / job_id / "gate").touch()
        live = stdout.get_by_text("green live line", exact=True)
        live.wait_for(timeout=15_000)
        assert live.get_attribute("class") == "f2"  # ANSI green rendered, escapes gone
        assert "\x1b" not in log.inner_text()
        assert "[32m" not in stdout.all_inner_texts()[-1]
        stderr = page.locator("#log .line.stderr")
        stderr.wait_for(timeout=15_000)
        assert stderr.inner_text().endswith("complaint")

        page.get_by_text("job ended SUCCEEDED").wait_for(timeout=15_000)
        page.locator("#record .status", has_text="SUCCEEDED").wait_for(timeout=15_000)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "web-page.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        assert shot.stat().st_size > 0
