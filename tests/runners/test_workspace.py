import os
import time
from pathlib import Path

import pytest

from jobstream.runners.builders.base import SCRIPT_DIR
from jobstream.runners.workspace import (
    GitSource,
    Retention,
    WorkspaceError,
    clean_workspaces,
    job_lock,
    job_workspace,
    sweep_scripts,
    token_forms,
)


def test_workspace_is_created_under_the_root(tmp_path: Path) -> None:
    path = job_workspace(tmp_path / "root", "job-1")
    assert path == tmp_path / "root" / "job-1"
    assert path.is_dir()


def test_an_earlier_attempt_is_cleared(tmp_path: Path) -> None:
    path = job_workspace(tmp_path, "job-1")
    (path / "left-over").write_text("x")
    assert list(job_workspace(tmp_path, "job-1").iterdir()) == []


@pytest.mark.parametrize("job_id", ["", ".", "..", "a/b", "../x", "a\\b"])
def test_job_ids_that_escape_the_root_are_refused(tmp_path: Path, job_id: str) -> None:
    with pytest.raises(WorkspaceError):
        job_workspace(tmp_path, job_id)


def test_a_token_is_never_in_the_clone_command() -> None:
    source = GitSource("https://example.com:8443/org/repo.git", token="t/k n")
    (clone,) = source.commands(Path("/ws"))
    assert clone[-3:] == ["--", "https://example.com:8443/org/repo.git", "/ws/repo"]
    assert not any("t/k n" in arg or "t%2Fk%20n" in arg for arg in clone)
    assert "credential.helper=" in clone  # a user's own helpers cannot store it
    assert token_forms("t/k n") == ["t/k n", "t%2Fk%20n"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/org/repo.git", "repo"),
        ("https://example.com/org/repo/", "repo"),
        ("git@example.com:org/thing.git", "thing"),
        ("/tmp/x/local", "local"),
    ],
)
def test_clone_directory_is_named_after_the_repository(url: str, name: str) -> None:
    assert GitSource(url).directory(Path("/ws")) == Path("/ws") / name


def test_commands_clone_then_check_out_the_branch() -> None:
    ws = Path("/ws")
    assert GitSource("/r/repo", branch="dev").commands(ws) == [
        ["git", "clone", "--", "/r/repo", "/ws/repo"],
        ["git", "-C", "/ws/repo", "checkout", "dev"],
    ]
    assert len(GitSource("/r/repo").commands(ws)) == 1


def test_option_like_branch_is_refused() -> None:
    with pytest.raises(WorkspaceError, match="option"):
        GitSource("/r/repo", branch="--upload-pack=x").commands(Path("/ws"))


@pytest.mark.parametrize(
    ("text", "retention"),
    [
        ("none", Retention()),
        ("last:3", Retention(last=3)),
        ("90s", Retention(seconds=90)),
        ("30m", Retention(seconds=1800)),
        ("1h", Retention(seconds=3600)),
        ("7d", Retention(seconds=7 * 86400)),
        ("15", Retention(seconds=15)),
    ],
)
def test_retention_is_parsed(text: str, retention: Retention) -> None:
    assert Retention.parse(text) == retention


@pytest.mark.parametrize("text", ["", "last:", "last:x", "1w", "-1h", "some"])
def test_a_bad_retention_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="none, last:N"):
        Retention.parse(text)


def _workspaces(root: Path, ages: dict[str, float], now: float) -> None:
    for name, age in ages.items():
        (root / name).mkdir(parents=True)
        os.utime(root / name, (now - age, now - age))


@pytest.mark.parametrize(
    ("retention", "kept"),
    [
        (Retention(), []),
        (Retention(last=2), ["a", "b"]),
        (Retention(seconds=150), ["a", "b"]),
    ],
)
def test_clean_keeps_what_the_retention_says(
    tmp_path: Path, retention: Retention, kept: list[str]
) -> None:
    now = time.time()
    _workspaces(tmp_path, {"a": 10, "b": 100, "c": 200, "d": 300}, now)
    clean_workspaces(tmp_path, retention, now=now)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == kept


def test_a_running_jobs_workspace_and_scripts_are_left_alone(tmp_path: Path) -> None:
    for name in ("running", "crashed"):
        (tmp_path / name / SCRIPT_DIR).mkdir(parents=True)
        (tmp_path / name / SCRIPT_DIR / "script-abc").write_text("echo secret")
    with job_lock(tmp_path, "running"):
        assert sweep_scripts(tmp_path) == [tmp_path / "crashed" / SCRIPT_DIR / "script-abc"]
        assert clean_workspaces(tmp_path, Retention()) == [tmp_path / "crashed"]
        assert (tmp_path / "running" / SCRIPT_DIR / "script-abc").exists()
    assert clean_workspaces(tmp_path, Retention()) == [tmp_path / "running"]
