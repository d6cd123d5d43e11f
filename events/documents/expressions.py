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
    "evaluation_notes",
    "expression_warnings",
    "interpolate_expression",
    "match_expression",
    "modifier_warnings",
    "to_float",
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


def to_float(text: str) -> float:
    """A number operand's value: Ruby's String#to_f on what the number pattern lets
    through, "", "." and "5." (0.0, 0.0, 5.0) included."""
    return float(text) if text.strip(".") else 0.0


def evaluation_notes(expression: str) -> list[str]:
    """Where one of Cyclid's surprising rules decides what an interpolated expression
    gives: one note per rule, for the job's log (lint said so about the text as written;
    this says it about the values the job has). Empty when nothing surprising happens or
    the expression matches neither form (that fails the stage with its own message)."""
    strings = _STRINGS.match(expression)
    if strings is not None:
        left, op, right = strings[1], strings[2], strings[3]
        notes = []
        if "'" in left or "'" in right:
            notes.append(
                f"the quoted texts are matched greedily (Cyclid's rule): compared {left!r} "
                f"with {right!r}"
            )
        if left != right and left.lower() == right.lower():
            if op == "==":
                notes.append("'==' ignores case (Cyclid's rule): the texts differ only in case")
            elif op == "!=":
                notes.append(
                    "'!=' is case-sensitive while '==' is not (Cyclid's rule): the texts "
                    "differ only in case"
                )
        return notes
    numbers = _NUMBERS.match(expression)
    if numbers is None:
        return []
    left, op, right = numbers[1], numbers[2], numbers[3]
    notes = []
    if op in EQUALITY:
        if left and right and left != right and to_float(left) == to_float(right):
            notes.append(
                f"'{op}' compares numbers as text (Cyclid's rule): {left} and {right} are "
                "the same number but not the same text"
            )
        for side, operand in (("left", left), ("right", right)):
            if not operand:
                notes.append(
                    f"the {side} operand is empty (a missing or empty variable) and '{op}' "
                    "compares it as empty text (Cyclid's rule)"
                )
    else:
        for side, operand in (("left", left), ("right", right)):
            if not operand:
                notes.append(
                    f"the {side} operand is empty (a missing or empty variable): it "
                    "compares as 0.0 (Cyclid's rule)"
                )
    written = expression.removesuffix("\n").partition(f" {op} ")
    if written[0].endswith("%") or written[2].endswith("%"):
        compared = (
            f"{left!r} {op} {right!r}"
            if op in EQUALITY
            else f"{to_float(left):g} {op} {to_float(right):g}"
        )
        notes.append(f"a '%' after a number is not part of it (Cyclid's rule): compared {compared}")
    return notes


def expression_warnings(expression: str, defined: Set[str] = frozenset()) -> list[str]:
    """What lint says about an expression as written (before interpolation); `defined`
    names the variables the document sets to non-empty values (its environment, secrets).

    Nothing here rejects a document: Cyclid accepted all of these and real documents use
    them (the coverage idiom `%{simplecov_coverage} < 85%` relies on the empty operand)."""
    strings = _STRINGS.match(expression)
    if strings is not None:
        if "'" in strings[1] or "'" in strings[3]:
            return [
                "a quoted text holds a quote: Cyclid's pattern is greedy, so the text "
                f"compared on the left is {strings[1]!r} and on the right {strings[3]!r}"
            ]
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
