"""Modifier expressions (`only_if`, `not_if`, `fail_if`), exactly as Cyclid evaluates them.

A re-creation of Cyclid 0.4's `app/cyclid/job/evaluator.rb` (JOB-FORMAT.md "Modifiers",
docs/job-format.md): real documents depend on its rules, surprising ones included.

Interpolation first: only `%{name}` is replaced (a missing name is empty). Cyclid escapes
every other `%` before formatting, so `85%`, a final `%` and `%%` all stay as written.

Then the whole text must match one of two patterns, tried in this order:

- `'TEXT' OP 'TEXT'`, OP one of `==`, `!=`, `===`; the quoted parts are greedy, so
  `'O'Brien' == 'o'brien'` compares `O'Brien` with `o'brien`;
- `N[%] OP N[%]`, N digits, digits `.` digits, or *empty*; OP one of `==` `eq` `!=` `ne`
  `<` `lt` `>` `gt` `<=` `le` `>=` `ge`; the `%` is not part of the operand.

Exactly one space on each side of the operator; one final newline is allowed (Ruby's `\\Z`,
as a YAML block scalar leaves it). How the captured text compares:

| operator | comparison |
|---|---|
| `==` | text, ignoring case (`1.0 == 1` is false) |
| `===`, `eq` | text, case-sensitive |
| `!=`, `ne` | text, case-sensitive (`'foo' != 'FOO'` is true) |
| `<` `>` `<=` `>=`, `lt` `gt` `le` `ge` | floats; an empty operand is 0.0 |

Anything else raises `ConditionError` naming the expression; the runner fails the stage
with it (Cyclid left such a job running for ever). Where one of these rules decides the
result (`evaluation_notes`), the runner says so in the job's log.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

from jobstream.events.documents.expressions import (
    evaluation_notes,
    interpolate_expression,
    match_expression,
    to_float,
)
from jobstream.events.errors import JobstreamError

__all__ = [
    "ConditionError",
    "evaluate",
    "evaluation_notes",
    "interpolate_expression",
    "match_expression",
]

_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "lt": operator.lt,
    ">": operator.gt,
    "gt": operator.gt,
    "<=": operator.le,
    "le": operator.le,
    ">=": operator.ge,
    "ge": operator.ge,
}


class ConditionError(JobstreamError):
    """A modifier expression that matches neither of Cyclid's two patterns."""

    def __init__(self, expression: str, problem: str) -> None:
        self.expression = expression
        super().__init__(f"cannot evaluate {expression!r}: {problem}")


def evaluate(expression: str) -> bool:
    """The truth of one (already interpolated) comparison."""
    captured = match_expression(expression)
    if captured is None:
        raise ConditionError(
            expression,
            "expected 'text' OP 'text' (OP: == != ===) or NUMBER OP NUMBER "
            "(OP: == eq != ne < lt > gt <= le >= ge), one space each side of OP",
        )
    left, op, right = captured
    if op == "==":
        return left.lower() == right.lower()
    if op in ("===", "eq"):
        return left == right
    if op in ("!=", "ne"):
        return left != right
    return _ORDER[op](to_float(left), to_float(right))
