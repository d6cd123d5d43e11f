"""Secret masking: every secret value in a log line becomes `***` before the line leaves.

Log lines never contain a newline, so a multi-line secret is masked line by line: each of
its lines (and the whole value, when it has no newline) is a value to mask. Values are
tried longest first, so a secret that contains another is masked whole.

A process's over-long line reaches the masker in pieces (`process.Output.continued`). A
`MaskingStream` keeps the last `len(longest) - 1` characters of such a piece back and puts
them in front of the next piece, so a secret cut in two is still seen whole.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

__all__ = ["MASK", "Masker", "MaskingStream"]

MASK = "***"


class Masker:
    """Masks every non-empty secret value, and each line of a multi-line one."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values: set[str] = set()
        for secret in secrets:
            if "\n" not in secret:
                values.add(secret)
            values.update(secret.splitlines())
        values.discard("")
        ordered = sorted(values, key=len, reverse=True)
        self._values = ordered
        # Alternatives are tried in order at each position, so longest first wins.
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.longest = len(ordered[0]) if ordered else 0

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, line: str) -> str:
        if self._pattern is None:
            return line
        return self._pattern.sub(MASK, line)

    def mask_lines(self, lines: list[str]) -> list[str]:
        """The lines masked; the same list when nothing in it needs masking."""
        if self._pattern is None:
            return lines
        # One look over the joined batch instead of one per line: most batches hold no
        # secret at all, and `in` per value beats the regex alternation by far for the few
        # values a job has. No value contains a newline, so no match spans two lines and
        # the substituted text splits back into as many lines.
        joined = "\n".join(lines)
        if not any(value in joined for value in self._values):
            return lines
        return self._pattern.sub(MASK, joined).split("\n")

    def mask_head(self, text: str) -> tuple[str, str]:
        """Mask what is safe to let go of `text`, which goes on in a later piece.

        Returns (masked head, rest to put in front of the next piece). Every match that
        starts before the last `longest - 1` characters lies wholly in `text`; one that
        starts later might go on in the next piece, so that part is kept back unmasked.
        """
        if self._pattern is None:
            return text, ""
        keep_from = len(text) - (self.longest - 1)
        if keep_from <= 0:
            return "", text
        parts: list[str] = []
        pos = 0
        for match in self._pattern.finditer(text):
            if match.start() >= keep_from:
                break
            parts += (text[pos : match.start()], MASK)
            pos = match.end()
        cut = max(keep_from, pos)
        parts.append(text[pos:cut])
        return "".join(parts), text[cut:]

    def stream(self) -> MaskingStream:
        """A masker for one output stream, which may deliver cut lines."""
        return MaskingStream(self)


class MaskingStream:
    """Masks the lines of one stream, holding back the tail of a cut line's piece."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        self._carry = ""

    def feed(self, lines: list[str], continued: Collection[int] = ()) -> list[str]:
        """The masked lines; a held-back piece may make this shorter than `lines`."""
        if not continued and not self._carry:
            return self._masker.mask_lines(lines)
        out: list[str] = []
        for index, line in enumerate(lines):
            text, self._carry = self._carry + line, ""
            if index in continued:
                head, self._carry = self._masker.mask_head(text)
                if head:
                    out.append(head)
            else:
                out.append(self._masker.mask(text))
        return out
