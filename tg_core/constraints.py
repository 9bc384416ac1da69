"""Constraints the program checks: each says why a value fails, or nothing.

A small model ignores "at most 30 words" in a prompt most of the time; a
checked constraint is enforced instead: the optimizer re-asks with the reason
("your text has 53 words; at most 30") and never accepts a value that fails.
"""

from __future__ import annotations

import re

from .optimizer import Constraint

_SENTENCE_END = re.compile(r"[.!?]+(?:[\"')\]]*)(?=\s|$)")


def count_words(text: str) -> int:
    return len(text.split())


def count_sentences(text: str) -> int:
    """Sentences end with . ! or ? before a space or the end; a trailing fragment counts as one."""
    text = text.strip()
    if not text:
        return 0
    ends = list(_SENTENCE_END.finditer(text))
    tail = text[ends[-1].end():].strip() if ends else text
    return len(ends) + (1 if tail else 0)


def max_words(limit: int) -> Constraint:
    """At most ``limit`` words (split on whitespace)."""
    if limit < 1:
        raise ValueError(f"max_words: the limit must be at least 1, got {limit}")

    def check(value: str) -> str | None:
        n = count_words(value)
        return f"your text has {n} words; it must have at most {limit}" if n > limit else None

    return Constraint(f"At most {limit} words.", check)


def max_sentences(limit: int) -> Constraint:
    """At most ``limit`` sentences."""
    if limit < 1:
        raise ValueError(f"max_sentences: the limit must be at least 1, got {limit}")

    def check(value: str) -> str | None:
        n = count_sentences(value)
        if n <= limit:
            return None
        must = "exactly one" if limit == 1 else f"at most {limit}"
        return f"your text has {n} sentences; it must be {must}"

    return Constraint("Exactly one sentence." if limit == 1 else f"At most {limit} sentences.", check)
