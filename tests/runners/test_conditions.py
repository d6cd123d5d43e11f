"""Cyclid's evaluator (app/cyclid/job/evaluator.rb), case by case.

The cases marked "spec" are those of Cyclid's own spec/job/evaluator_spec.rb; the others
pin the rules read from the code (docs/job-format.md, "Modifiers").
"""

import pytest

from jobstream.runners.conditions import (
    ConditionError,
    evaluate,
    evaluation_notes,
    interpolate_expression,
    match_expression,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # strings: == ignores case, === is exact, != is exact (spec)
        ("'a' == 'a'", True),
        ("'a' == 'A'", True),
        ("'a' == 'b'", False),
        ("'a' === 'a'", True),
        ("'a' === 'A'", False),
        ("'a' != 'b'", True),
        ("'a' != 'a'", False),
        ("'foo' != 'FOO'", True),
        ("'' == ''", True),
        ("'with space' == 'WITH SPACE'", True),
        ("'Straße' == 'STRASSE'", False),  # lower(), not casefold(): Ruby's downcase
        ("'ÄB' == 'äb'", True),
        # the quoted parts are greedy
        ("'O'Brien' == 'o'brien'", True),
        ("'a' == 'b' == 'c'", False),  # 'a' == 'b' compared with 'c'
        ("'a' == 'a' == 'a'", False),  # "a' == 'a" vs "a"
        ("'a' == 'b' != 'c'", True),  # greedy: "a' == 'b" != "c"
        ("''' == '''", True),  # "'" == "'"
        ("'10' == '10.0'", False),
        ("'90%' == '90%'", True),
        # numbers: == eq != ne compare the TEXT
        ("1 == 1", True),
        ("1.0 == 1", False),
        ("1.0 eq 1.00", False),
        ("01 != 1", True),
        ("1 ne 1", False),
        ("1 eq 1", True),
        ("1 != 2", True),
        ("90% == 90", True),  # the % is outside the operand
        ("90% eq 90%", True),
        ("90.0% == 90%", False),
        # numbers: only < > <= >= and their word forms compare as floats
        ("1 < 2", True),
        ("2 < 1", False),
        ("1.0 < 2", True),
        ("10 lt 9", False),
        ("2 > 1", True),
        ("1 gt 2", False),
        ("2 <= 2", True),
        ("2.0 le 2", True),
        ("3 le 2", False),
        ("2 >= 2", True),
        ("1 ge 2", False),
        ("86.08% < 85%", False),
        ("84.99% < 85%", True),
        ("100.0% >= 100%", True),
        ("99.5% >= 100%", False),
        ("80% gt 79.9", True),
        (".5 == .5", True),
        (".5 < 1", True),
        ("5. > 4", True),
        ("5. == 5", False),
        ("10 > 9", True),
        # an empty operand (a missing variable) is 0.0
        (" < 90%", True),
        (" < 0", False),
        (" <= 0", True),
        (" == ", True),
        ("0 == ", False),  # text: "0" is not ""
        (" eq 0", False),
        ("90% > ", True),
        (". < 1", True),  # "." is 0.0 too
        # Ruby's \Z: one final newline is allowed (a YAML block scalar leaves it)
        ("1 < 2\n", True),
        ("'a' == 'A'\n", True),
        ("50% < 85%\n", True),
    ],
)
def test_evaluate(expression: str, expected: bool) -> None:
    assert evaluate(expression) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "true",
        "1",
        "'a'",
        "'foo' == 42",  # spec: mixed kinds
        "1 ~= 1",  # spec: unknown operator
        "1 == 'a'",
        "'a' eq 'a'",  # word operators are numbers only
        "'a' ne 'b'",
        "'a' < 'b'",  # strings have no order
        "1 === 1",  # === is strings only
        "'a' = 'a'",
        "'a' <> 'b'",
        "a == b",
        "%{github_branch} === 'master'",  # the Cyclid docs' own example
        "master === 'master'",
        "1==1",  # exactly one space each side
        "1  == 1",
        " 1 == 1",
        "1 == 1 ",
        "'a'=='a'",
        "-1 < 0",  # no sign
        "+1 > 0",
        "1e3 > 1",  # no exponent
        "1,5 > 1",
        "1 0 < 2",
        "90%% < 95",  # %% stays %% in an expression, and only one % may follow
        "1 < 2\n\n",  # one final newline only
        "1 <\n2",
        "'a\nb' == 'a\nb'",  # . does not match a newline
        "1 LT 2",
        "'a' EQ 'a'",
        "1 like 1",
        "\uff11 < \uff12",  # fullwidth digits are not [0-9]
    ],
)
def test_bad_expressions_name_the_expression(expression: str) -> None:
    with pytest.raises(ConditionError) as caught:
        evaluate(expression)
    assert repr(expression) in str(caught.value)
    assert caught.value.expression == expression


