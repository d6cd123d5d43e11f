"""`/stats`, `/health`, the OpenAPI document, the web page's files, the runtime file."""

from __future__ import annotations

import json
import os

from jobstream import runtime

from .api_support import LiveServer


def test_stats_count_by_status_with_durations(server: LiveServer) -> None:
    for cmd in ("true", "true", "exit 1"):
        server.wait_done(server.submit(cmd))
    with server.client() as http:
        stats = http.get("/stats").json()
    assert stats["total"] == 3
    assert stats["by_status"] == {"SUCCEEDED": 2, "FAILED": 1}
    assert stats["finished"] == 3
    assert stats["mean_duration"] > 0


def test_health_reports_the_log_and_projection_lag(server: LiveServer) -> None:
    server.wait_done(server.submit("true"))
    with server.client() as http:
        health = http.get("/health").json()
    assert health["ok"] is True
    assert health["log_reachable"] is True
    assert health["projection_lag"] == 0
    assert health["applied"] > 0


def test_openapi_document_describes_every_endpoint(server: LiveServer) -> None:
    with server.client() as http:
        document = http.get("/openapi.json").json()
        page = http.get("/docs")
        assert page.status_code == 200
        # Swagger UI from this server, not a CDN: the page works offline.
        assert "cdn" not in page.text
        for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
            assert asset in page.text
            assert http.get(asset).status_code == 200
    paths = document["paths"]
    assert set(paths) == {
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/status",
        "/jobs/{job_id}/cancel",
        "/jobs/{job_id}/retry",
        "/jobs/{job_id}/log",
        "/jobs/{job_id}/log/stream",
        "/jobs/{job_id}/log.txt",
        "/jobs/{job_id}/log/search",
        "/jobs/stream",
        "/jobs/{job_id}/steps",
        "/stats",
        "/dead-letters",
        "/health",
        "/whoami",
        "/metrics",
        "/stages",
        "/stages/{name}",
        "/stages/{name}/{version}",
    }
    body = paths["/jobs"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/yaml", "application/x-yaml", "text/yaml"}
    schemas = document["components"]["schemas"]
    assert "JobDocument" in schemas
    assert "Stage" in schemas
    assert schemas["ErrorBody"]["required"] == ["code", "message"]
    assert "duration_seconds" in schemas["Job"]["properties"]
    # Every $ref resolves inside the document.
    refs = {
        r.split("/")[-1]
        for r in json.dumps(document).split('"$ref": "')[1:]
        for r in [r.split('"')[0]]
    }
    assert refs <= set(schemas)


def test_web_page_and_script_are_served(server: LiveServer) -> None:
    with server.client() as http:
        page = http.get("/")
        script = http.get("/static/app.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js">' in page.text
    assert script.status_code == 200
    assert "text/event-stream" not in script.text  # it reads the stream with fetch
    assert "Last-Event-ID" in script.text


def test_runtime_file_names_the_server_while_it_runs(server: LiveServer) -> None:
    info = runtime.discover(server.settings.data_dir)
    assert info is not None
    assert info.url == server.url
    assert info.pid == os.getpid()


def test_stale_runtime_file_is_ignored(tmp_path) -> None:
    path = tmp_path / runtime.RUNTIME_FILE
    path.write_text(
        json.dumps({"url": "http://127.0.0.1:9", "pid": 2**22 + 1, "started": "2026-01-01T00:00Z"})
    )
    assert runtime.discover(tmp_path) is None
    path.write_text("{half a file")
    assert runtime.discover(tmp_path) is None
