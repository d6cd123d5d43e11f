"""A job's working directory and its git sources.

Each job gets `<root>/<job_id>`. It is left in place when the job ends, so a failed job
can be inspected; an earlier attempt's directory for the same job id is removed first, so
a retried job starts from an empty one.

A git source is cloned into the workspace (into a directory named after the repository,
as `git clone URL` would) and then checked out at `branch` when one is given. A source
token is put into an https URL as its user name (`https://TOKEN@host/...`, which GitHub
and Gitea accept); the token, raw and URL-encoded, must be masked by the caller, since
git may echo the URL.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from jobstream.events.errors import JobstreamError

__all__ = ["GIT_ENV", "GitSource", "WorkspaceError", "job_workspace", "token_forms"]

# Never let git wait for a password on a terminal nobody is looking at.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0"}


class WorkspaceError(JobstreamError):
    """The workspace or a source cannot be set up; the job fails before any stage."""


def job_workspace(root: Path, job_id: str) -> Path:
    """`<root>/<job_id>`, created empty."""
    if job_id in ("", ".", "..") or any(c in job_id for c in "/\\\0"):
        raise WorkspaceError(f"job id {job_id!r} cannot name a workspace directory")
    path = root / job_id
    try:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    except OSError as error:
        raise WorkspaceError(f"cannot create workspace {path}: {error.strerror}") from None
    return path


def token_forms(token: str) -> list[str]:
    """The values to mask for a source token: as given and as it appears in a URL."""
    return [token, quote(token, safe="")]


@dataclass(frozen=True, slots=True)
class GitSource:
    """A git source with its URL and branch interpolated and its token decrypted."""

    url: str
    branch: str | None = None
    token: str | None = None

    @property
    def fetch_url(self) -> str:
        """The URL to clone from, with the token as credentials for https."""
        parts = urlsplit(self.url)
        if not self.token or parts.scheme != "https" or not parts.hostname:
            return self.url
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        netloc = f"{quote(self.token, safe='')}@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def directory(self, workspace: Path) -> Path:
        """Where the clone goes: the repository's name, as `git clone URL` would pick."""
        name = self.url.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
        name = name.removesuffix(".git")
        if name in ("", ".", ".."):
            raise WorkspaceError(f"cannot name a directory after source {self.url!r}")
        return workspace / name

    def commands(self, workspace: Path) -> list[list[str]]:
        """The git commands that fetch this source, to run in `workspace`."""
        target = str(self.directory(workspace))
        commands = [["git", "clone", "--", self.fetch_url, target]]
        if self.branch:
            if self.branch.startswith("-"):
                raise WorkspaceError(f"branch {self.branch!r} looks like an option")
            commands.append(["git", "-C", target, "checkout", self.branch])
        return commands
