"""jobstream's exceptions, under one root.

The tree, with where each error outside this module is defined (each package raises its
own, always under JobstreamError, so `except JobstreamError` catches every error jobstream
raises on purpose):

JobstreamError
├── DocumentError            a job document has errors (carries every problem)
├── MalformedEvent           bytes on a topic that are not a valid event
├── LogError                 the event log failed
│   └── NotAssigned          a consumer committed a partition it no longer owns
├── SecretError              a secret could not be encrypted or decrypted
├── BuilderUnavailable       the chosen builder cannot run steps here, or not this one
├── JobNotFound              no job id starts with the given prefix
├── AmbiguousJobId           more than one job id starts with the given prefix
├── JobNotEnded              a job that has not ended cannot be retried yet
├── ViewsBusy                another process holds the DuckDB views
├── ViewsOutdated            the DuckDB views were built by an older jobstream
├── UnresolvedStage          a job names a stage it does not define and none is stored
├── StageExists              a stored stage with that name and version is defined already
├── StageNotFound            no stored stage by that name (and version)
├── SettingsError            a setting cannot be used            (jobstream.settings)
├── ConditionError           a modifier is not one comparison    (jobstream.runners.conditions)
├── WorkspaceError           a workspace or source cannot be set up (jobstream.runners.workspace)
├── CallbackError            a callback failed                   (jobstream.callbacks.base)
│   ├── CallbackConfigError  its settings are missing or wrong
│   ├── CallbackNotFound     no callback by that name            (jobstream.callbacks.registry)
│   ├── GiveUp               a hook's failure that retrying cannot fix
│   └── DeliveryFailed       a receiver's answer worth retrying  (webhook, github)
├── TokenError               a token cannot be created or revoked (jobstream.api.tokens)
├── InvalidCursor            a list cursor no list handed out    (jobstream.service.base)
├── CannotListen             the API's address cannot be bound   (jobstream.api.server)
└── ApiRequestError          the API answered an error, or could not be reached
                                                                 (jobstream.service.remote)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmbiguousJobId",
    "BuilderUnavailable",
    "DocumentError",
    "JobNotEnded",
    "JobNotFound",
    "JobstreamError",
    "LogError",
    "MalformedEvent",
    "NotAssigned",
    "SecretError",
    "StageExists",
    "StageNotFound",
    "UnresolvedStage",
    "ViewsBusy",
    "ViewsOutdated",
]


class JobstreamError(Exception):
    """Root of every error jobstream raises on purpose."""


class DocumentError(JobstreamError):
    """A job document was rejected; `problems` lists every one found, with its path."""

    def __init__(self, problems: list[Any], source: str = "document") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class MalformedEvent(JobstreamError):
    """Bytes read from a topic that do not decode to a known event."""


class LogError(JobstreamError):
    """The event log could not do what was asked."""


class NotAssigned(LogError):
    """A consumer tried to commit a partition that is no longer assigned to it."""


class SecretError(JobstreamError):
    """A secret value could not be encrypted or decrypted with this installation's key."""


class BuilderUnavailable(JobstreamError):
    """The chosen builder cannot run steps on this machine (bwrap missing, no user
    namespaces), is not installed, or cannot do what a step asks (no network on host)."""


class ViewsBusy(JobstreamError):
    """The DuckDB views are held by another process (DuckDB allows one writer per file)."""

    def __init__(self, path: str, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"the views in {path} are held by {holder}; "
            "stop it, or ask it through its HTTP API (--server)"
        )


class ViewsOutdated(JobstreamError):
    """The views file lacks columns this jobstream writes (built by an older one)."""

    def __init__(self, path: str, missing: list[str]) -> None:
        self.path = path
        self.missing = missing
        super().__init__(
            f"views built by an older jobstream ({path} has no {', '.join(missing)}): "
            "rebuild them with `jobstream replay`"
        )


class JobNotFound(JobstreamError):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"no job id starts with {prefix!r}")


class JobNotEnded(JobstreamError):
    def __init__(self, job_id: str, status: str) -> None:
        self.job_id = job_id
        self.status = status
        super().__init__(
            f"job {job_id} has not ended (it is {status}): only an ended job is retried"
        )


class AmbiguousJobId(JobstreamError):
    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix = prefix
        self.matches = matches
        shown = ", ".join(matches[:5]) + (" ..." if len(matches) > 5 else "")
        super().__init__(f"job id prefix {prefix!r} matches {len(matches)} jobs: {shown}")


class UnresolvedStage(JobstreamError):
    """A submitted job names a stage that it does not define and that is not stored (with
    that version, when it asks for one). `path` is where the document names it."""

    def __init__(self, name: str, version: str | None, path: str) -> None:
        self.name = name
        self.version = version
        self.path = path
        wanted = f"stage {name!r}" + (f" version {version!r}" if version is not None else "")
        self.reason = (
            f"{wanted} is not defined in the job and is not a stored stage (`jobstream stage list`)"
        )
        super().__init__(f"{path}: {self.reason}")


class StageExists(JobstreamError):
    """Stored stages are immutable: a name and version can be defined once."""

    def __init__(self, name: str, version: str) -> None:
        self.name = name
        self.version = version
        super().__init__(f"a stage {name!r} with version {version!r} already exists")


class StageNotFound(JobstreamError):
    def __init__(self, name: str, version: str | None = None) -> None:
        self.name = name
        self.version = version
        which = f" with version {version!r}" if version is not None else ""
        super().__init__(f"no stored stage {name!r}{which}")
