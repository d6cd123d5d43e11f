"""Stored stages: their definition files, the stages topic read back, and Cyclid's
resolution rule (exact version, else the one defined most recently)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobstream.events.documents.ingest import decode_record
from jobstream.events.documents.stages import StageCatalog, define_stage, resolve_stages
from jobstream.events.documents.validation import check_document, load_stage
from jobstream.events.errors import DocumentError, StageExists, UnresolvedStage
from jobstream.events.log.base import EventLog, Record
from jobstream.events.models import JobSubmitted, StageDefined


def defined(name: str, version: str, message: str, *, at: float = 0) -> StageDefined:
    return StageDefined(
        writer="test",
        name=name,
        version=version,
        steps=[{"action": "log", "message": message}],
        at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=at),
    )


def catalog(*events: StageDefined) -> StageCatalog:
    out = StageCatalog()
    for event in events:
        out.add(event)
    return out


def job(*sequence: dict[str, Any], stages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": "j", "stages": stages or [], "sequence": list(sequence)}


def messages(document: dict[str, Any]) -> dict[str, str]:
    """Stage name -> the message its one log step writes."""
    return {s["name"]: s["steps"][0]["message"] for s in document["stages"]}


# --- definition files ------------------------------------------------------------------


def test_a_stage_without_a_version_is_0_0_1() -> None:
    stage = load_stage(b"name: build\nsteps: [{action: command, cmd: make}]\n", "s.yml").stage
    assert (stage.name, stage.version, stage.steps[0].action) == ("build", "0.0.1", "command")


@pytest.mark.parametrize("version", ["1.0.0", "1.0.0.1", "1.0.0-1", "12345", "1a2b3"])
def test_versions_cyclid_accepts(version: str) -> None:
    text = f"name: s\nversion: '{version}'\nsteps: [{{action: log, message: hi}}]\n"
    assert load_stage(text, "s.yml").stage.version == version


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0-rc1", "1.0.0\n"])
def test_versions_cyclid_refuses(version: str) -> None:
    raw = {"name": "s", "version": version, "steps": [{"action": "log", "message": "hi"}]}
    with pytest.raises(DocumentError) as caught:
        load_stage(json.dumps(raw), "s.json")
    (problem,) = caught.value.problems
    assert problem.path == "version"
    assert "is not like 1.0.0" in problem.message


def test_a_yaml_number_version_is_read_as_written() -> None:
    # `version: 1.10` is the float 1.1 to YAML; 1.10 is not a stage version either way.
    with pytest.raises(DocumentError, match=re.escape("'1.10' is not like 1.0.0")):
        load_stage(b"name: s\nversion: 1.10\nsteps: [{action: log, message: hi}]\n", "s.yml")


def test_steps_get_a_document_stages_checks_with_lines() -> None:
    text = b"name: s\nsteps:\n  - action: command\n    cmd: make\n  - action: lg\n"
    with pytest.raises(DocumentError) as caught:
        load_stage(text, "s.yml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (5, "steps[1].action")
    assert problem.message.startswith("unknown action 'lg'")


def test_a_stage_needs_a_name_and_steps() -> None:
    with pytest.raises(DocumentError) as caught:
        load_stage(b"version: 1.0.0\n", "s.yml")
    assert {p.path for p in caught.value.problems} == {"name", "steps"}


# --- resolution ------------------------------------------------------------------------


def test_with_a_version_the_exact_stage() -> None:
    stages = catalog(defined("build", "1.0.0", "one"), defined("build", "2.0.0", "two"))
    resolved = resolve_stages(job({"stage": "build", "version": "1.0.0"}), stages)
    assert messages(resolved) == {"build": "one"}
    assert resolved["stages"][0]["version"] == "1.0.0"


def test_without_a_version_the_most_recently_defined_not_the_highest() -> None:
    stages = catalog(defined("build", "2.0.0", "two"), defined("build", "1.5.0", "one-five"))
    assert messages(resolve_stages(job({"stage": "build"}), stages)) == {"build": "one-five"}


def test_an_unknown_version_is_unresolved_naming_stage_and_version() -> None:
    stages = catalog(defined("build", "1.0.0", "one"))
    with pytest.raises(UnresolvedStage) as caught:
        resolve_stages(job({"stage": "build", "version": "9.9.9"}), stages)
    assert (caught.value.name, caught.value.version) == ("build", "9.9.9")
    assert str(caught.value).startswith("sequence[0].stage: stage 'build' version '9.9.9'")


def test_handlers_resolve_and_the_first_missing_stage_is_named() -> None:
    stages = catalog(defined("success", "0.0.1", "yay"))
    document = job({"stage": "build", "on_success": "success"}, stages=[_stage("build")])
    assert messages(resolve_stages(document, stages)) == {"build": "built", "success": "yay"}
    missing = job({"stage": "build", "on_failure": "failure"}, stages=[_stage("build")])
    with pytest.raises(UnresolvedStage, match=r"sequence\[0\]\.on_failure: stage 'failure'"):
        resolve_stages(missing, stages)


def test_the_jobs_own_stage_shadows_a_stored_one_and_its_version_is_ignored() -> None:
    stages = catalog(defined("build", "1.0.0", "stored"))
    document = job({"stage": "build", "version": "1.0.0"}, stages=[_stage("build")])
    assert resolve_stages(document, stages) == document


def test_a_name_listed_twice_takes_the_last_entrys_version() -> None:
    stages = catalog(defined("build", "1.0.0", "one"), defined("build", "2.0.0", "two"))
    document = job({"stage": "build", "version": "2.0.0"}, {"stage": "build", "version": "1.0.0"})
    resolved = resolve_stages(document, stages)
    assert messages(resolved) == {"build": "one"}
    assert check_document(resolved)[0] is not None  # one stage by that name, a valid job


def test_a_catalog_keeps_the_first_definition_of_a_name_and_version() -> None:
    stages = StageCatalog()
    assert stages.add(defined("build", "1.0.0", "first"))
    assert not stages.add(defined("build", "1.0.0", "second"))
    assert [s.steps[0]["message"] for s in stages.versions("build")] == ["first"]


def _stage(name: str) -> dict[str, Any]:
    return {"name": name, "steps": [{"action": "log", "message": "built"}]}


# --- the stages topic ------------------------------------------------------------------


async def test_define_read_back_and_refuse_a_duplicate(event_log: EventLog, topic: str) -> None:
    one = load_stage(b"name: build\nversion: 1.0.0\nsteps: [{action: log, message: a}]\n").stage
    two = load_stage(b"name: build\nversion: 1.0.1\nsteps: [{action: log, message: b}]\n").stage
    other = load_stage(b"name: test\nsteps: [{action: log, message: c}]\n").stage
    for stage in (one, other, two):
        await define_stage(event_log, topic, stage)
    with pytest.raises(StageExists, match=re.escape("'build' with version '1.0.0' already exists")):
        await define_stage(event_log, topic, one)

    stages = await StageCatalog.read(event_log, topic)
    assert [s.version for s in stages.versions("build")] == ["1.0.0", "1.0.1"]
    found = stages.find("build")
    assert found is not None and found.steps == [{"action": "log", "message": "b"}]
    assert stages.find("test") is not None

    # A long-lived reader catches up with what was defined since.
    three = one.model_copy(update={"version": "1.1.0"})
    await define_stage(event_log, topic, three)
    await stages.refresh(event_log, topic)
    latest = stages.find("build")
    assert latest is not None and latest.version == "1.1.0"


# --- bare documents from other clients -------------------------------------------------


def _bare(value: bytes, at: datetime) -> Record:
    return Record("jobs", 0, 3, None, value, {}, int(at.timestamp() * 1000))


def test_a_bare_document_resolves_against_the_stages_of_its_time() -> None:
    stages = catalog(
        defined("build", "1.0.0", "old", at=0), defined("build", "2.0.0", "new", at=60)
    )
    value = b"name: kcat\nstages: []\nsequence: [{stage: build}]\n"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    early = decode_record(_bare(value, start + timedelta(seconds=30)), stages)
    late = decode_record(_bare(value, start + timedelta(seconds=90)), stages)
    assert isinstance(early, JobSubmitted) and isinstance(late, JobSubmitted)
    assert messages(early.document) == {"build": "old"}
    assert messages(late.document) == {"build": "new"}


def test_a_bare_document_with_an_unstored_stage_is_left_for_the_runner_to_fail() -> None:
    value = b"name: kcat\nstages: []\nsequence: [{stage: " + uuid.uuid4().hex.encode() + b"}]\n"
    record = _bare(value, datetime.now(UTC))
    event = decode_record(record, StageCatalog())
    assert isinstance(event, JobSubmitted)
    assert event.document == decode_record(record).document
