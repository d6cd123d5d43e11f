"""The grammar of modifier expressions (Cyclid's `evaluator.rb`), and lint about them.

The runner evaluates them (`runners.conditions`); this module is what both the runner and
validation need: the two patterns an interpolated expression must match, the interpolation
Cyclid applies to expressions, and the warnings lint gives where Cyclid's rule surprises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Set
from typing import Any

__all__ = [
    "EQUALITY",
    "MODIFIERS",
    "expression_warnings",
    "interpolate_expression",
    "match_expression",
    "modifier_warnings",
]

MODIFIERS = ("only_if", "not_if", "fail_if")

# `$` without MULTILINE is Ruby's `\Z`: the end, or just before a final newline. `[0-9]`,
# not `\d`, which would take any Unicode digit.
_STRINGS = re.compile(r"'(.*)' (==|!=|===) '(.*)'$")
_NUMBER = r"([0-9]*|[0-9]*\.[0-9]*)%?"
_NUMBERS = re.compile(_NUMBER + r" (==|eq|!=|ne|<|lt|>|gt|<=|le|>=|ge) " + _NUMBER + "$")
_REFERENCE = re.compile(r"%\{([^{}]*)\}")
# One operand of the number form that is nothing but a reference (and perhaps a `%`).
_BARE_REFERENCE = re.compile(r"%\{([^{}]*)\}%?")

# Operators that compare the text of numbers, not their value.
EQUALITY = frozenset({"==", "eq", "!=", "ne"})

# Always in the context, never empty.
_ALWAYS_SET = frozenset({"job_id", "job_name", "job_version", "organization", "workspace"})

# Values a reference is tried with, to see which form an expression takes once it runs.
_PROBES = ("1", "", "1.5%")


def interpolate_expression(expression: str, context: Mapping[str, str]) -> str:
    """`%{name}` replaced by its value (empty if missing); every other `%` kept as written.

    Cyclid doubles every `%` not followed by `{` before formatting, so `85%`, a final `%`
    and `%%` stay as written in an expression (elsewhere `%%` is a `%`)."""
    return _REFERENCE.sub(lambda m: context.get(m.group(1), ""), expression)


def match_expression(expression: str) -> tuple[str, str, str] | None:
    """(left, operator, right) as Cyclid captures them, or None if neither pattern matches."""
    match = _STRINGS.match(expression) or _NUMBERS.match(expression)
    return None if match is None else (match[1], match[2], match[3])


def expression_warnings(expression: str, defined: Set[str] = frozenset()) -> list[str]:
    """What lint says about an expression as written (before interpolation); `defined`
    names the variables the document sets to non-empty values (its environment, secrets).

    Nothing here rejects a document: Cyclid accepted all of these and real documents use
    them (the coverage idiom `%{simplecov_coverage} < 85%` relies on the empty operand)."""
    if _STRINGS.match(expression):
        return []
    probes = [_REFERENCE.sub(value, expression) for value in _PROBES]
    numbers = next((m for p in probes if (m := _NUMBERS.match(p))), None)
    if numbers is None:
        if _REFERENCE.search(expression) and any(_STRINGS.match(p) for p in probes):
            return []
        return [
            "matches neither of Cyclid's forms, 'text' OP 'text' (OP: == != ===) or "
            "NUMBER OP NUMBER (OP: == eq != ne < lt > gt <= le >= ge, one space each side): "
            "the stage will fail when it is evaluated"
        ]
    warnings = []
    op = numbers[2]
    if op in EQUALITY:
        warnings.append(
            f"'{op}' compares numbers as text, as Cyclid does: '1.0 == 1' is false and "
            "'1.0 != 1' is true; only < > <= >= (lt gt le ge) compare values"
        )
    left, _, right = expression.removesuffix("\n").partition(f" {op} ")
    for side, operand in (("left", left), ("right", right)):
        bare = _BARE_REFERENCE.fullmatch(operand)
        if bare and bare[1] not in defined and bare[1] not in _ALWAYS_SET:
            warnings.append(
                f"the {side} operand is only {operand!r}: if that is missing or empty it "
                "compares as 0.0 (Cyclid's rule), so e.g. ' < 85%' is true"
            )
    return warnings


def modifier_warnings(raw: Mapping[Any, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, message) for every modifier of a parsed document's sequence."""
    defined = {
        str(name)
        for key in ("environment", "secrets")
        if isinstance(values := raw.get(key), dict)
        for name, value in values.items()
        if value not in (None, "")
    }
    sequence = raw.get("sequence")
    for i, entry in enumerate(sequence if isinstance(sequence, list) else []):
        if not isinstance(entry, dict):
            continue
        for modifier in MODIFIERS:
            expression = entry.get(modifier)
            if isinstance(expression, str):
                for message in expression_warnings(expression, defined):
                    yield ("sequence", i, modifier), message
