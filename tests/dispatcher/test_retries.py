"""Automatic retry by exit status (`retry.automatic`, Buildkite's form): the lease keeper
submits the next attempt of a job that ended FAILED with an exit status a rule names.

Real jobs on a real embedded log: a worker runs each attempt in burst mode, the views are
fed from the log, and the keeper decides from them, as in `jobstream serve`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from jobstream.dispatcher import LeaseKeeper, Worker
from jobstream.events.documents.secrets import SecretBox
from jobstream.events.log.embedded import EmbeddedLog
from jobstream.events.models import JobSubmitted, Status
from jobstream.projections import JobRecord
from jobstream.runners import Runner

from .dispatcher_support import BOUND, TOPICS, Views, events_of, job, queue, read_topic, texts


async def run_until_settled(
    log: EmbeddedLog, runner: Runner, views: Views, keeper: LeaseKeeper, first: str
) -> list[JobRecord]:
    """Runs the queue and lets the keeper retry until the newest attempt is not retried:
    the chain of attempts from `first`, oldest first."""
    async with asyncio.timeout(BOUND):
        while True:
            await Worker(log, TOPICS, runner, burst=True).run()
            if not await keeper.retry_failed():
                break
    chain = [await views.job(first)]
    while chain[-1].retried_by is not None:
        chain.append(await views.job(chain[-1].retried_by))
    return chain


def keeper_for(log: EmbeddedLog, views: Views, box: SecretBox) -> LeaseKeeper:
    return LeaseKeeper(log, TOPICS, views.expired, failed=views.failed, secrets=lambda: box)


async def test_a_job_failing_with_a_named_exit_status_is_retried_until_it_passes(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views, tmp_path: Path
) -> None:
    counter = tmp_path / "runs"
    # Fails with exit status 2 twice, then passes; every attempt must open its secret.
    document = job(
        f'test "%{{pw}}" = s3cret-value || exit 9; n=$(( $(cat {counter} 2>/dev/null || '
        f"echo 0) + 1 )); echo $n > {counter}; echo run $n; test $n -ge 3 || exit 2",
        retry={"automatic": [{"exit_status": 2, "limit": 3}, {"exit_status": "*", "limit": 1}]},
        secrets={"pw": "s3cret-value"},
    )
    first = await queue(log, box, document)
    chain = await run_until_settled(log, runner, views, keeper_for(log, views, box), first)

    assert [r.status for r in chain] == [Status.FAILED, Status.FAILED, Status.SUCCEEDED]
    assert [r.exit_status for r in chain] == [2, 2, None]
    assert [r.attempt for r in chain] == [1, 2, 3]
    assert [r.retry_of for r in chain] == [None, chain[0].job_id, chain[1].job_id]
    assert "run 3" in texts(await events_of(log, chain[2].job_id))
    # Each retry is the same document, its secret sealed again to the retry's own id.
    submitted = {
        e.job_id: e for e in await read_topic(log, TOPICS.jobs) if isinstance(e, JobSubmitted)
    }
    for record in chain:
        (sealed,) = submitted[record.job_id].document["secrets"].values()
        assert f":{record.job_id}:" in sealed
        assert box.decrypt(sealed, job_id=record.job_id, organization="default", name="pw") == (
            "s3cret-value"
        )


async def test_the_first_matching_rule_sets_the_limit_and_other_statuses_are_not_retried(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views
) -> None:
    rules = {"automatic": [{"exit_status": [3, 4], "limit": 1}, {"exit_status": 7, "limit": 5}]}
    keeper = keeper_for(log, views, box)
    # Exit status 4: the first rule allows one retry, which fails the same way.
    limited = await queue(log, box, job("exit 4", retry=rules))
    chain = await run_until_settled(log, runner, views, keeper, limited)
    assert [(r.status, r.exit_status, r.attempt) for r in chain] == [
        (Status.FAILED, 4, 1),
        (Status.FAILED, 4, 2),
    ]
    # Exit status 5: no rule names it.
    other = await queue(log, box, job("exit 5", retry=rules))
    (only,) = await run_until_settled(log, runner, views, keeper, other)
    assert (only.status, only.exit_status, only.retried_by) == (Status.FAILED, 5, None)


async def test_a_retry_count_still_means_lost_attempts_only(
    log: EmbeddedLog, runner: Runner, box: SecretBox, views: Views
) -> None:
    # `retry: 2`, jobstream's form from before: a job that ran and failed is not retried.
    failed = await queue(log, box, job("exit 2", retry=2))
    (only,) = await run_until_settled(log, runner, views, keeper_for(log, views, box), failed)
    assert (only.status, only.exit_status, only.retried_by) == (Status.FAILED, 2, None)
