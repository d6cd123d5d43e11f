"""Settings: one pydantic-settings class; flag > JOBSTREAM_<NAME> > settings file > default.

The settings file is TOML with the same names as keys (`--config`, `JOBSTREAM_CONFIG`, or
`jobstream.toml` in the current directory when it exists). Unknown keys are errors, so a
typo never silently falls back to a default, and a bad value is reported on one line that
names the key and where it came from.

An action or a callback declares its own keys as a pydantic model (`settings_model`).
Their values sit in a section named after the plugin: `[callbacks.webhook]` in the file,
`JOBSTREAM_CALLBACKS__WEBHOOK__URL` in the environment. The built-ins' flat names from
before sections (`webhook_url`, `smtp_host`, ...) still work: every source moves them into
their section before the sources are merged, so flag > environment > file holds whichever
spelling each one uses.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.sources.utils import parse_env_vars

from jobstream.events.errors import JobstreamError
from jobstream.events.names import Topics
from jobstream.runners.legacy_names import FLAT_NAMES

if TYPE_CHECKING:
    # Imported where used: every command reads the settings, and these load the actions
    # with the document language, and the builders (a query command needs neither).
    from jobstream.runners.actions.base import ActionSettings
    from jobstream.runners.workspace import Retention

__all__ = ["ENV_PREFIX", "LEGACY_KEYS", "Settings", "SettingsError", "default_key_file"]

ENV_PREFIX = "JOBSTREAM_"
DEFAULT_FILE = Path("jobstream.toml")
M = TypeVar("M", bound=BaseModel)
Kind = Literal["actions", "callbacks"]

# The built-in plugins' keys from before they had sections: flat name -> (kind, plugin, key).
LEGACY_KEYS: dict[str, tuple[Kind, str, str]] = {
    "webhook_url": ("callbacks", "webhook", "url"),
    "webhook_secret": ("callbacks", "webhook", "secret"),
    "webhook_timeout": ("callbacks", "webhook", "timeout"),
    "webhook_logs": ("callbacks", "webhook", "logs"),
    "github_token": ("callbacks", "github", "token"),
    "github_api": ("callbacks", "github", "api"),
    "public_url": ("callbacks", "github", "public_url"),
    **{old: ("actions", action, key) for old, (action, key) in FLAT_NAMES.items()},
}


class SettingsError(JobstreamError, ValueError):
    """A settings file, variable or flag has a value jobstream cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        # JOBSTREAM_TOKEN= (set but empty, as compose's ${VAR:-} gives) is a value; each
        # field's validator says what an empty one means.
        env_ignore_empty=False,
    )

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
    log_format: Literal["text", "json"] = Field(
        "text", description="logs of services: text, or one JSON object a line"
    )
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
        # The default is valid: parsing it would import the workspaces' module (and the
        # builders) into every command.
        validate_default=False,
    )
    # The HTTP API (jobstream.api), served by `project` and `serve`.
    host: str = Field("127.0.0.1", description="address the API listens on")
    port: int = Field(8080, ge=0, le=65535, description="API port; 0 picks a free one")
    auth: bool = Field(False, description="every API request needs a bearer token")
    max_body: int = Field(1 << 20, ge=1, description="largest accepted request body, in bytes")
    # NoDecode: the environment gives names separated by commas, not a JSON list.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
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

    # Jobs: the organisation (Cyclid's `%{organization}`).
    organization: str = Field(
        "default", min_length=1, description="organisation of submitted jobs (%{organization})"
    )
    # Plugins' own keys, one section per plugin: validated by the plugin's settings_model
    # when it is loaded (`section`), since only the plugin knows them.
    actions: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[actions.NAME]: the keys the action NAME declares"
    )
    callbacks: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="[callbacks.NAME]: the keys the callback NAME declares",
    )

    _origins: dict[tuple[str, ...], str] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        # The sources are made by settings_customise_sources; `load` names their inputs,
        # code that builds Settings(...) gets this process's environment and default file.
        inputs = _inputs.get() or _Inputs(_settings_file(None, os.environ), os.environ)
        token = _inputs.set(inputs)
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, inputs.origins())) from None
        finally:
            _inputs.reset(token)
        self._origins = inputs.origins()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init keywords) > JOBSTREAM_* > the settings file; no .env, no secrets
        directory: one file, named in one way, is enough to know where a value came from."""
        inputs = _inputs.get()
        assert inputs is not None, "Settings.__init__ sets the inputs"
        inputs.sources = [
            _Sectioned(settings_cls, init_settings, _flag_name),
            _Sectioned(settings_cls, _Environment(settings_cls, inputs.environ)),
            _Sectioned(settings_cls, _File(settings_cls, inputs.file)),
        ]
        return tuple(inputs.sources)

    @classmethod
    def names(cls) -> set[str]:
        """Every name a flag or key may have at the top level: the fields, and the
        built-ins' flat names from before sections."""
        return {*cls.model_fields, *LEGACY_KEYS}

    def section(self, kind: Kind, name: str, model: type[M] | None) -> M | BaseModel:
        """The keys plugin `name` declared (`model`; None: it declares none), from its
        section: a SettingsError names the bad key and where it came from."""
        values = getattr(self, kind).get(name, {})
        try:
            return (model or _NoSettings).model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_problems(exc, self._origins, (kind, name))) from None

    def action_settings(self) -> ActionSettings:
        """What the runner hands actions: each installed action's section, validated by its
        settings_model, so a bad key stops a worker at start rather than fail a job."""
        from jobstream.events.documents.actions import registered_actions
        from jobstream.runners.actions.base import ActionSettings

        installed = registered_actions()
        if unknown := sorted(self.actions.keys() - installed.keys()):
            where = _where(self._origins, ("actions", unknown[0]))
            raise SettingsError(f"invalid settings: actions.{unknown[0]}: no such action{where}")
        return ActionSettings(
            sections={
                name: self.section("actions", name, action.settings_model)
                for name, action in installed.items()
                if action.settings_model is not None or name in self.actions
            }
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
        from jobstream.runners.workspace import Retention

        Retention.parse(value)
        return value

    @property
    def retention(self) -> Retention:
        from jobstream.runners.workspace import Retention

        return Retention.parse(self.workspace_retention)

    @classmethod
    def load(
        cls,
        file: Path | None = None,
        flags: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from `flags` (None values left out), `environ` (default: this
        process's) and the settings file: `file`, else JOBSTREAM_CONFIG, else
        ./jobstream.toml when it exists."""
        environ = os.environ if environ is None else environ
        token = _inputs.set(_Inputs(_settings_file(file, environ), environ))
        try:
            return cls(**{k: v for k, v in (flags or {}).items() if v is not None})
        finally:
            _inputs.reset(token)

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
    def callbacks_path(self) -> Path:
        """The callbacks' store: their positions, deliveries and dead letters."""
        return self.data_dir / "callbacks.sqlite"

    @property
    def tokens_path(self) -> Path:
        return self.data_dir / "tokens.sqlite"


def default_key_file(environ: Mapping[str, str]) -> Path:
    """`$XDG_CONFIG_HOME/jobstream/secret.key` (`~/.config/...`): per user, not per data
    directory, so every process the user starts shares it wherever it runs, and no job's
    workspace is a few `..` away from it."""
    config = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "jobstream" / "secret.key"


class _NoSettings(BaseModel):
    """The section of a plugin that declares no settings: any key in it is unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class _Inputs:
    """What the sources of one Settings(...) read, and the sources once made."""

    file: Path | None
    environ: Mapping[str, str]
    sources: list[_Sectioned] = field(default_factory=list)

    def origins(self) -> dict[tuple[str, ...], str]:
        """Where each given key's value came from: the first source (by precedence)."""
        merged: dict[tuple[str, ...], str] = {}
        for source in self.sources:
            for key, where in source.origins.items():
                merged.setdefault(key, where)
        return merged


_inputs: contextvars.ContextVar[_Inputs | None] = contextvars.ContextVar(
    "jobstream_settings_inputs", default=None
)


class _Environment(EnvSettingsSource):
    """JOBSTREAM_* from a given mapping (a command's environment, or a test's), the flat
    names of LEGACY_KEYS included: they are not fields, so the base class skips them."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self.environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        for old in LEGACY_KEYS:
            if (value := self.env_vars.get(self.variable((old,)).lower())) is not None:
                values[old] = value
        return values

    def variable(self, key: tuple[str, ...]) -> str:
        """The variable a key came from: JOBSTREAM_CALLBACKS__WEBHOOK__URL, or the
        JOBSTREAM_CALLBACKS that held the whole section as JSON."""
        for end in range(len(key), 0, -1):
            name = ENV_PREFIX + "__".join(key[:end]).upper()
            if name.lower() in self.env_vars:
                return name
        # A section made of deeper variables: name the first that made it.
        below = ENV_PREFIX.lower() + "__".join(key).lower() + "__"
        return next((v.upper() for v in sorted(self.env_vars) if v.startswith(below)), below)


class _File(TomlConfigSettingsSource):
    """The settings file; one named but missing or unreadable is an error, not nothing."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        self.path = path
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        try:
            return super()._read_file(file_path)
        except OSError as exc:
            raise SettingsError(f"cannot read settings file {file_path}: {exc.strerror}") from None
        except ValueError as exc:  # tomllib.TOMLDecodeError
            raise SettingsError(f"{file_path}: {exc}") from None

    @classmethod
    def _existing_files(cls, paths: Any) -> list[Path]:
        # Named files are read whether or not they exist, so a mistyped --config fails.
        return [Path(paths).expanduser()] if paths is not None else []


class _Sectioned(PydanticBaseSettingsSource):
    """One source, with the flat names of LEGACY_KEYS moved into their sections (before
    the sources are merged, so precedence holds across spellings) and the origin of every
    key it gives recorded for messages."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        inner: PydanticBaseSettingsSource,
        name: Callable[[tuple[str, ...]], str] | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.inner = inner
        self.name = name or self._inner_name
        self.origins: dict[tuple[str, ...], str] = {}

    def _inner_name(self, key: tuple[str, ...]) -> str:
        if isinstance(self.inner, _Environment):
            return self.inner.variable(key)
        assert isinstance(self.inner, _File)
        return str(self.inner.path)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ gives every value at once

    def __call__(self) -> dict[str, Any]:
        values = dict(self.inner())
        for old, (kind, plugin, key) in LEGACY_KEYS.items():
            if old not in values:
                continue
            value = values.pop(old)
            sections = values.setdefault(kind, {})
            if not isinstance(sections, dict):
                continue  # a wrong type: its own error names it
            section = sections[plugin] = dict(sections.get(plugin) or {})
            if key not in section:  # the sectioned spelling wins within one source
                section[key] = value
                for level in ((kind,), (kind, plugin), (kind, plugin, key)):
                    self.origins.setdefault(level, self.name((old,)))
        for key in _keys(values):
            self.origins.setdefault(key, self.name(key))
        return values


def _keys(values: Mapping[str, Any], parent: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, value in values.items():
        key = (*parent, str(name))
        yield key
        if isinstance(value, Mapping):
            yield from _keys(value, key)


def _flag_name(key: tuple[str, ...]) -> str:
    return "--" + key[0].replace("_", "-")


def _settings_file(file: Path | None, environ: Mapping[str, str]) -> Path | None:
    file = file or (Path(v) if (v := environ.get(f"{ENV_PREFIX}CONFIG")) else None)
    if file is None and DEFAULT_FILE.is_file():
        return DEFAULT_FILE
    return file


def _where(origins: Mapping[tuple[str, ...], str], key: tuple[str, ...]) -> str:
    for end in range(len(key), 0, -1):
        if (where := origins.get(key[:end])) is not None:
            return f" (from {where})"
    return ""


def _problems(
    exc: ValidationError, origins: Mapping[tuple[str, ...], str], prefix: tuple[str, ...] = ()
) -> str:
    """One line: each bad key, what is wrong with it, and where its value came from."""
    problems = []
    for error in exc.errors():
        key = (*prefix, *map(str, error["loc"]))
        message = "unknown setting" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{'.'.join(key)}: {message}{_where(origins, key)}")
    return "invalid settings: " + "; ".join(problems)
