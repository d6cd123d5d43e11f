"""Ruby's `String#to_f`, `Float#round(2)` and `Float#to_s`, as Cyclid's coverage actions
format the values documents compare (`"90.0%"`, never `"90%"`, for a float)."""

from __future__ import annotations

import math
import re

__all__ = ["round2", "to_f", "to_s"]

# Ruby reads the longest number at the start and ignores the rest ("0.9abc" is 0.9, "" 0.0);
# an underscore may sit between digits.
_LEADING_NUMBER = re.compile(r"\s*([+-]?(?:\d(?:_?\d)*)?(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d+)?)")


def to_f(text: str) -> float:
    match = _LEADING_NUMBER.match(text)
    number = match[1].replace("_", "") if match else ""
    try:
        return float(number)
    except ValueError:
        # A lone sign or an exponent without a mantissa: Ruby keeps what it could read.
        return to_f(number[:-1]) if number else 0.0


def round2(value: float) -> float:
    """`Float#round(2)`: half away from zero, corrected as Ruby's `round_half_up` does, so
    `1.005` gives 1.01 (Python's `round` gives 1.0)."""
    if not math.isfinite(value) or value == 0:
        return value
    scaled = value * 100
    f = math.floor(abs(scaled) + 0.5) * (1 if scaled > 0 else -1)
    if value > 0 and (f + 0.5) / 100 <= value:
        f += 1
    elif value < 0 and (f - 0.5) / 100 >= value:
        f -= 1
    return f / 100


def to_s(value: float) -> str:
    """`Float#to_s` for the magnitudes coverage has: the shortest repr, always with a `.`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))
