"""Settings: flag > JOBSTREAM_* > settings file > default, for jobstream's own keys and for
the keys a plugin declares in its section; every bad value is one line naming the key and
where its value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.callbacks.webhook import WebhookSettings
from jobstream.cli.exit_codes import ExitCode
from jobstream.runners.actions.email import EmailSettings
from jobstream.runners.actions.slack import SlackSettings
from jobstream.settings import Settings, SettingsError

from ..callbacks.callbacks_support import free_port, serving
from ..polling import eventually
from .cli_support import EXAMPLES, Cli


def toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_flag_beats_the_environment_which_beats_the_file(tmp_path: Path) -> None:
    file = toml(tmp_path / "s.toml", "lease = 7\nconcurrency = 3\npartitions = 9\n")
    environ = {"JOBSTREAM_LEASE": "8", "JOBSTREAM_CONCURRENCY": "5"}
    settings = Settings.load(file, flags={"lease": 9.5, "kill_grace": None}, environ=environ)
    assert settings.lease == 9.5  # flag over environment and file
    assert settings.concurrency == 5  # environment over file
    assert settings.partitions == 9  # file over default
    assert settings.kill_grace == 5.0  # a flag left unset (None) is no value: the default


def test_allowed_hosts_come_from_the_environment_separated_by_commas(tmp_path: Path) -> None:
    # As docker-compose.yml gives them to the projector.
    environ = {"JOBSTREAM_ALLOWED_HOSTS": "projector, localhost,127.0.0.1,[::1]"}
    settings = Settings.load(None, flags={}, environ=environ)
    assert settings.allowed_hosts == ["projector", "localhost", "127.0.0.1", "[::1]"]
    in_file = toml(tmp_path / "s.toml", 'allowed_hosts = ["ci.example.org"]\n')
    assert Settings.load(in_file, flags={}, environ={}).allowed_hosts == ["ci.example.org"]


def test_the_file_is_named_by_flag_environment_or_found_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = toml(tmp_path / "named.toml", "lease = 11\n")
    toml(tmp_path / "jobstream.toml", "lease = 12\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.load(environ={}).lease == 12
    assert Settings.load(environ={"JOBSTREAM_CONFIG": str(named)}).lease == 11
    other = toml(tmp_path / "other.toml", "lease = 13\n")
    assert Settings.load(other, environ={"JOBSTREAM_CONFIG": str(named)}).lease == 13


def test_a_plugins_section_follows_the_same_precedence_under_both_spellings(
    tmp_path: Path,
) -> None:
    file = toml(
        tmp_path / "s.toml",
        '[callbacks.webhook]\nurl = "http://file"\ntimeout = 3\nlogs = true\n'
        '[actions.email]\nhost = "smtp.file"\nport = 2525\n',
    )
    environ = {
        "JOBSTREAM_CALLBACKS__WEBHOOK__TIMEOUT": "4",
        "JOBSTREAM_SMTP_HOST": "smtp.env",  # the flat name from before sections
    }
    settings = Settings.load(file, flags={"webhook_url": "http://flag"}, environ=environ)
    webhook = settings.section("callbacks", "webhook", WebhookSettings)
    assert isinstance(webhook, WebhookSettings)
    # The old flag name beats the file's sectioned key; the environment beats the file.
    assert (webhook.url, webhook.timeout, webhook.logs) == ("http://flag", 4.0, True)
    email = settings.action_settings().section("email", EmailSettings)
    assert (email.host, email.port) == ("smtp.env", 2525)
    slack = settings.action_settings().section("slack", SlackSettings)
    assert slack.webhook_url is None  # declared, not given: the model's default


def test_a_secret_in_a_section_stays_out_of_reprs(tmp_path: Path) -> None:
    settings = Settings.load(environ={"JOBSTREAM_SMTP_PASSWORD": "pw-in-the-env-1"})
    email = settings.action_settings().section("email", EmailSettings)
    assert email.password is not None
    assert email.password.get_secret_value() == "pw-in-the-env-1"
    assert "pw-in-the-env-1" not in repr(settings.action_settings())


NUMBER = "Input should be a valid number, unable to parse string as a number"


@pytest.mark.parametrize(
    ("file", "flags", "environ", "problem", "source"),
    [
        (
            None,
            {},
            {"JOBSTREAM_LEASE": "-1"},
            "lease: Input should be greater than 0",
            "JOBSTREAM_LEASE",
        ),
        ("lease = 'soon'\n", {}, {}, f"lease: {NUMBER}", "{file}"),
        (None, {"port": 70000}, {}, "port: Input should be less than or equal to 65535", "--port"),
        ("leese = 3\n", {}, {}, "leese: unknown setting", "{file}"),
        (
            None,
            {},
            {"JOBSTREAM_BROKER": "x:9092"},
            "broker: Value error, must look like kafka://HOST:PORT[,HOST:PORT]",
            "JOBSTREAM_BROKER",
        ),
        (
            None,
            {},
            {"JOBSTREAM_CALLBACKS": "[1]"},
            "callbacks: Input should be a valid dictionary",
            "JOBSTREAM_CALLBACKS",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key_and_its_source(
    tmp_path: Path, file: str | None, flags: dict, environ: dict, problem: str, source: str
) -> None:
    path = toml(tmp_path / "s.toml", file) if file is not None else None
    with pytest.raises(SettingsError) as raised:
        Settings.load(path, flags=flags, environ=environ)
    assert str(raised.value) == f"invalid settings: {problem} (from {source.format(file=path)})"


def test_a_settings_file_that_is_not_toml_is_named_with_the_line(tmp_path: Path) -> None:
    path = toml(tmp_path / "s.toml", "lease = \n")
    with pytest.raises(SettingsError) as raised:
        Settings.load(path, environ={})
    assert str(raised.value) == f"{path}: Invalid value (at line 1, column 9)"


@pytest.mark.parametrize(
    ("file", "environ", "problem", "source"),
    [
        (
            None,
            {"JOBSTREAM_CALLBACKS__WEBHOOK__TIMEOUT": "abc"},
            f"timeout: {NUMBER}",
            "JOBSTREAM_CALLBACKS__WEBHOOK__TIMEOUT",
        ),
        (
            None,
            {"JOBSTREAM_WEBHOOK_TIMEOUT": "0"},
            "timeout: Input should be greater than 0",
            "JOBSTREAM_WEBHOOK_TIMEOUT",
        ),
        (
            "[callbacks.webhook]\nurl = 'http://x'\nretries = 3\n",
            {},
            "retries: unknown setting",
            "{file}",
        ),
    ],
)
def test_a_bad_value_in_a_section_names_its_dotted_key_and_source(
    tmp_path: Path, file: str | None, environ: dict, problem: str, source: str
) -> None:
    path = toml(tmp_path / "s.toml", file) if file is not None else None
    settings = Settings.load(path, environ=environ)  # sections are the plugins' to judge
    with pytest.raises(SettingsError) as raised:
        settings.section("callbacks", "webhook", WebhookSettings)
    where = source.format(file=path)
    assert str(raised.value) == f"invalid settings: callbacks.webhook.{problem} (from {where})"


def test_a_missing_settings_file_or_an_action_that_is_not_installed_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match=r"^cannot read settings file .*nope\.toml: No such"):
        Settings.load(tmp_path / "nope.toml", environ={})
    settings = Settings.load(environ={"JOBSTREAM_ACTIONS__TELEPORT__RANGE": "9"})
    with pytest.raises(SettingsError) as raised:
        settings.action_settings()
    assert str(raised.value) == (
        "invalid settings: actions.teleport: no such action "
        "(from JOBSTREAM_ACTIONS__TELEPORT__RANGE)"
    )


# -- through the command line: a plugin callback and a built-in action declaring keys ------

GREET = """
from pydantic import BaseModel, ConfigDict

