"""Values as Cyclid's Ruby printed them (`to_s`), for interpolation and shell text.

Cyclid put every value into text with Ruby's `to_s` (`"#{value}"`, `Array#join`): `true`,
`3`, `2.5`, nil as the empty string, and a list or mapping in Ruby's `inspect` form
(`["a", "b"]`, `{"k"=>"v"}`). Documents that print `%{packages}` or export `RETRIES: 3`
depend on exactly that text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["ruby_text"]


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = repr(value)
    # Ruby always shows a fraction: 1e+16 is "1.0e+16" and 3.0 stays "3.0".
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    return mantissa + e + exponent


def _inspect(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, str):
        # JSON's escapes are Ruby's for the characters a document can hold.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inspect(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_inspect(k)}=>{_inspect(v)}" for k, v in value.items()) + "}"
    return ruby_text(value)


def ruby_text(value: Any) -> str:
    """`value.to_s` in Ruby, for the values a JSON or YAML document holds."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, list | tuple | Mapping):
        return _inspect(value)
    # YAML dates and times: Ruby prints them ISO-like too.
    return str(value)
