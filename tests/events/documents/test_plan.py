"""The sequence plan: the one statement of which stage runs after which."""

from __future__ import annotations

from jobstream.events.documents.models import JobDocument
from jobstream.events.documents.plan import SequencePlan


def walk(plan: SequencePlan, outcomes: dict[str, bool]) -> list[str | None]:
    """The stages a job runs when each stage succeeds or fails as `outcomes` says."""
    ran: list[str | None] = []
    index: int | None = 0
    while index is not None and len(ran) < 20:
        stage = plan.stages[index]
        ran.append(stage)
        index = plan.next(index, outcomes.get(stage or "", True))
    return ran


def test_entries_fall_through_and_a_failure_without_handler_ends_the_job() -> None:
    plan = SequencePlan.of([("a", None, None), ("b", None, None), ("c", None, None)])
    assert (plan.stages, plan.listed, plan.handlers) == (("a", "b", "c"), 3, ())
    assert walk(plan, {}) == ["a", "b", "c"]
    assert walk(plan, {"b": False}) == ["a", "b"]


def test_handler_stages_not_listed_are_appended_once_in_the_order_named() -> None:
    plan = SequencePlan.of(
        [("a", "notify", "cleanup"), ("b", "notify", None), ("c", None, "cleanup")]
    )
    assert plan.stages == ("a", "b", "c", "notify", "cleanup")
    assert plan.handlers == ("notify", "cleanup")
    assert walk(plan, {}) == ["a", "notify"]
    assert walk(plan, {"a": False}) == ["a", "cleanup"]


def test_appended_handler_stages_never_fall_through() -> None:
    plan = SequencePlan.of([("a", None, "h"), ("b", None, None)])
    h = plan.stages.index("h")
    assert (plan.next(h, True), plan.next(h, False)) == (None, None)
    assert (plan.handler(h, True), plan.handler(h, False)) == (None, None)
    assert walk(plan, {"a": False}) == ["a", "h"]


def test_a_handler_naming_a_listed_stage_goes_to_its_first_entry() -> None:
    plan = SequencePlan.of(
        [("a", "c", None), ("b", None, None), ("c", None, None), ("b", None, None)]
    )
    assert plan.handlers == ()
    assert walk(plan, {}) == ["a", "c", "b"]
    back = SequencePlan.of([("a", None, None), ("b", None, "a")])
    assert back.handler(1, False) == 0


def test_an_unvalidated_sequence_names_nothing_where_it_is_not_a_name() -> None:
    raw = [
        {"stage": "a", "on_success": 5, "on_failure": ""},
        "not a mapping",
        {"stage": ["b"], "on_failure": "h"},
    ]
    plan = SequencePlan.from_raw(raw)
    assert plan.stages == ("a", None, None, "h")
    assert plan.listed == 3
    # An empty or non-string handler is no handler: success falls through, failure ends.
    assert (plan.next(0, True), plan.next(0, False)) == (1, None)
    assert plan.next(2, False) == 3


def test_a_document_and_its_raw_form_give_the_same_plan() -> None:
    raw = {
        "name": "j",
        "sequence": [{"stage": "a", "on_failure": "h"}, {"stage": "b", "on_success": "a"}],
        "stages": [],
    }
    assert SequencePlan.from_document(JobDocument.model_validate(raw)) == SequencePlan.from_raw(
        raw["sequence"]
    )
