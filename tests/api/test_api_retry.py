"""Retry as a user action (`POST /jobs/{id}/retry`, `jobstream retry`) and `/whoami`, on a
real server: the retry is the same document as a new job linked both ways, its secret
sealed again to its own id, and only an ended job is retried."""

from __future__ import annotations

import json

from click.testing import CliRunner

from jobstream.cli import main

from .api_support import LiveServer, job_yaml

YAML = {"Content-Type": "application/yaml"}
SECRET = "hunter2-retry"


def secret_job(cmd: str) -> str:
    return f"secrets: {{pw: {SECRET}}}\n" + job_yaml(cmd)


def submit(server: LiveServer, document: str, token: str | None = None) -> str:
    with server.client(token) as http:
        response = http.post("/jobs", content=document, headers=YAML)
    assert response.status_code == 201, response.text
    return response.json()["job_id"]


def log_text(server: LiveServer, job_id: str) -> str:
    with server.client() as http:
        return "\n".join(line["text"] for line in http.get(f"/jobs/{job_id}/log").json()["lines"])


def test_a_retry_runs_the_same_document_as_a_new_linked_job(server: LiveServer) -> None:
    # The job needs its secret (a job whose secret does not open fails): the retry opens
    # it, sealed again to the retry's id; the log shows it masked.
    first = submit(server, secret_job('echo "secret: %{pw}"'))
    assert server.wait_done(first)["status"] == "SUCCEEDED"
    with server.client() as http:
        answers = [http.post(f"/jobs/{first}/retry") for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201]
    retries = [a.json() for a in answers]
    assert [r["retry_of"] for r in retries] == [first, first]
    for retry in retries:
        done = server.wait_done(retry["job_id"])
        assert (done["status"], done["retry_of"], done["attempt"]) == ("SUCCEEDED", first, 2)
        assert "secret: ***" in log_text(server, retry["job_id"])
        assert done["document"]["secrets"] == {"pw": "***"}
    with server.client() as http:
        old = http.get(f"/jobs/{first}").json()
    # The newest retry is the one the old job names.
    assert old["retried_by"] == retries[1]["job_id"] and old["retry_of"] is None
    assert SECRET not in json.dumps(old)


def test_only_an_ended_job_is_retried_and_an_unknown_one_is_404(server: LiveServer) -> None:
    running = submit(server, job_yaml("sleep 30"))
    with server.client() as http:
        early = http.post(f"/jobs/{running}/retry")
        assert early.status_code == 409
        assert early.json()["code"] == "job_not_ended"
        assert running in early.json()["message"]
        assert http.post("/jobs/no-such-job/retry").json()["code"] == "job_not_found"
        assert http.post("/jobs/no-such-job/retry").status_code == 404
        http.post(f"/jobs/{running}/cancel")
    assert server.wait_done(running)["status"] == "CANCELLED"
    with server.client() as http:
        assert http.post(f"/jobs/{running}/retry").status_code == 201


def test_the_command_line_retries_through_the_server(server: LiveServer) -> None:
    failed = submit(server, job_yaml("exit 3"))
    assert server.wait_done(failed)["exit_status"] == 3
    runner = CliRunner()
    env = {"JOBSTREAM_SERVER": server.url, "JOBSTREAM_DATA_DIR": str(server.settings.data_dir)}
    result = runner.invoke(main, ["retry", failed[:12]], env=env)
    assert result.exit_code == 0, result.output
    new = result.stdout.strip()
    assert f"job {new} retries job {failed}" in result.stderr
    assert server.wait_done(new)["retry_of"] == failed
    missing = runner.invoke(main, ["retry", "zzzz"], env=env)
    assert missing.exit_code == 2 and "zzzz" in missing.stderr
    running = submit(server, job_yaml("sleep 30"))
    early = runner.invoke(main, ["retry", running], env=env)
    assert early.exit_code == 2 and "has not ended" in early.stderr
    assert "Traceback" not in early.output


def test_whoami_says_what_the_token_may_do(server: LiveServer, auth_server: LiveServer) -> None:
    with server.client() as http:
        assert http.get("/whoami").json() == {"auth": False, "scopes": ["read", "write"]}
    reader, writer = auth_server.token("page", "read"), auth_server.token("ci", "write")
    expected = {None: [], "not-a-token": [], reader: ["read"], writer: ["read", "write"]}
    for token, scopes in expected.items():
        with auth_server.client(token) as http:
            response = http.get("/whoami")
        assert response.status_code == 200
        assert response.json() == {"auth": True, "scopes": scopes}
    with auth_server.client(reader) as http:
        assert http.post("/jobs/x/retry").status_code == 403
