"""CallbackHost on the embedded log: history, exactly-once, retries, dead letters, holds."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jobstream.callbacks import Callback, CallbackHost, CallbackStore, GiveUp, JobInfo
from jobstream.callbacks.base import CallbackConfigError
from jobstream.events.documents.ingest import decode_record
from jobstream.events.log.base import Message, Record
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import Event, Status

from ..polling import wait_until
from .callbacks_support import (
    TOPICS,
    Failing,
    Recorder,
    append_jobs,
    job_messages,
    running,
)
from .crash_host import Effects


async def test_a_callback_added_later_hears_every_past_completion_once(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    ids = await append_jobs(log, 50, labels={"team": "infra"})
    recorder = Recorder()
    async with running(log, store, recorder, "late", start="earliest") as host:
        await wait_until(lambda: len(recorder.hooks("completion")) >= 50)
        await wait_until(lambda: host.stats.read >= 50 * 6)
    completions = recorder.hooks("completion")
    assert Counter(c.job.id for c in completions) == Counter(ids)
    job = completions[0].job
    assert (job.name, job.version, job.labels) == ("build", "1.2.0", {"team": "infra"})
    assert all(c.arg is True for c in completions)
    # Per job, the hooks come in log order.
    first = [c.hook for c in recorder.calls if c.job.id == ids[0]]
    assert first == ["status_changed"] * 2 + ["log_write", "status_changed", "completion"]

    # Started again, even from the earliest record, it delivers nothing twice.
    again = Recorder()
    async with running(log, store, again, "late", start="earliest") as host:
        await wait_until(lambda: host.stats.duplicates >= 50 * 5)
    assert again.calls == []


async def recorded_to_the_end(log: EmbeddedLog, store: CallbackStore, callback: str) -> None:
    """Waits until `callback`'s stored positions reach the end of every partition."""
    async with asyncio.timeout(20):
        ends = await log.ends(TOPICS.all)
        while True:
            stored = await store.positions(callback)
            if all(stored.get(tp, 0) >= end for tp, end in ends.items() if end):
                return
            await asyncio.sleep(0.01)


