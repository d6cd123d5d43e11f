import pytest

from jobstream.runners.conditions import ConditionError, evaluate


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'a' == 'A'", True),
        ("'a' == 'b'", False),
        ("'a' === 'A'", False),
        ("'a' === 'a'", True),
        ("'a' eq 'A'", False),
        ("'abc' eq 'abc'", True),
        ("'a' != 'A'", False),  # decided: the negation of ==, so case-insensitive
        ("'a' != 'b'", True),
        ("'a' ne 'A'", False),
        ("'a' ne 'b'", True),
        ("'a' < 'b'", True),
        ("'B' lt 'a'", True),  # code-point order, case-sensitive
        ("'b' > 'a'", True),
        ("'a' gt 'b'", False),
        ("'a' <= 'a'", True),
        ("'b' le 'a'", False),
        ("'a' >= 'a'", True),
        ("'a' ge 'b'", False),
        ("'' == ''", True),
        ("'with space' == 'WITH SPACE'", True),
        ("1 == 1.0", True),
        ("1 === 1", True),
        ("2 eq 2.0", True),
        ("1 != 2", True),
        ("1 ne 1", False),
        ("1 < 2", True),
        ("10 lt 9", False),
        ("2 > 1", True),
        ("1 gt 2", False),
        ("2 <= 2", True),
        ("3 le 2", False),
        ("2 >= 2", True),
        ("1 ge 2", False),
        ("-1.5 < 0", True),
        (".5 == 0.5", True),
        ("50% == 50", True),
        ("50% < 60%", True),
        ("99.5% >= 100%", False),
        ("80% gt 79.9", True),
        ("  1==1  ", True),
        ("'10' > '9'", False),  # strings compare as strings
    ],
)
def test_evaluate(expression: str, expected: bool) -> None:
    assert evaluate(expression) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "true",
        "'a' == 'b' == 'c'",
        "'a' == 1",
        "1 == 'a'",
        "'a' = 'a'",
        "'a' <> 'b'",
        "a == b",
        "'unclosed == 'a'",
        "1 == ",
        "1 ==",
        "%1 == 1",
        "1 like 1",
        "'a' EQ 'a'",
    ],
)
def test_bad_expressions_name_the_expression(expression: str) -> None:
    with pytest.raises(ConditionError) as caught:
        evaluate(expression)
    assert repr(expression) in str(caught.value)
    assert caught.value.expression == expression
