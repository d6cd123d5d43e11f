"""Settings: one pydantic class; flag > environment (JOBSTREAM_<NAME>) > settings file > default.

The settings file is TOML with the same names as keys (`--config`, `JOBSTREAM_CONFIG`, or
`jobstream.toml` in the current directory when it exists). Unknown keys are errors, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from jobstream.events.errors import JobstreamError
from jobstream.events.names import Topics
from jobstream.runners.workspace import Retention

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "default_key_file"]

ENV_PREFIX = "JOBSTREAM_"
DEFAULT_FILE = Path("jobstream.toml")


class SettingsError(JobstreamError, ValueError):
    """A settings file, variable or flag has a value jobstream cannot use."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = Field(
        Path(".jobstream"),
        description="workspaces, the embedded log, the DuckDB views",
        validate_default=True,  # the default is relative too
    )
    broker: str | None = Field(
        None, description="unset: the embedded log; kafka://HOST:PORT[,...]: Kafka"
    )
    server: str | None = Field(None, description="URL of a running jobstream API")
    topic_prefix: str = Field("", description="put in front of the topic names")
    partitions: int = Field(4, ge=1, description="partitions of topics created by jobstream")
    concurrency: int = Field(4, ge=1, description="jobs a worker runs at once")
    lease: float = Field(30.0, gt=0, description="seconds a silent runner keeps its job")
    kill_grace: float = Field(
        5.0, ge=0, description="seconds between SIGTERM and SIGKILL on cancel or timeout"
    )
    log_level: str = Field("WARNING", description="Python logging level of services")
    kafka_session_timeout: float = Field(
        10.0, ge=1, description="seconds a silent Kafka group member keeps its partitions"
    )
    # Callbacks (callbacks/): the host's retries, and the built-in callbacks' options.
    callback_attempts: int = Field(
        8, ge=1, description="calls of a failing callback hook before the event is dead-lettered"
    )
    callback_backoff: float = Field(
        0.5, ge=0, description="seconds before a hook's first retry; doubled for each next one"
    )
    callback_max_backoff: float = Field(60.0, ge=0, description="longest wait between retries")
    callback_timeout: float = Field(
        30.0, gt=0, description="seconds a hook call may take before it counts as failed"
    )
    callback_hold: float = Field(
        5.0, ge=0, description="seconds an event may wait for its job's JobSubmitted"
    )
    webhook_url: str | None = Field(None, description="where the webhook callback POSTs")
    webhook_secret: str | None = Field(
        None, description="HMAC-SHA256 key of the webhook's X-Jobstream-Signature-256 header"
    )
    webhook_timeout: float = Field(10.0, gt=0, description="seconds per webhook request")
    webhook_logs: bool = Field(False, description="the webhook also POSTs each log chunk")
    github_token: str | None = Field(None, description="token of the github callback")
    github_api: str = Field(
        "https://api.github.com",
        description="GitHub API base URL (GitHub Enterprise Server: https://HOST/api/v3)",
    )
    public_url: str | None = Field(
        None, description="base URL of jobstream's web pages, linked from commit statuses"
    )
    # Where jobs run (runners/builders/, docs/sandbox.md).
    builder: str = Field(
        "sandbox",
        description="what runs a job's steps: sandbox (bubblewrap), host (unconfined), a plugin",
    )
    job_network: bool = Field(
        True, description="false: no job has a network (sandbox builder), whatever it asks"
    )
    workspace_retention: str = Field(
        "none",
        description="finished jobs' workspaces kept: none, last:N (the N newest), or a "
        "duration such as 90s, 30m, 1h, 7d",
    )
    # The HTTP API (jobstream.api), served by `project` and `serve`.
    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8080, ge=0, le=65535, description="API port; 0 picks a free one")
    auth: bool = Field(False, description="every API request needs a bearer token")
    max_body: int = Field(1 << 20, ge=1, description="largest accepted request body, in bytes")
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "[::1]"],
        description="Host header names the API answers (comma-separated; the address it "
        "listens on is added; * for any): other names are refused against DNS rebinding",
    )
    header_timeout: float = Field(
        10.0, gt=0, description="seconds a client may take to send a request's headers"
    )
    body_timeout: float = Field(
        30.0, gt=0, description="seconds a client may take to send a request's body"
    )
    token: str | None = Field(
        None, description="bearer token the command line sends to the API (--server)"
    )
    # Secrets (docs/secrets.md): one keyring shared by every process of an installation.
    secret_key_file: Path = Field(
        default_factory=lambda: default_key_file(os.environ),
        description="the keyring file; default outside every data directory, in the "
        "user's configuration directory",
    )
    secret_key: SecretStr | None = Field(
        None, description="the keyring itself (keys separated by commas); replaces the file"
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: Any) -> Any:
        # From the environment or a flag: one text, names separated by commas.
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("secret_key")
    @classmethod
    def _no_empty_key(cls, value: SecretStr | None) -> SecretStr | None:
        # `JOBSTREAM_SECRET_KEY=` (set but empty, as compose's `${VAR:-}` gives) means unset.
        return value if value and value.get_secret_value().strip() else None

    # Jobs: the organisation (Cyclid's `%{organization}`), and what actions use.
    organization: str = Field(
        "default", min_length=1, description="organisation of submitted jobs (%{organization})"
    )
    slack_webhook_url: str | None = Field(
        None, description="webhook of `slack` steps that give no url"
    )
    smtp_host: str = Field("localhost", description="SMTP server of `email` steps")
    smtp_port: int = Field(587, ge=1, le=65535, description="its port")
    smtp_from: str = Field("jobstream@localhost", description="sender of `email` steps")
    smtp_user: str | None = Field(None, description="SMTP user name (log in when set)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_starttls: bool | None = Field(
        None, description="STARTTLS: unset = when the server offers it; true = required"
    )

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        # Resolved once, here: steps run with their workspace as the current directory, so a
        # relative path (the default `.jobstream`) would name a different place for each.
        return value.expanduser().absolute()

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value and not value.startswith("kafka://"):
            raise ValueError("must look like kafka://HOST:PORT[,HOST:PORT]")
        return value or None

    @field_validator("workspace_retention")
    @classmethod
    def _retention(cls, value: str) -> str:
        Retention.parse(value)
        return value

    @property
    def retention(self) -> Retention:
        return Retention.parse(self.workspace_retention)

    @classmethod
    def load(
        cls,
        file: Path | None = None,
        flags: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        file = file or _env_path(environ.get(f"{ENV_PREFIX}CONFIG"))
        if file is None and DEFAULT_FILE.is_file():
            file = DEFAULT_FILE
        if file is not None:
            values.update(_read_file(file))
        for name in cls.model_fields:
            if (value := environ.get(ENV_PREFIX + name.upper())) is not None:
                values[name] = value
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise SettingsError(
                f"invalid settings ({file or 'environment/flags'}): {problems}"
            ) from None

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log.sqlite"

    @property
    def views_path(self) -> Path:
        return self.data_dir / "views.duckdb"

    @property
    def workspaces(self) -> Path:
        return self.data_dir / "workspaces"

    @property
    def key_files(self) -> tuple[Path, ...]:
        """Every file that may hold secret keys: what a sandbox must keep from jobs."""
        return (self.secret_key_file, self.legacy_key_path)

    @property
    def legacy_key_path(self) -> Path:
        """Where versions before the keyring kept the key: inside the data directory,
        within reach of the jobs; still read, with a warning."""
        return self.data_dir / "secret.key"

    @property
    def health_dir(self) -> Path:
        return self.data_dir / "workers"

    @property
    def tokens_path(self) -> Path:
        return self.data_dir / "tokens.sqlite"


def default_key_file(environ: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/jobstream/secret.key` (`~/.config/...`): per user, not per data
    directory, so every process the user starts shares it wherever it runs, and no job's
    workspace is a few `..` away from it."""
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "jobstream" / "secret.key"


def _env_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
