from pathlib import Path

import pytest

from jobstream.runners.workspace import GitSource, WorkspaceError, job_workspace, token_forms


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