from jobstream.callbacks import Callback


class GreetSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str
    times: int = 1


class Greet(Callback):
    settings_model = GreetSettings

    def __init__(self, greeting: str, times: int) -> None:
        self.line = " ".join([greeting] * times)

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["greeting"], settings["times"])

    async def start(self) -> None:
        print(self.line, flush=True)
"""


def test_a_callback_declares_its_keys_and_reads_them_from_its_section(cli: Cli) -> None:
    home = cli.data_dir.parent
    (home / "greet.py").write_text(GREET)
    toml(home / "jobstream.toml", '[callbacks."greet.Greet"]\ngreeting = "hello"\ntimes = 2\n')
    proc = cli.start("callbacks", "run", "greet:Greet")
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "hello hello"
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    toml(home / "jobstream.toml", '[callbacks."greet.Greet"]\ngreeting = "hi"\ntimes = "twice"\n')
    result = cli("callbacks", "run", "greet:Greet")
    assert result.returncode == ExitCode.USAGE
    line = result.stderr.strip().splitlines()[-1]
    assert line.endswith(
        "invalid settings: callbacks.greet.Greet.times: Input should be a valid integer, "
        f"unable to parse string as an integer (from {Path('jobstream.toml')})"
    ), line
    assert "Traceback" not in result.stderr


def test_the_slack_action_posts_to_the_webhook_of_its_section(cli: Cli) -> None:
    document = cli.data_dir.parent / "notify.yml"
    document.write_text(
        "name: notify\nsequence: [{stage: tell}]\nstages:\n  - name: tell\n    steps:\n"
        "      - {action: slack, subject: built}\n"
    )
    with serving(lambda request: (200, {})) as receiver:
        cli.env["JOBSTREAM_ACTIONS__SLACK__WEBHOOK_URL"] = f"{receiver.url}/slack"
        result = cli("run", str(document))
        assert result.returncode == 0, result.stdout + result.stderr
        ((request),) = receiver.requests
    assert request.path == "/slack" and request.json()["text"] == "built"

    cli.env["JOBSTREAM_ACTIONS__SLACK__CHANNEL"] = "#ci"
    refused = cli("run", str(document))
    assert refused.returncode == ExitCode.USAGE, refused.stdout + refused.stderr
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .endswith("actions.slack.channel: unknown setting (from JOBSTREAM_ACTIONS__SLACK__CHANNEL)")
    )


def test_the_webhook_takes_its_url_from_the_old_flag_or_says_where_to_give_one(cli: Cli) -> None:
    missing = cli("callbacks", "run", "webhook")
    assert missing.returncode == ExitCode.USAGE
    assert "[callbacks.webhook] url" in missing.stderr.strip().splitlines()[-1]

    ran = cli("run", str(EXAMPLES / "minimal.yml"))
    assert ran.returncode == 0, ran.stderr
    # The file's sectioned url leads nowhere: only the flag's, under its old name, delivers.
    nowhere = f"http://127.0.0.1:{free_port()}/file"
    toml(cli.data_dir.parent / "jobstream.toml", f'[callbacks.webhook]\nurl = "{nowhere}"\n')
    with serving(lambda request: (200, {})) as receiver:
        cli.start("callbacks", "run", "webhook", "--from=earliest", f"--webhook-url={receiver.url}")
        eventually(lambda: any(r.json()["hook"] == "completion" for r in receiver.requests), 60)
