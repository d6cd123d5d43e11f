"""Real Cyclid job documents from tests/corpus run here as Cyclid 0.4 ran them.

Each case takes a corpus document whose steps are plain commands, changes only where it gets
its code and tools, and runs it with the real `jobstream run` (host builder, a temporary data
directory). Its `sources` become one local git repository made in the test (named like the
directory the document's steps `cd` into; a document without sources gets one, `token` and
the RSA `secrets` that only fed the token are dropped, since no key for them exists). Its
build tools (bundle, sudo, make, ...) are small scripts first on PATH that print their name
and arguments and exit 0, except one chosen command line that exits 1 to fail its stage.
The stages it names but does not define (`success`, `failure`, `lint`, `test`, `build`) are
stored with `jobstream stage create`, each running `notify <name>`.

Checked: the stages run (the log's `==> stage NAME` lines) in the order Cyclid 0.4 would
run them and the job ends with Cyclid's final status, as worked out from Cyclid's
`JobView#build_stage_collection` and `Runner#run` for "all succeed" and "fail X": a listed
handler falls through to the next sequence entry, a failing stage runs its on_failure
handler, a stage without one ends the job FAILED.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .cli_support import ROOT, Cli

CORPUS = ROOT / "tests" / "corpus"
TOOLS = ("bundle", "sudo", "make", "notify")
STAGE_LINE = re.compile(r"^==> stage (\S+)$", re.MULTILINE)

# (document, local repository name, stored stages, failing command line or None,
#  Cyclid 0.4's stage order, final status)
CASES: dict[str, tuple[str, str, tuple[str, ...], str | None, list[str], str]] = {
    # `success` is listed in the sequence as well, so it falls through to `failure`.
    "cyclid-6a4230f-all-succeed": (
        "Cyclid__Cyclid__.cyclid__6a4230f.json",
        "Cyclid",
        ("success", "failure"),
        None,
        ["bundle-install", "lint", "success", "failure"],
        "SUCCEEDED",
    ),
    "cyclid-6a4230f-lint-fails": (
        "Cyclid__Cyclid__.cyclid__6a4230f.json",
        "Cyclid",
        ("success", "failure"),
        "bundle exec rake rubocop",
        ["bundle-install", "lint", "failure"],
        "FAILED",
    ),
    # `success` has no on_failure: the job ends there, `failure` never runs.
    "cyclid-6a4230f-success-fails": (
        "Cyclid__Cyclid__.cyclid__6a4230f.json",
        "Cyclid",
        ("success", "failure"),
        "notify success",
        ["bundle-install", "lint", "success"],
        "FAILED",
    ),
    # on_success names the stored `lint`, not the document's `lint-test`; `lint` is not in
    # the sequence, so nothing follows it.
    "cyclid-b646fe4-stored-lint": (
        "Cyclid__Cyclid__.cyclid__b646fe4.json",
        "Mist",
        ("success", "failure", "lint"),
        None,
        ["bundle-install", "lint"],
        "SUCCEEDED",
    ),
    "cyclid-client-802e340-stored-test-fails": (
        "Cyclid__Cyclid-client__.cyclid__802e340.json",
        "Cyclid-client",
        ("success", "failure", "test"),
        "notify test",
        ["bundle-install", "lint", "test"],
        "FAILED",
    ),
    "docs-stages-L37-all-succeed": (
        "Cyclid__Cyclid-docs__docs__jobs__stages_jobs__L37__ef1d916.json",
        "Project",
        ("build", "success", "failure"),
        None,
        ["prepare", "build", "success"],
        "SUCCEEDED",
    ),
    "docs-stages-L37-build-fails": (
        "Cyclid__Cyclid-docs__docs__jobs__stages_jobs__L37__ef1d916.json",
        "Project",
        ("build", "success", "failure"),
        "notify build",
        ["prepare", "build", "failure"],
        "FAILED",
    ),
}


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _fake_tools(bin_dir: Path, failing: str | None) -> None:
    bin_dir.mkdir()
    for tool in TOOLS:
        fail = f'case "{tool} $*" in "{failing}"*) exit 1;; esac\n' if failing else ""
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "fake {tool} $*"\n{fail}exit 0\n')
        script.chmod(0o755)


@pytest.mark.parametrize("case", CASES)
def test_a_corpus_document_follows_cyclids_stage_order(case: str, cli: Cli, tmp_path: Path) -> None:
    document, repo_name, stored, failing, order, status = CASES[case]
    repo = tmp_path / "repos" / repo_name
    repo.mkdir(parents=True)
    (repo / "README").write_text("a project\n")
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "init", cwd=repo)

    job: dict[str, Any] = json.loads((CORPUS / document).read_text())
    job["sources"] = [{"type": "git", "url": str(repo)}]
    job.pop("secrets", None)
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job))

    for name in stored:
        stage = tmp_path / f"stage-{name}.json"
        stage.write_text(
            json.dumps({"name": name, "steps": [{"action": "command", "cmd": f"notify {name}"}]})
        )
        created = cli("stage", "create", str(stage))
        assert created.returncode == 0, created.stderr

    _fake_tools(tmp_path / "bin", failing)
    cli.env["PATH"] = f"{tmp_path / 'bin'}:{cli.env['PATH']}"
    cli.env["JOBSTREAM_BUILDER"] = "host"

    result = cli("run", str(job_file), timeout=30)
    assert STAGE_LINE.findall(result.stdout) == order, result.stdout + result.stderr
    assert "fake " in result.stdout  # the steps ran the stand-in tools, not real ones
    (record,) = json.loads(cli("list", "--json").stdout)
    assert record["status"] == status
    assert (result.returncode == 0) == (status == "SUCCEEDED")