@pytest.mark.parametrize(
    ("expression", "captured"),
    [
        ("'O'Brien' == 'o'brien'", ("O'Brien", "==", "o'brien")),
        ("'a' === 'b'", ("a", "===", "b")),
        ("90% <= 85.5%", ("90", "<=", "85.5")),
        (" < 90%", ("", "<", "90")),
        ("1.5 ge .", ("1.5", "ge", ".")),
        ("'x' != ''", ("x", "!=", "")),
    ],
)
def test_what_the_patterns_capture(expression: str, captured: tuple[str, str, str]) -> None:
    assert match_expression(expression) == captured


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        ("%{cov} < 85%", {"cov": "86.08%"}, "86.08% < 85%"),
        ("%{cov} < 85%", {}, " < 85%"),  # missing: empty
        ("'%{branch}' == 'master'", {"branch": "main"}, "'main' == 'master'"),
        ("90%% < 95", {}, "90%% < 95"),  # %% is not a literal % here
        ("%%{a} == 1", {"a": "1"}, "%1 == 1"),
        ("50% == %{n}%", {"n": "50"}, "50% == 50%"),
        ("%{a%{b} == 1", {"b": "1"}, "%{a1 == 1"),
        ("%{x}", {"x": "%{y}"}, "%{y}"),  # values are not scanned again
    ],
)
def test_interpolation_in_expressions(
    expression: str, context: dict[str, str], expected: str
) -> None:
    assert interpolate_expression(expression, context) == expected


@pytest.mark.parametrize(
    ("expression", "context", "expected"),
    [
        # the coverage idiom of real documents, with and without the variable
        ("%{simplecov_coverage} < 85%", {"simplecov_coverage": "86.08%"}, False),
        ("%{simplecov_coverage} < 85%", {"simplecov_coverage": "84.1%"}, True),
        ("%{simplecov_coverage} < 85%", {}, True),
        ("%{cobertura_line_rate} < 90%", {"cobertura_line_rate": "90.0%"}, False),
        # spec: interpolated integers, floats and percentages
        ("%{int} == 42", {"int": "42"}, True),
        ("%{float} == 1.0", {"float": "1.0"}, True),
        ("%{float} == 1", {"float": "1.0"}, False),
        ("%{pct} == 90%", {"pct": "90%"}, True),
        ("'%{s}' == 'this has a % symbol'", {"s": "This has a % symbol"}, True),
    ],
)
def test_interpolated_then_evaluated(
    expression: str, context: dict[str, str], expected: bool
) -> None:
    assert evaluate(interpolate_expression(expression, context)) is expected


@pytest.mark.parametrize(
    ("expression", "rules"),
    [
        # nothing surprising decided these
        ("'a' == 'a'", []),
        ("'a' != 'b'", []),
        ("1 < 2", []),
        ("1.0 == 1.0", []),
        ("2 == 1", []),
        ("is big", []),  # neither form: the stage fails with its own message
        # one rule each
        ("'x' == 'a' == 'b'", ["matched greedily"]),
        ("'a' == 'A'", ["'==' ignores case"]),
        ("'a' != 'A'", ["'!=' is case-sensitive"]),
        ("'a' === 'A'", []),  # === is documented as exact: nothing to say
        ("1.0 == 1", ["compares numbers as text"]),
        ("1 ne 1.00", ["compares numbers as text"]),
        (" < 85", ["left operand is empty", "0.0"]),
        ("5 >= \n", ["right operand is empty", "0.0"]),
        (" == 0", ["left operand is empty", "empty text"]),
        ("90% > 85", ["'%' after a number", "compared 90 > 85"]),
        ("90% == 90", ["'%' after a number", "compared '90' == '90'"]),
        # two rules at once
        (" < 85%", ["left operand is empty", "'%' after a number"]),
    ],
)
def test_evaluation_notes_name_the_rule_that_decided(expression: str, rules: list[str]) -> None:
    notes = evaluation_notes(expression)
    if not rules:
        assert notes == []
    for rule in rules:
        assert any(rule in note for note in notes), (rule, notes)
