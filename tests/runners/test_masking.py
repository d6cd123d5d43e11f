import random

import pytest

from jobstream.runners.masking import Masker
from jobstream.runners.process import LineSplitter


def test_every_occurrence_of_every_secret_is_masked() -> None:
    masker = Masker(["hunter2", "tok"])
    assert masker.mask("a hunter2 b hunter2 tok") == "a *** b *** ***"


def test_longest_value_first() -> None:
    assert Masker(["abc", "abcdef"]).mask("xabcdefx") == "x***x"


def test_each_line_of_a_multi_line_secret() -> None:
    masker = Masker(["first-line\nsecond-line\r\nthird"])
    assert masker.mask_lines(["first-line", "x second-line", "third"]) == ["***", "x ***", "***"]


def test_empty_secrets_are_ignored_and_no_secret_is_a_fast_path() -> None:
    masker = Masker(["", "\n"])
    assert not masker
    lines = ["a", "b"]
    assert masker.mask_lines(lines) is lines
    assert masker.mask("a") == "a"


def test_mask_lines_keeps_the_list_when_nothing_matches() -> None:
    masker = Masker(["secret"])
    lines = ["nothing", "here"]
    assert masker.mask_lines(lines) is lines
    assert masker.mask_lines(["a secret", "b", "secretsecret"]) == ["a ***", "b", "******"]


def test_regex_characters_are_literal() -> None:
    assert Masker(["a.b*"]).mask("a.b* axbb") == "*** axbb"


def test_secret_straddling_a_cut_is_masked() -> None:
    stream = Masker(["0123456789"]).stream()
    out = stream.feed(["x" * 20 + "01234", "56789 tail"], continued={0})
    assert "".join(out) == "x" * 20 + "*** tail"
    assert not any("01234" in line or "56789" in line for line in out)


def test_held_back_tail_crosses_outputs() -> None:
    stream = Masker(["0123456789"]).stream()
    first = stream.feed(["y" * 30 + "0123"], continued={0})
    second = stream.feed(["456789", "next"])
    assert first == ["y" * 25]
    assert second == ["y" * 5 + "***", "next"]


def test_piece_shorter_than_the_hold_back_is_kept_whole() -> None:
    stream = Masker(["0123456789"]).stream()
    assert stream.feed(["abc"], continued={0}) == []
    assert stream.feed(["012"], continued={0}) == []
    assert stream.feed(["3456789!", "next"]) == ["abc***!", "next"]


@pytest.mark.parametrize("seed", range(20))
def test_secret_anywhere_in_an_over_long_line_never_leaks(seed: int) -> None:
    rng = random.Random(seed)
    secret = "S3CRET-" + "".join(rng.choice("abcdef") for _ in range(rng.randint(1, 40)))
    limit = 64
    text = "".join(rng.choice("xyz ") for _ in range(rng.randint(100, 400)))
    for _ in range(rng.randint(1, 5)):
        at = rng.randint(0, len(text))
        text = text[:at] + secret + text[at:]
    data = (text + "\nafter " + secret + "\n").encode()
    splitter = LineSplitter(max_line=limit)
    stream = Masker([secret]).stream()
    out: list[str] = []
    position = 0
    while position < len(data):
        step = rng.randint(1, 90)
        lines, continued = splitter.feed(data[position : position + step])
        out += stream.feed(lines, continued)
        position += step
    out += stream.feed(splitter.finish())
    assert not any(secret in line for line in out)
    assert "".join(out[:-1]) == text.replace(secret, "***")
    assert out[-1] == "after ***"
