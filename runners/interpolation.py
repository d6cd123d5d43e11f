"""`%{name}` interpolation of job text (JOB-FORMAT.md "Interpolation").

One left-to-right pass with a regular expression, so malformed input cannot loop (Cyclid
once hung on a bare `%`): `%{name}` becomes the context value, or the empty string when
the name is missing; `%%` becomes `%`; a `%` followed by anything else, and a `%{` with
no closing `}`, stay as they are. Replaced text is never scanned again, so a value that
itself holds `%{...}` is inserted literally.

Cyclid used Ruby's `format` here, where a bare `%Y` crashed the job and `%<name>s` was a
directive; keeping both as they are is jobstream's choice, and lint warns about them
(`events.documents.cyclidlint`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Context values become text as Cyclid's Ruby printed them: `true`, nil as "", `["a", "b"]`.
from jobstream.events.documents.rubytext import ruby_text as as_text

__all__ = ["as_text", "interpolate"]

# A name holds no brace, so in `%{a%{b}` only `%{b}` is a reference.
_TOKEN = re.compile(r"%(?:%|\{([^{}]*)\})")


def interpolate(text: str, context: Mapping[str, str]) -> str:
    if "%" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return "%" if name is None else context.get(name, "")

    return _TOKEN.sub(replace, text)
