"""A job's working directory and its git sources.

Each job gets `<root>/<job_id>`, owner-only. When the job ends the worker removes it,
or keeps it as long as the `Retention` says (`clean_workspaces`); an earlier attempt's
directory for the same job id is removed first, so a retried job starts from an empty one.

A git source is cloned into the workspace (into a directory named after the repository,
as `git clone URL` would) and then checked out at `branch` when one is given. A source
token reaches git only through the environment variable `TOKEN_VARIABLE`, read by a
credential helper given with `-c` for the clone alone: it is never in the URL, on a
command line or in `.git/config` (a `-c` setting is not saved into the clone). Git
answers the server's challenge with `TOKEN:x-oauth-basic`, the form GitHub and Gitea
both accept. Other helpers (a user's `credential.helper=store`) are switched off for the
clone, so the token is not saved anywhere either. The caller masks the token, raw and
URL-encoded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jobstream.events.errors import JobstreamError
from jobstream.runners.builders.base import SCRIPT_DIR

__all__ = [
    "GIT_ENV",
    "TOKEN_VARIABLE",
    "GitSource",
    "Retention",
    "WorkspaceError",
    "clean_workspaces",
    "job_lock",
    "job_workspace",
    "job_workspace_name",
    "sweep_scripts",
    "token_forms",
]

# Never let git wait for a password on a terminal nobody is looking at.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0"}

# The variable holding a source's token while its clone runs.
TOKEN_VARIABLE = "GIT_SOURCE_TOKEN"

# Answers only `get` (not `store`/`erase`), from the environment at the time of the call.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get && '
    f"printf 'username=%s\\npassword=x-oauth-basic\\n' \"${TOKEN_VARIABLE}\"; }}; f"
)


class WorkspaceError(JobstreamError):
    """The workspace or a source cannot be set up; the job fails before any stage."""


def job_workspace(root: Path, job_id: str) -> Path:
    """`<root>/<job_id>`, created empty."""
    path = root / job_workspace_name(job_id)
    try:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, mode=0o700)
    except OSError as error:
        raise WorkspaceError(f"cannot create workspace {path}: {error.strerror}") from None
    return path


def job_workspace_name(job_id: str) -> str:
    """`job_id`, if it can name a directory under the root without leaving it."""
    if job_id in ("", ".", "..") or any(c in job_id for c in "/\\\0"):
        raise WorkspaceError(f"job id {job_id!r} cannot name a workspace directory")
    return job_id


def token_forms(token: str) -> list[str]:
    """The values to mask for a source token: as given and as it appears in a URL."""
    return [token, quote(token, safe="")]


@dataclass(frozen=True, slots=True)
class GitSource:
    """A git source with its URL and branch interpolated and its token decrypted."""

    url: str
    branch: str | None = None
    token: str | None = None

    def directory(self, workspace: Path) -> Path:
        """Where the clone goes: the repository's name, as `git clone URL` would pick."""
        name = self.url.rstrip("/").replace(":", "/").rsplit("/", 1)[-1]
        name = name.removesuffix(".git")
        if name in ("", ".", ".."):
            raise WorkspaceError(f"cannot name a directory after source {self.url!r}")
        return workspace / name

    def commands(self, workspace: Path) -> list[list[str]]:
        """The git commands that fetch this source, to run in `workspace` with the token
        (if any) in `TOKEN_VARIABLE`."""
        target = str(self.directory(workspace))
        helper = ["-c", "credential.helper=", "-c", f"credential.helper={_CREDENTIAL_HELPER}"]
        commands = [["git", *(helper if self.token else []), "clone", "--", self.url, target]]
        if self.branch:
            if self.branch.startswith("-"):
                raise WorkspaceError(f"branch {self.branch!r} looks like an option")
            commands.append(["git", "-C", target, "checkout", self.branch])
        return commands


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Retention:
    """Which finished jobs' workspaces are kept: none (the default), the `last` N newest,
    or those finished less than `seconds` ago. Workspaces hold interpolated text and
    checked-out sources, so keeping them is the exception."""

    last: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str) -> Retention:
        """`none`, `last:N` or a duration (`90s`, `30m`, `1h`, `7d`; a bare number: s)."""
        value = text.strip().lower()
        if value == "none":
            return cls()
        if value.startswith("last:"):
            count = value.removeprefix("last:")
            if count.isdigit():
                return cls(last=int(count))
        else:
            number, unit = (value[:-1], value[-1]) if value[-1:] in _UNITS else (value, "s")
            try:
                seconds = float(number) * _UNITS[unit]
            except ValueError:
                pass
            else:
                if seconds >= 0:
                    return cls(seconds=seconds)
        raise ValueError(f"{text!r}: must be none, last:N, or a duration like 90s, 30m, 1h, 7d")

    def expired(self, finished: list[Path], now: float) -> list[Path]:
        """Which of the finished workspaces to remove."""
        if self.last is not None:
            newest = sorted(finished, key=_mtime, reverse=True)
            return newest[self.last :]
        if self.seconds is not None:
            return [path for path in finished if now - _mtime(path) >= self.seconds]
        return list(finished)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def clean_workspaces(root: Path, retention: Retention, *, now: float | None = None) -> list[Path]:
    """Remove the workspaces under `root` that `retention` does not keep, skipping those
    a job runs in (any process's `job_lock`); the paths removed. A workspace's age is
    that of its directory, which the runner touches when the job ends."""
    if not root.is_dir():
        return []
    finished = [p for p in root.iterdir() if p.is_dir() and not _in_use(root, p.name)]
    removed = []
    for path in retention.expired(finished, time.time() if now is None else now):
        if not _in_use(root, path.name):
            shutil.rmtree(path, ignore_errors=True)
            _lock_path(root, path.name).unlink(missing_ok=True)
            removed.append(path)
    return removed


def _lock_path(root: Path, job_id: str) -> Path:
    return root / f"{job_id}.lock"


@contextlib.contextmanager
def job_lock(root: Path, job_id: str) -> Iterator[None]:
    """Mark the workspace of `job_id` in use while the job runs, for every process on this
    data directory: `clean_workspaces` and `sweep_scripts` leave a locked one alone."""
    try:
        job_workspace_name(job_id)
    except WorkspaceError:
        yield  # the job fails on its workspace; there is nothing to protect
        return
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(_lock_path(root, job_id), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _in_use(root: Path, name: str) -> bool:
    try:
        fd = os.open(_lock_path(root, name), os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def sweep_scripts(root: Path) -> list[Path]:
    """Delete `<workspace>/.jobstream/script-*` left by a worker killed mid-step (they may
    hold interpolated secrets), in every workspace no job is running in."""
    removed = []
    for path in root.glob(f"*/{SCRIPT_DIR}/script-*"):
        if not _in_use(root, path.parent.parent.name):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed
