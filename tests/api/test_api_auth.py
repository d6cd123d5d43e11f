"""Bearer tokens: 401 without a valid one, 403 for a read token that writes, revocation,
hashed storage, `jobstream token`, and no token in any log line."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobstream.cli import main

from .api_support import LiveServer, job_yaml

YAML = {"Content-Type": "application/yaml"}
READS = ["/jobs", "/stats", "/jobs/x", "/jobs/x/status", "/jobs/x/log"]


def test_missing_and_wrong_tokens_are_401(auth_server: LiveServer) -> None:
    with auth_server.client() as anonymous, auth_server.client("not-a-token") as wrong:
        for path in [*READS, "/jobs/x/log/stream"]:
            for http in (anonymous, wrong):
                response = http.get(path)
                assert response.status_code == 401, path
                assert response.headers["www-authenticate"] == "Bearer"
                assert response.json()["code"] in ("missing_token", "invalid_token")
        assert anonymous.post("/jobs", content=job_yaml("true"), headers=YAML).status_code == 401
        assert anonymous.post("/jobs/x/cancel").status_code == 401
        basic = anonymous.get("/jobs", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401
        # The page, the API description and health stay public: they hold no job data, and
        # an orchestrator's health check has no token.
        assert anonymous.get("/").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/health").json()["ok"] is True


def test_read_tokens_read_and_write_tokens_write(auth_server: LiveServer) -> None:
    reader = auth_server.token("dashboard", "read")
    writer = auth_server.token("ci-bot", "write")
    with auth_server.client(reader) as r, auth_server.client(writer) as w:
        assert r.get("/jobs").status_code == 200
        refused = r.post("/jobs", content=job_yaml("true"), headers=YAML)
        assert refused.status_code == 403
        assert refused.json()["code"] == "insufficient_scope"
        created = w.post("/jobs", content=job_yaml("true"), headers=YAML)
        assert created.status_code == 201
        job_id = created.json()["job_id"]
        assert r.post(f"/jobs/{job_id}/cancel").status_code == 403
        assert w.get(f"/jobs/{job_id}").json()["submitter"] == "ci-bot"
        assert r.get(f"/jobs/{job_id}/status").status_code == 200


def test_revoked_token_is_refused(auth_server: LiveServer) -> None:
    runner = CliRunner()
    env = {"JOBSTREAM_DATA_DIR": str(auth_server.settings.data_dir)}
    created = runner.invoke(main, ["token", "create", "temp", "--scope", "write"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.output.strip()
    with auth_server.client(secret) as http:
        assert http.get("/jobs").status_code == 200
        assert runner.invoke(main, ["token", "revoke", "temp"], env=env).exit_code == 0
        assert http.get("/jobs").status_code == 401


def test_token_commands_store_only_hashes(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"JOBSTREAM_DATA_DIR": str(tmp_path)}
    secret = runner.invoke(main, ["token", "create", "alice"], env=env).output.strip()
    assert len(secret) >= 40
    duplicate = runner.invoke(main, ["token", "create", "alice"], env=env)
    assert duplicate.exit_code == 2  # ExitCode.USAGE
    assert "already exists" in duplicate.output
    listed = runner.invoke(main, ["token", "list"], env=env).output
    assert "alice" in listed
    assert "read" in listed
    assert secret not in listed
    raw = (tmp_path / "tokens.sqlite").read_bytes()
    assert secret.encode() not in raw
    with sqlite3.connect(tmp_path / "tokens.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM tokens").fetchone() == (1,)
    assert runner.invoke(main, ["token", "revoke", "alice"], env=env).exit_code == 0
    assert runner.invoke(main, ["token", "revoke", "alice"], env=env).exit_code == 2
    assert runner.invoke(main, ["token", "list"], env=env).output.strip() == "no tokens"
    assert "alice" in runner.invoke(main, ["token", "list", "--all"], env=env).output
    # A revoked name can be given a new token.
    assert runner.invoke(main, ["token", "create", "alice"], env=env).exit_code == 0


def test_no_token_reaches_the_logs(
    auth_server: LiveServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    good = auth_server.token("logged", "read")
    wrong = "wrong-" + good[6:]
    with auth_server.client(good) as ok, auth_server.client(wrong) as bad:
        ok.get("/jobs", params={"status": "FAILED"})
        ok.post("/jobs", content=b"x", headers=YAML)  # 403: scope
        bad.get("/jobs")
        bad.get("/nosuchpath")
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err):
        assert good not in text
        assert wrong not in text
