"""The API against hostile clients, on a real server on 127.0.0.1: other Host names (DNS
rebinding), oversized and slow requests (raw sockets), bad parameters, and secrets that
must not come back in an error."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from jobstream.api.app import allowed_hosts
from jobstream.api.server import MAX_HEADER_BYTES
from jobstream.settings import Settings

from .api_support import LiveServer, job_yaml

YAML = {"content-type": "application/yaml"}
BOUND = 10.0  # seconds any raw-socket exchange may take


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(
        tmp_path / "data", with_worker=False, max_body=4096, header_timeout=1, body_timeout=1
    ) as live:
        yield live


def address(live: LiveServer) -> tuple[str, int]:
    url = urlsplit(live.url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def exchange(live: LiveServer, *parts: bytes, pause: float = 0.0) -> tuple[bytes, float]:
    """Send `parts` with `pause` between them (stopping once the server has closed), then
    read the answer to its end; the answer and the seconds from connecting to the end."""
    started = time.monotonic()
    with socket.create_connection(address(live), timeout=BOUND) as s:
        for part in parts:
            try:
                s.sendall(part)
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(pause)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer, time.monotonic() - started


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


# -- Host names ---------------------------------------------------------------------------


def test_a_rebound_host_name_is_refused(guarded: LiveServer) -> None:
    with guarded.client() as http:
        evil = {"Host": "rebind.evil.example", **YAML}
        submitted = http.post("/jobs", content=job_yaml("true"), headers=evil)
        assert submitted.status_code == 400
        assert submitted.json()["code"] == "invalid_host"
        assert "allowed_hosts" in submitted.json()["message"]
        assert http.get("/jobs", headers={"Host": "rebind.evil.example:8080"}).status_code == 400
        assert http.get("/jobs").json()["total"] == 0  # nothing was submitted
        port = address(guarded)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
            assert http.get("/jobs", headers={"Host": host}).status_code == 200, host
        # Health checks call by whatever address they have.
        assert http.get("/health", headers={"Host": "10.1.2.3:8080"}).status_code == 200


def test_allowed_hosts_is_a_setting(tmp_path: Path) -> None:
    settings = Settings.load(environ={"JOBSTREAM_ALLOWED_HOSTS": "ci.example, *"})
    assert settings.allowed_hosts == ["ci.example", "*"]
    with (
        LiveServer(tmp_path / "a", with_worker=False, allowed_hosts=["ci.example"]) as named,
        named.client() as http,
    ):
        assert http.get("/jobs", headers={"Host": "ci.example:80"}).status_code == 200
        assert http.get("/jobs", headers={"Host": "localhost"}).status_code == 400
        # The address it listens on is always one of its names.
        assert http.get("/jobs").status_code == 200
    # The URL in server.json names the bound address, whatever it is.
    assert allowed_hosts(Settings(host="0.0.0.0"))[-1] == "0.0.0.0"
    assert allowed_hosts(Settings(host="::1"))[-1] == "[::1]"
    with (
        LiveServer(tmp_path / "b", with_worker=False, allowed_hosts=["*"]) as any_name,
        any_name.client() as http,
    ):
        assert http.get("/jobs", headers={"Host": "anything.example"}).status_code == 200


# -- sizes and slow clients ---------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(guarded: LiveServer) -> None:
    head = (
        b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/yaml\r\n"
        b"content-length: 5000000\r\n\r\n"
    )
    answer, took = exchange(guarded, head)
    assert status_of(answer) == 413
    assert body_of(answer)["code"] == "body_too_large"
    assert took < BOUND


def test_a_chunked_body_over_the_limit_is_refused(guarded: LiveServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield job_yaml("true").encode()
        for _ in range(10):
            yield b"# " + b"x" * 1000 + b"\n"

    with guarded.client() as http:
        response = http.post("/jobs", content=chunks(), headers=YAML)
        assert response.status_code == 413
        # Every route is held to it, not only those that read the body themselves.
        assert http.post("/stages", content=b"x" * 5000, headers=YAML).status_code == 413


def test_headers_sent_slowly_are_cut_off(guarded: LiveServer) -> None:
    trickle = [b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"] + [b"x-slow: 1\r\n"] * 40
    answer, took = exchange(guarded, *trickle, pause=0.1)
    assert status_of(answer) == 408
    assert body_of(answer)["code"] == "request_timeout"
    assert 0.9 < took < 3.5  # header_timeout is 1 s; the trickle would take 4 s


def test_a_connection_that_sends_nothing_is_closed(guarded: LiveServer) -> None:
    answer, took = exchange(guarded)
    assert status_of(answer) == 408
    assert took < 3.5


def test_a_body_sent_slowly_is_cut_off(guarded: LiveServer) -> None:
    head = (
        b"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/yaml\r\n"
        b"content-length: 1000\r\n\r\n"
    )
    answer, took = exchange(guarded, head, *[b"# slow\n"] * 40, pause=0.1)
    assert status_of(answer) == 408
    assert "body_timeout" in body_of(answer)["message"]
    assert took < 3.5


def test_headers_that_never_end_are_refused_once_too_big(guarded: LiveServer) -> None:
    # What is buffered of an unfinished request is bounded (a finished one is parsed and
    # done with); each part is well within the header timeout.
    part = b"x-big: " + b"a" * 4096 + b"\r\n"
    parts = [b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"] + [part] * (MAX_HEADER_BYTES // 4096 + 2)
    answer, took = exchange(guarded, *parts, pause=0.02)
    assert status_of(answer) == 400
    assert took < BOUND


def test_the_server_still_answers_after_all_that(guarded: LiveServer) -> None:
    test_headers_sent_slowly_are_cut_off(guarded)
    test_a_body_sent_slowly_is_cut_off(guarded)
    with guarded.client() as http:
        created = http.post("/jobs", content=job_yaml("true"), headers=YAML)
        assert created.status_code == 201


# -- parameters and messages --------------------------------------------------------------


def _cursor(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


BAD_LISTS = [
    {"offset": "1e20"},
    {"offset": str(2**63)},
    {"offset": "9" * 30},
    {"offset": "-1"},
    {"limit": "1e3"},
    {"since": "9999-99-99"},
    {"cursor": ""},
    {"cursor": "%%%"},
    {"cursor": "//4="},
    {"cursor": _cursor([1, 2])},
    {"cursor": _cursor({})},
    {"cursor": _cursor({"submitted": "9999-12-31T23:59:59.999999Z", "skip": 0, "position": 0})},
    {"cursor": _cursor({"submitted": "0001-01-01T00:00:00+23:59", "skip": 0, "position": 0})},
    {"cursor": _cursor({"submitted": "2020-01-01T00:00:00", "skip": 0, "position": 0})},
    {"cursor": _cursor({"submitted": None, "skip": 0, "position": 2**63})},
    {"cursor": _cursor({"submitted": "2020-01-01T00:00:00Z", "skip": 2**63 - 1, "position": 0})},
    {"cursor": _cursor({"submitted": "2020-01-01T00:00:00Z", "skip": -1, "position": 0})},
    {"cursor": _cursor({"submitted": 1e20, "skip": 0, "position": 0})},
    {"cursor": _cursor({"submitted": None, "skip": 1.5, "position": 0})},
]


def test_bad_list_parameters_are_client_errors(guarded: LiveServer) -> None:
    with guarded.client() as http:
        assert http.post("/jobs", content=job_yaml("true"), headers=YAML).status_code == 201
        for params in BAD_LISTS:
            response = http.get("/jobs", params=params)
            assert response.status_code == 400, (params, response.text)
            assert response.json()["code"] in ("invalid_cursor", "invalid_request"), params
        # The largest offset that is accepted still answers.
        assert http.get("/jobs", params={"offset": str(2**62)}).json()["jobs"] == []


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_secret_value_is_never_in_an_error(guarded: LiveServer, fmt: str) -> None:
    values = ["271828", 314159, 16180.339, True, "2001-02-03"]
    secrets = {f"s{i}": v for i, v in enumerate(values)}
    raw = {"name": "t", "sequence": [{"stage": "s"}], "secrets": secrets}
    if fmt == "json":
        body, headers = json.dumps(raw), {"content-type": "application/json"}
    else:
        # Unquoted, each is a number, a boolean or a date to YAML.
        lines = "".join(
            f"  s{i}: {str(v).lower() if v is True else v}\n" for i, v in enumerate(values)
        )
        body, headers = f"name: t\nsequence: [{{stage: s}}]\nsecrets:\n{lines}", YAML
    with guarded.client() as http:
        response = http.post("/jobs", content=body, headers=headers)
    assert response.status_code == 400
    errors = [p for p in response.json()["problems"] if p["severity"] == "error"]
    assert {p["path"] for p in errors} >= {"secrets.s1", "secrets.s2", "secrets.s3"}
    for shown in ("314159", "16180", "true", "2001-02-03"):
        assert shown not in response.text.lower(), shown
