"""`%{name}` interpolation of job text (JOB-FORMAT.md "Interpolation").

One left-to-right pass with a regular expression, so malformed input cannot loop (Cyclid
once hung on a bare `%`): `%{name}` becomes the context value, or the empty string when
the name is missing; `%%` becomes `%`; a `%` followed by anything else, and a `%{` with
no closing `}`, stay as they are. Replaced text is never scanned again, so a value that
itself holds `%{...}` is inserted literally.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["as_text", "interpolate"]

# A name holds no brace, so in `%{a%{b}` only `%{b}` is a reference.
_TOKEN = re.compile(r"%(?:%|\{([^{}]*)\})")


def as_text(value: Any) -> str:
    """A context value as text: strings as they are, numbers as written, the rest as JSON.

    Booleans and null are JSON (`true`, `null`) like the YAML or JSON they came from, and
    lists or mappings (e.g. `environment.packages`) are JSON rather than Python reprs.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value, sort_keys=True)


def interpolate(text: str, context: Mapping[str, str]) -> str:
    if "%" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return "%" if name is None else context.get(name, "")

    return _TOKEN.sub(replace, text)