async def test_from_latest_skips_history_and_committed_resumes(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    await append_jobs(log, 5)
    recorder = Recorder()
    async with running(log, store, recorder, "fresh", start="latest") as host:
        await host.ready.wait()
        new = await append_jobs(log, 2)
        await wait_until(lambda: len(recorder.hooks("completion")) == 2)
        # Recorded to the end of the log: the host is past every record of the history,
        # so none of it was delivered if none of it is here by now.
        await recorded_to_the_end(log, store, "fresh")
        assert {c.job.id for c in recorder.calls} == set(new)
    more = await append_jobs(log, 3)
    async with running(log, store, recorder, "fresh", start="committed"):
        await wait_until(lambda: len(recorder.hooks("completion")) == 5)
    assert Counter(c.job.id for c in recorder.hooks("completion")) == Counter(new + more)


async def test_a_failing_hook_is_retried_then_delivered_once(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    class Flaky(Callback):
        def __init__(self) -> None:
            self.tries: list[float] = []

        async def completion(self, job: JobInfo, success: bool) -> None:
            self.tries.append(time.monotonic())
            if len(self.tries) < 3:
                raise ConnectionError("not yet")

    flaky = Flaky()
    await append_jobs(log, 1)
    async with running(log, store, flaky, "flaky", backoff=0.05) as host:
        await wait_until(lambda: host.stats.delivered == 1)
    gaps = [b - a for a, b in zip(flaky.tries, flaky.tries[1:], strict=False)]
    assert len(flaky.tries) == 3
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # exponential
    assert host.stats.retries == 2
    assert await store.dead_letters("flaky") == []


async def test_give_up_dead_letters_at_once(log: EmbeddedLog, store: CallbackStore) -> None:
    class Refusing(Callback):
        calls = 0

        async def completion(self, job: JobInfo, success: bool) -> None:
            Refusing.calls += 1
            raise GiveUp("422 Unprocessable")

    job_id = (await append_jobs(log, 1))[0]
    async with running(log, store, Refusing(), "refusing", attempts=5) as host:
        await wait_until(lambda: host.stats.dead == 1)
    assert Refusing.calls == 1
    (dead,) = await store.dead_letters("refusing")
    assert (dead.job_id, dead.event_type, dead.attempts) == (job_id, "Completed", 1)
    assert dead.error == "GiveUp: 422 Unprocessable"


async def test_an_always_failing_callback_fills_dead_letters_and_slows_nobody(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    jobs = 100

    async def deliver_all(with_failing: bool) -> float:
        """Seconds for a no-op callback to hear every completion of new jobs appended
        while it runs (with a broken callback running beside it, or not)."""
        recorder = Recorder()
        async with contextlib.AsyncExitStack() as stack:
            broken = None
            if with_failing:
                broken = await stack.enter_async_context(
                    running(
                        log, store, Failing(), "broken", start="latest", attempts=3, backoff=0.001
                    )
                )
                await broken.ready.wait()
            async with running(log, store, recorder, f"ok-{with_failing}", start="latest") as host:
                await host.ready.wait()
                started = time.perf_counter()
                await append_jobs(log, jobs)
                await wait_until(lambda: len(recorder.hooks("completion")) == jobs)
                elapsed = time.perf_counter() - started
            if broken is not None:
                # 3 status changes and 1 completion per job, each tried 3 times.
                await wait_until(lambda: broken.stats.dead >= jobs * 4, timeout=60)
        return elapsed

    alone = await deliver_all(with_failing=False)
    beside = await deliver_all(with_failing=True)
    print(f"\nno-op callback: {alone:.3f}s alone, {beside:.3f}s beside a failing one")
    # The broken one shares this process's CPU; it must not hold the other one up.
    assert beside < alone * 3 + 0.5
    dead = await store.dead_letters("broken")
    assert len(dead) == jobs * 4
    assert {d.attempts for d in dead} == {3}
    assert all(d.error == "RuntimeError: always broken" for d in dead)


async def test_malformed_records_are_dead_lettered_and_passed_over(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    await log.append(TOPICS.events, [Message(b"\x00 not json", key="x")])
    await log.append(
        TOPICS.events,
        [Message(b'{"type": "Unknown", "job_id": "x"}', key="x", headers={"type": "Unknown"})],
    )
    ids = await append_jobs(log, 2)
    recorder = Recorder()
    async with running(log, store, recorder, "picky", start="earliest") as host:
        await wait_until(lambda: len(recorder.hooks("completion")) == 2)
    assert Counter(c.job.id for c in recorder.hooks("completion")) == Counter(ids)
    dead = await store.dead_letters("picky")
    assert len(dead) == 2 and host.stats.dead == 2
    assert all(d.event_id is None and d.error.startswith("malformed record") for d in dead)
    assert {d.event_type for d in dead} == {None, "Unknown"}


async def test_events_wait_for_their_job_submitted(log: EmbeddedLog, store: CallbackStore) -> None:
    _, submitted, events = job_messages(name="late-submit", labels={"k": "v"})
    await log.append(TOPICS.events, events)
    recorder = Recorder()
    async with running(log, store, recorder, "patient", hold=10.0) as host:
        # Read twice: read, held back (the partition sought back to them), read again.
        await wait_until(lambda: host.stats.read >= 2 * len(events))
        assert recorder.calls == []
        await log.append(TOPICS.jobs, submitted)
        await wait_until(lambda: len(recorder.hooks("completion")) == 1)
    assert {(c.job.name, c.job.labels["k"]) for c in recorder.calls} == {("late-submit", "v")}


async def test_a_missing_job_submitted_delays_only_up_to_hold(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    job_id, _, events = job_messages()
    await log.append(TOPICS.events, events)
    recorder = Recorder()
    started = time.monotonic()
    async with running(log, store, recorder, "impatient", hold=0.3):
        await wait_until(lambda: len(recorder.hooks("completion")) == 1)
    assert 0.3 <= time.monotonic() - started < 5
    assert all(c.job == JobInfo(id=job_id) for c in recorder.calls)
    assert len(recorder.calls) == 5


async def test_job_info_survives_restarts_in_the_store(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    _, submitted, events = job_messages(name="remembered")
    await log.append(TOPICS.jobs, submitted)
    await log.append(TOPICS.events, events[:1])
    first = Recorder()
    async with running(log, store, first, "memory"):
        await wait_until(lambda: len(first.calls) == 1)
    # The JobSubmitted is behind the committed position now: only the store knows the name.
    await log.append(TOPICS.events, events[1:])
    second = Recorder()
    async with running(log, store, second, "memory", hold=0):
        await wait_until(lambda: len(second.hooks("completion")) == 1)
    assert {c.job.name for c in second.calls} == {"remembered"}
    assert len(second.calls) == 4


async def test_a_producer_duplicate_is_delivered_once(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    _, submitted, events = job_messages()
    await log.append(TOPICS.jobs, submitted)
    await log.append(TOPICS.events, events + events[-1:])
    recorder = Recorder()
    async with running(log, store, recorder, "dedupe") as host:
        await wait_until(lambda: host.stats.duplicates == 1)
    assert len(recorder.hooks("completion")) == 1


async def test_a_cancelled_host_resumes_without_loss_or_repeat(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    class Slow(Recorder):
        async def status_changed(self, job: JobInfo, status: Status) -> None:
            await asyncio.sleep(0.001)
            await super().status_changed(job, status)

    await append_jobs(log, 40)
    recorder = Slow()
    host = CallbackHost(log, TOPICS, recorder, store, name="crashy", batch=50)
    task = asyncio.create_task(host.run(asyncio.Event()))
    await wait_until(lambda: len(recorder.calls) >= 60)
    # Not a clean stop: the batch in hand is neither finished nor committed.
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with running(log, store, recorder, "crashy"):
        await wait_until(lambda: len(recorder.hooks("completion")) == 40)
    counts = Counter(c.event_id for c in recorder.calls)
    assert len(counts) == 40 * 5 and max(counts.values()) == 1


async def test_a_raw_callback_receives_every_event(log: EmbeddedLog, store: CallbackStore) -> None:
    class Raw(Callback):
        def __init__(self) -> None:
            self.types: list[str] = []

        async def on_event(self, job: JobInfo, event: Event) -> None:
            self.types.append(event.type)

    raw = Raw()
    await append_jobs(log, 1)
    async with running(log, store, raw, "raw"):
        await wait_until(lambda: "Completed" in raw.types)
    assert raw.types[0] == "JobSubmitted"
    assert Counter(raw.types) == {
        "JobSubmitted": 1,
        "StatusChanged": 3,
        "LogAppended": 1,
        "Completed": 1,
    }


@pytest.mark.parametrize("unrecorded", [1, 4])
async def test_a_kill_between_delivery_and_position_loses_nothing_and_repeats_at_most_unrecorded(
    log: EmbeddedLog, store: CallbackStore, tmp_path: Path, unrecorded: int
) -> None:
    written: list[Record] = []
    for _ in range(20):
        _, jobs, events = job_messages()
        written += await log.append(TOPICS.jobs, jobs) + await log.append(TOPICS.events, events)
    where = {str(decode_record(r).event_id): r for r in written}
    effects = Effects(tmp_path / "effects")
    kill_at = 50
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("crash_host.py")),
        str(tmp_path),
        "crashy",
        str(kill_at),
        str(unrecorded),
        str(effects.path),
    )
    async with asyncio.timeout(60):
        assert await process.wait() == -signal.SIGKILL
    delivered = set(effects.keys())

    # What the store holds after the kill: at most `unrecorded` deliveries are missing from
    # it, and no stored position passes one of them.
    positions = await store.positions("crashy")
    recorded = await store.delivered("crashy", where)
    unrecorded_deliveries = delivered - recorded
    assert recorded <= delivered
    assert len(unrecorded_deliveries) <= unrecorded
    if unrecorded == 1:
        # Each delivery is written before the next hook: the kill came right after the
        # 50th returned, before its write began. (With more, hooks go on until the host
        # waits for the store, and the kill comes then.)
        assert len(delivered) == kill_at and len(unrecorded_deliveries) == 1
    for key, record in where.items():
        if record.offset < positions.get(record.tp, 0):
            assert key in recorded, f"position {positions[record.tp]} passes {record.tp}"

    async with running(log, store, effects, "crashy"):
        await wait_until(lambda: set(effects.keys()) == set(where), timeout=30)
    keys = Counter(effects.keys())
    repeated = {key for key, n in keys.items() if n > 1}
    assert repeated == unrecorded_deliveries and max(keys.values()) <= 2
    assert await store.delivered("crashy", where) == set(where)
    # A partition none of the 20 random job ids fell in has no position to record.
    ends = {tp: end for tp, end in (await log.ends(TOPICS.all)).items() if end}
    assert await store.positions("crashy") == ends


async def test_a_second_host_of_the_same_callback_is_refused(
    log: EmbeddedLog, store: CallbackStore
) -> None:
    ids = await append_jobs(log, 3)
    first = Recorder()
    async with running(log, store, first, "solo") as host:
        await host.ready.wait()
        second = CallbackHost(log, TOPICS, Recorder(), store, name="solo")
        with pytest.raises(CallbackConfigError, match="already running"):
            await second.run(asyncio.Event())
        await wait_until(lambda: len(first.hooks("completion")) == 3)
    # Once the first has stopped, the name is free again.
    async with running(log, store, Recorder(), "solo") as again:
        await again.ready.wait()
    assert sorted(c.job.id for c in first.hooks("completion")) == sorted(ids)
