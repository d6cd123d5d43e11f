"""No API answer hands out a secret's ciphertext, and a ciphertext taken from the log does
not open in another job."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobstream.events.codec import decode
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.log.testing import drain
from jobstream.events.models import JobSubmitted
from jobstream.events.names import Topics
from jobstream.projections import DuckDBViews

from .api_support import LiveServer

JSON = {"Content-Type": "application/json"}


def document(secret: str) -> str:
    return json.dumps(
        {
            "name": "with-secret",
            "secrets": {"api_key": secret},
            "sources": [],
            "stages": [
                {"name": "s", "steps": [{"action": "command", "cmd": "echo %{api_key} | rev"}]}
            ],
            "sequence": [{"stage": "s"}],
        }
    )


def sealed_in_log(server: LiveServer, job_id: str) -> str:
    """The sealed value as the log keeps it for the runner (only the log has it)."""

    async def read() -> str:
        async with (
            EmbeddedLog(server.settings.log_path) as log,
            log.consumer([Topics().jobs], start="earliest") as consumer,
        ):
            for record in await drain(consumer):
                event = decode(record.value)
                if isinstance(event, JobSubmitted) and event.job_id == job_id:
                    return event.document["secrets"]["api_key"]
        raise AssertionError("no JobSubmitted")

    return asyncio.run(read())


@pytest.fixture
def keyed_server(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path / "data", secret_key_file=tmp_path / "keys" / "secret.key") as s:
        yield s


def test_answers_show_secret_names_only(keyed_server: LiveServer) -> None:
    server = keyed_server
    with server.client() as http:
        created = http.post("/jobs", content=document("the-clear-api-key"), headers=JSON)
        assert created.status_code == 201, created.text
        job_id = created.json()["job_id"]
        record = server.wait_done(job_id)
        assert record["status"] == "SUCCEEDED"
        sealed = sealed_in_log(server, job_id)
        assert sealed.startswith("enc:v2:job:")
        answers = [
            http.get(f"/jobs/{job_id}"),
            http.get("/jobs"),
            http.get("/jobs", params={"name": "with-secret"}),
            http.get(f"/jobs/{job_id}/status"),
            http.get(f"/jobs/{job_id}/log"),
        ]
    assert record["document"]["secrets"] == {"api_key": "***"}
    for answer in answers:
        assert answer.status_code == 200, answer.text
        for hidden in (sealed, sealed.split(":")[-1], "the-clear-api-key", "enc:v2"):
            assert hidden not in answer.text, answer.request.url


def test_the_views_file_holds_no_ciphertext(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", secret_key_file=tmp_path / "keys" / "secret.key") as server:
        with server.client() as http:
            created = http.post("/jobs", content=document("in-the-views?"), headers=JSON)
            job_id = created.json()["job_id"]
        assert server.wait_done(job_id)["status"] == "SUCCEEDED"
        sealed = sealed_in_log(server, job_id)
    # The server has let go of the views: read every row of every table in them.
    views = DuckDBViews.open(server.settings.views_path)
    try:
        tables = [t for (t,) in views.conn.execute("SHOW TABLES").fetchall()]
        rows = {t: views.conn.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    finally:
        views.close()
    assert any(job_id in repr(r) for r in rows.values())
    assert sealed.startswith("enc:") and "enc:" not in repr(rows)


def test_a_ciphertext_copied_into_another_job_is_refused_naming_the_secret(
    keyed_server: LiveServer,
) -> None:
    server = keyed_server
    with server.client() as http:
        job_id = http.post("/jobs", content=document("job-a-only"), headers=JSON).json()["job_id"]
        server.wait_done(job_id)
        stolen = sealed_in_log(server, job_id)
        refused = http.post("/jobs", content=document(stolen), headers=JSON)
    assert refused.status_code == 400, refused.text
    (problem,) = [p for p in refused.json()["problems"] if p["severity"] == "error"]
    assert problem["path"] == "secrets.api_key"
    assert "sealed to another job" in problem["message"]
