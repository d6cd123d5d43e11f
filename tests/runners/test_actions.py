"""Cyclid's slack, email, cobertura and simplecov actions against real servers and files."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from pydantic import SecretStr

from jobstream.events.models import Status
from jobstream.runners.actions import ActionSettings
from jobstream.runners.actions.rubyfloat import round2, to_f, to_s

from .test_executor import job, log, run, sh

# -- slack ----------------------------------------------------------------------------------


class Receiver:
    """A webhook on 127.0.0.1: `/ok` answers 200, `/broken` 500; keeps every body."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append((request.path, request.content_type, await request.json()))
        return web.Response(status=200 if request.path == "/ok" else 500, text="ok")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hooks = Receiver()
    app = web.Application()
    app.router.add_post("/{name}", hooks.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hooks.url = f"http://127.0.0.1:{port}"
    try:
        yield hooks
    finally:
        await runner.cleanup()


def slack(**fields: Any) -> dict[str, Any]:
    return {"action": "slack", **fields}


async def test_slack_posts_cyclids_message_to_the_steps_url(
    tmp_path: Path, receiver: Receiver
) -> None:
    document = job(
        {"notify": [slack(url=f"{receiver.url}/ok", subject="%{job_name} passed", message="m")]},
        ["notify"],
        organization="acme",
    )
    status, _ = await run(tmp_path, document)
    assert status is Status.SUCCEEDED
    ((path, kind, body),) = receiver.bodies
    assert (path, kind) == ("/ok", "application/json")
    assert body["text"] == "test-job passed"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "good"  # Cyclid's default
    assert attachment["fallback"] == "m"
    message, information = attachment["fields"]
    assert message == {"title": "Message", "value": "m"}
    assert "Job name: test-job\n" in information["value"]
    assert "Organization: acme\n" in information["value"]


async def test_slack_uses_the_configured_webhook_and_fails_unless_200(
    tmp_path: Path, receiver: Receiver
) -> None:
    document = job(
        {"notify": [slack(subject="s", color="danger")], "after": [log("after")]},
        [{"stage": "notify", "on_failure": "after"}],
    )
    settings = ActionSettings(slack_webhook_url=f"{receiver.url}/broken")
    status, notifier = await run(tmp_path, document, actions=settings)
    assert status is Status.FAILED
    assert "HTTP 500" in (notifier.statuses[-1].reason or "")
    assert receiver.bodies[0][2]["attachments"][0]["color"] == "danger"
    assert "after" in notifier.texts("system")


async def test_slack_without_any_webhook_fails_the_step(tmp_path: Path) -> None:
    status, notifier = await run(tmp_path, job({"notify": [slack(subject="s")]}, ["notify"]))
    assert status is Status.FAILED
    assert "no webhook URL" in (notifier.statuses[-1].reason or "")


# -- email ----------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.received: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.received.append((envelope, message_from_bytes(envelope.original_content or b"")))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Any:
    """A real SMTP server on 127.0.0.1 that accepts user `ci` with password `s3cret-pw`."""
    mailbox = Mailbox()

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"ci",
            b"s3cret-pw",
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


def email(**fields: Any) -> dict[str, Any]:
    return {"action": "email", **fields}


async def test_email_is_sent_through_the_configured_server(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, mailbox = smtp_server
    settings = ActionSettings(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_from="ci@example.org",
        smtp_user="ci",
        smtp_password=SecretStr("s3cret-pw"),
    )
    document = job(
        {"mail": [email(to="dev@example.org", message="%{job_name} built")]},
        ["mail"],
        secrets={"token": "tok-very-secret"},
    )
    status, notifier = await run(tmp_path, document, actions=settings)
    assert status is Status.SUCCEEDED, notifier.statuses[-1].reason
    ((envelope, mail),) = mailbox.received
    assert (envelope.mail_from, envelope.rcpt_tos) == ("ci@example.org", ["dev@example.org"])
    assert mail["Subject"] == "Cyclid notification"  # Cyclid's default
    text, html = (part.get_payload(decode=True).decode() for part in mail.get_payload())
    assert "test-job built" in text and "Job name: test-job" in text
    assert "dodgerblue" in html  # Cyclid's default colour
    # Unlike Cyclid's, the mail does not list the context with the decrypted secrets.
    assert "tok-very-secret" not in text + html
    assert "sending email to dev@example.org" in notifier.texts("system")


async def test_a_refused_login_fails_the_step_without_showing_the_password(
    tmp_path: Path, smtp_server: Any
) -> None:
    controller, mailbox = smtp_server
    settings = ActionSettings(
        smtp_host="127.0.0.1",
        smtp_port=controller.port,
        smtp_user="ci",
        smtp_password=SecretStr("wrong-password"),
    )
    document = job({"mail": [email(to="a@example.org", message="m", subject="s")]}, ["mail"])
    status, notifier = await run(tmp_path, document, actions=settings)
    assert status is Status.FAILED
    reason = notifier.statuses[-1].reason or ""
    assert f"127.0.0.1:{controller.port}" in reason
    assert mailbox.received == []
    everything = reason + "\n".join(notifier.texts("system")) + repr(settings)
    assert "wrong-password" not in everything


async def test_email_to_a_closed_port_fails_the_step(tmp_path: Path) -> None:
    settings = ActionSettings(smtp_host="127.0.0.1", smtp_port=_free_port())
    document = job({"mail": [email(to="a@example.org", message="m")]}, ["mail"])
    status, notifier = await run(tmp_path, document, actions=settings)
    assert status is Status.FAILED
    assert "cannot send the email" in (notifier.statuses[-1].reason or "")


# -- cobertura and simplecov ----------------------------------------------------------------


def cobertura_xml(line: str, branch: str | None) -> str:
    rate = f' branch-rate="{branch}"' if branch is not None else ""
    return (
        '<?xml version="1.0" ?>\n'
        '<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">\n'
        f'<coverage line-rate="{line}"{rate} version="4.5" timestamp="1">'
        "<sources><source>/src</source></sources><packages/></coverage>\n"
    )


@pytest.mark.parametrize(
    ("line", "branch", "expected"),
    [
        ("0.9", "0.75", ("90.0%", "75.0%")),  # Cyclid's spec
        ("1", "0", ("100.0%", "0.0%")),
        ("0.875", "0.860816", ("87.5%", "86.08%")),
        ("0.01005", "0.5", ("1.01%", "50.0%")),  # Ruby rounds 1.005 up
        ("0.9abc", "", ("90.0%", "0.0%")),  # Ruby's lenient to_f
    ],
)
async def test_cobertura_sets_the_rates_as_cyclid_formats_them(
    tmp_path: Path, line: str, branch: str, expected: tuple[str, str]
) -> None:
    report = tmp_path / "coverage.xml"
    report.write_text(cobertura_xml(line, branch))
    document = job(
        {
            "test": [
                sh(f"cp {report} reports.xml"),
                {"action": "cobertura", "path": "reports.xml"},  # in the workspace
                sh("echo 'line=%{cobertura_line_rate} branch=%{cobertura_branch_rate}'"),
            ]
        },
        ["test"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED, notifier.statuses[-1].reason
    assert f"line={expected[0]} branch={expected[1]}" in notifier.texts("stdout")
    assert (
        f"Cobertura coverage line rate is {expected[0]}, branch rate is {expected[1]}"
        in notifier.texts("system")
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (cobertura_xml("0.9", None), "no branch-rate attribute"),
        ('<?xml version="1.0"?><report/>', "no <coverage> element"),
        ("<coverage", "Failed to read Cobertura coverage report"),
    ],
)
async def test_a_bad_cobertura_report_fails_the_step(
    tmp_path: Path, content: str, problem: str
) -> None:
    report = tmp_path / "coverage.xml"
    report.write_text(content)
    document = job({"test": [{"action": "cobertura", "path": str(report)}]}, ["test"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert problem in (notifier.statuses[-1].reason or "")


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ({"metrics": {"covered_percent": 86.0816326530612}}, "86.08%"),  # Cyclid's spec
        ({"metrics": {"covered_percent": 100.0}}, "100.0%"),
        ({"metrics": {"covered_percent": 85}}, "85%"),  # an integer stays one
        ({"result": {"line": 91.25}}, "91.25%"),  # SimpleCov's .last_run.json
        ({"result": {"covered_percent": 70.004}}, "70.0%"),
    ],
)
async def test_simplecov_sets_the_coverage_as_cyclid_formats_it(
    tmp_path: Path, report: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps(report))
    document = job(
        {"test": [{"action": "simplecov", "path": str(path)}, sh("echo '%{simplecov_coverage}'")]},
        ["test"],
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.SUCCEEDED, notifier.statuses[-1].reason
    assert expected in notifier.texts("stdout")
    assert f"Simplecov coverage is {expected}" in notifier.texts("system")


@pytest.mark.parametrize("content", ["{}", "not json", '{"metrics": {"covered_percent": "9"}}'])
async def test_a_bad_simplecov_report_fails_the_step(tmp_path: Path, content: str) -> None:
    path = tmp_path / "coverage.json"
    path.write_text(content)
    document = job({"test": [{"action": "simplecov", "path": str(path)}]}, ["test"])
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert "Failed to read Simplecov coverage report" in (notifier.statuses[-1].reason or "")


@pytest.mark.parametrize(("covered", "status"), [(86.08, Status.SUCCEEDED), (84.5, Status.FAILED)])
async def test_the_coverage_idiom_gates_later_stages(
    tmp_path: Path, covered: float, status: Status
) -> None:
    """Cyclid's example-ruby-project: `fail_if: "%{simplecov_coverage} < 85%"` on the stage
    after the one that read the report, and `only_if` on a later one."""
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps({"metrics": {"covered_percent": covered}}))
    document = job(
        {
            "test": [{"action": "simplecov", "path": str(path)}],
            "gate": [log("gate")],
            "warn": [log("coverage is low: %{simplecov_coverage}")],
        },
        [
            "test",
            {"stage": "gate", "fail_if": "%{simplecov_coverage} < 85%"},
            {"stage": "warn", "only_if": "%{simplecov_coverage} < 90%"},
        ],
    )
    ended, notifier = await run(tmp_path, document)
    assert ended is status
    if status is Status.SUCCEEDED:
        assert "coverage is low: 86.08%" in notifier.texts("system")


async def test_the_idiom_without_the_report_compares_an_empty_operand_as_zero(
    tmp_path: Path,
) -> None:
    document = job(
        {"gate": [log("gate")]}, [{"stage": "gate", "fail_if": "%{simplecov_coverage} < 85%"}]
    )
    status, notifier = await run(tmp_path, document)
    assert status is Status.FAILED
    assert "fail_if '%{simplecov_coverage} < 85%' is true" in (notifier.statuses[-1].reason or "")


# -- Ruby's number formatting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90.0, "90.0"),
        (86.0816326530612, "86.08"),
        (1.005, "1.01"),  # Python's round gives 1.0
        (2.675, "2.68"),  # Python's round gives 2.67
        (0.125, "0.13"),
        (99.995, "100.0"),
        (0.0, "0.0"),
        (-1.005, "-1.01"),
        (33.333333, "33.33"),
    ],
)
def test_ruby_round_and_to_s(value: float, expected: str) -> None:
    assert to_s(round2(value)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.9", 0.9), ("", 0.0), ("abc", 0.0), ("0.9abc", 0.9), (" 1_000.5", 1000.5), ("-", 0.0)],
)
def test_ruby_to_f(text: str, expected: float) -> None:
    assert to_f(text) == expected
