"""The `stages` view: one row per stored stage version, rebuilt by replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobstream.events.documents.stages import stage_message
from jobstream.events.errors import StageNotFound
from jobstream.events.log.base import Message, Record, to_message
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import StageDefined
from jobstream.events.names import Topics
from jobstream.projections import queries
from jobstream.projections.host import ViewsHost
from jobstream.projections.replay import replay, verify
from jobstream.projections.views import DuckDBViews

from .projections_support import run_events, submitted

TOPICS = Topics()


def defined(name: str, version: str, message: str) -> StageDefined:
    return StageDefined(
        writer="test", name=name, version=version, steps=[{"action": "log", "message": message}]
    )


def stage_records(*events: StageDefined, start: int = 0) -> list[Record]:
    return [
        Record(TOPICS.stages, 0, start + i, e.name, stage_message(e).value, {}, 0)
        for i, e in enumerate(events)
    ]


def test_versions_in_definition_order_and_the_latest_is_the_last(views: DuckDBViews) -> None:
    views.apply(
        stage_records(
            defined("build", "2.0.0", "two"),
            defined("test", "0.0.1", "t"),
            defined("build", "1.5.0", "one-five"),
        )
    )
    listed = queries.list_stages(views.conn)
    assert [(s.name, s.version) for s in listed] == [
        ("build", "2.0.0"),
        ("build", "1.5.0"),
        ("test", "0.0.1"),
    ]
    assert queries.get_stage(views.conn, "build").version == "1.5.0"
    assert queries.get_stage(views.conn, "build", "2.0.0").steps == [
        {"action": "log", "message": "two"}
    ]
    with pytest.raises(StageNotFound):
        queries.get_stage(views.conn, "build", "3.0.0")
    with pytest.raises(StageNotFound):
        queries.get_stage(views.conn, "deploy")


def test_a_second_definition_of_a_name_and_version_changes_nothing(views: DuckDBViews) -> None:
    views.apply(stage_records(defined("build", "1.0.0", "first")))
    # In a later batch and within one batch alike.
    views.apply(
        stage_records(
            defined("build", "1.0.0", "second"), defined("build", "1.0.0", "third"), start=1
        )
    )
    (row,) = queries.list_stages(views.conn)
    assert (row.steps[0]["message"], row.offset) == ("first", 0)


def test_a_record_that_is_no_stage_is_dead_lettered(views: DuckDBViews) -> None:
    bad = Record(TOPICS.stages, 0, 0, "x", b'{"type": "StageDefined", "name": "x"}', {}, 0)
    views.apply([bad, *stage_records(defined("ok", "0.0.1", "fine"), start=1)])
    assert [s.name for s in queries.list_stages(views.conn)] == ["ok"]
    (dead,) = queries.dead_letters(views.conn)
    assert dead.topic == TOPICS.stages


async def test_replay_rebuilds_the_stages_view(tmp_path: Path) -> None:
    live_path = tmp_path / "views.duckdb"
    async with EmbeddedLog(tmp_path / "log.sqlite", partitions=3) as log:
        for name, version in [("build", "1.0.0"), ("test", "0.0.1"), ("build", "1.0.1")]:
            await log.append(TOPICS.stages, [stage_message(defined(name, version, name))])
        await log.append(TOPICS.stages, [Message(b"garbage", key="build")])
        await log.append(TOPICS.jobs, [to_message(submitted("job1"))])
        await log.append(TOPICS.events, [to_message(e) for e in run_events("job1")])

        live = DuckDBViews.open(live_path)
        host = ViewsHost(log, live, TOPICS.views, batch=2)
        await host.run_until_caught_up()
        await host.close()
        shown = [(s.name, s.version) for s in queries.list_stages(live.conn)]
        live.close()
        assert shown == [("build", "1.0.0"), ("build", "1.0.1"), ("test", "0.0.1")]

        result = await replay(log, TOPICS.views, live_path)
    assert verify(live_path, result.path) == []
    rebuilt = DuckDBViews.open(result.path)
    try:
        assert [(s.name, s.version) for s in queries.list_stages(rebuilt.conn)] == shown
        assert queries.get_stage(rebuilt.conn, "build").version == "1.0.1"
    finally:
        rebuilt.close()
