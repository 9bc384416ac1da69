"""Splitting text into sentences: the unit the length limits count and their repairs keep or drop."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?]+(?:[\"')\]]*)(?=\s|$)")


def sentences(text: str) -> list[str]:
    """Sentences end with . ! or ? before a space or the end; a trailing fragment counts as one."""
    text = text.strip()
    parts, start = [], 0
    for end in _SENTENCE_END.finditer(text):
        parts.append(text[start:end.end()].strip())
        start = end.end()
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts
