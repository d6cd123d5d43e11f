import pytest

from jobstream.runners.interpolation import as_text, interpolate

CONTEXT = {"name": "world", "n": "3", "empty": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello %{name}", "hello world"),
        ("%{name}%{n}", "world3"),
        ("%{missing}x", "x"),
        ("100%% sure", "100% sure"),
        ("%%{name}", "%{name}"),
        ("50% done", "50% done"),
        ("trailing %", "trailing %"),
        ("%{name", "%{name"),
        ("%{", "%{"),
        ("%{a%{name}", "%{aworld"),
        ("%}", "%}"),
        ("no percent", "no percent"),
        ("%%%{n}%", "%3%"),
    ],
)
def test_interpolate(text: str, expected: str) -> None:
    assert interpolate(text, CONTEXT) == expected


def test_replaced_text_is_not_scanned_again() -> None:
    assert interpolate("%{a}", {"a": "%{b}", "b": "no"}) == "%{b}"


def test_malformed_input_does_not_hang() -> None:
    text = "%{" * 10_000 + "%" * 10_001
    assert interpolate(text, CONTEXT).startswith("%{%{")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("x", "x"),
        (3, "3"),
        (1.5, "1.5"),
        (2.0, "2.0"),
        (1e20, "1.0e+20"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (["a", 1, None, True], '["a", 1, nil, true]'),
        ({"k": "v", "n": [1.5]}, '{"k"=>"v", "n"=>[1.5]}'),
    ],
)
def test_as_text_prints_values_as_cyclids_ruby_did(value: object, expected: str) -> None:
    assert as_text(value) == expected
