"""Modifier expressions (`only_if`, `not_if`, `fail_if`; JOB-FORMAT.md "Modifiers").

An expression, after interpolation, is exactly one comparison of two operands of the same
kind: `'str' OP 'str'` or `NUMBER[%] OP NUMBER[%]`. Numbers may be signed and decimal; a
trailing `%` is dropped and the number compared as it is (`50% == 50` is true), since
numbers and percentages all compare as floats.

| operator        | strings                               | numbers       |
|-----------------|---------------------------------------|---------------|
| `==`            | equal ignoring case (`str.casefold`)  | equal         |
| `===`, `eq`     | equal, case-sensitive                 | equal         |
| `!=`, `ne`      | not `==`: so ignoring case            | not equal     |
| `<` `>` `<=` `>=`, `lt` `gt` `le` `ge` | code-point order, case-sensitive | float order |

**Decided:** `!=` and `ne` are the negation of `==`, so `'A' != 'a'` is false. Anything
else (two comparisons, mixed kinds, an unknown operator, a bare word) raises
`ConditionError` naming the expression, which fails the stage instead of leaving the job
stuck as Cyclid did.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

from jobstream.events.errors import JobstreamError

__all__ = ["ConditionError", "evaluate"]

_OPERAND = r"\s*(?:'(?P<{0}s>[^']*)'|(?P<{0}n>[-+]?(?:\d+(?:\.\d*)?|\.\d+))%?)\s*"
_EXPRESSION = re.compile(
    _OPERAND.format("l") + r"(?P<op>===|==|!=|<=|>=|<|>|eq|ne|lt|gt|le|ge)" + _OPERAND.format("r")
)

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
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
    """A modifier expression that is not one valid comparison."""

    def __init__(self, expression: str, problem: str) -> None:
        self.expression = expression
        super().__init__(f"cannot evaluate {expression!r}: {problem}")


def evaluate(expression: str) -> bool:
    """The truth of one (already interpolated) comparison."""
    match = _EXPRESSION.fullmatch(expression)
    if match is None:
        raise ConditionError(expression, "expected one comparison of two 'strings' or two numbers")
    op = match["op"]
    left_text, right_text = match["ls"], match["rs"]
    if left_text is not None and right_text is not None:
        if op == "==":
            return left_text.casefold() == right_text.casefold()
        if op in ("!=", "ne"):
            return left_text.casefold() != right_text.casefold()
        return _compare(op, left_text, right_text)
    if left_text is None and right_text is None:
        return _compare(op, float(match["ln"]), float(match["rn"]))
    raise ConditionError(expression, "compares a string with a number")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("==", "===", "eq"):
        return bool(left == right)
    if op in ("!=", "ne"):
        return bool(left != right)
    return _ORDER[op](left, right)
