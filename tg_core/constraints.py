"""Constraints the program checks: each says why a value fails, or nothing.

A small model ignores "at most 30 words" in a prompt most of the time; a
checked constraint is enforced instead: the optimizer re-asks with the reason
("your text has 53 words; at most 30") and never accepts a value that fails.
The length limits also carry a repair, a projection onto the texts they allow:
the leading whole sentences that fit. The embedded model, re-asked with the
reason in a short prompt, wrote a text within 30 words and 2 sentences for 1
of 6 over-long answers of a tg run text step; the projection keeps the opening
claim of each, which the judge then scores like any candidate.
"""

from __future__ import annotations

from collections.abc import Callable

from .optimizer import Constraint
from .sentences import sentences


def count_words(text: str) -> int:
    return len(text.split())


def count_sentences(text: str) -> int:
    return len(sentences(text))


def leading_sentences(text: str, fits: Callable[[str], bool]) -> str | None:
    """The most leading whole sentences of ``text`` that ``fits`` accepts, or ``None`` if not even one."""
    parts = sentences(text)
    for n in range(len(parts), 0, -1):
        if fits(candidate := " ".join(parts[:n])):
            return candidate
    return None


def max_words(limit: int) -> Constraint:
    """At most ``limit`` words (split on whitespace)."""
    if limit < 1:
        raise ValueError(f"max_words: the limit must be at least 1, got {limit}")

    def check(value: str) -> str | None:
        n = count_words(value)
        return f"your text has {n} words; it must have at most {limit}" if n > limit else None

    return Constraint(f"At most {limit} words.", check,
                      lambda value: leading_sentences(value, lambda t: count_words(t) <= limit))


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

    return Constraint("Exactly one sentence." if limit == 1 else f"At most {limit} sentences.", check,
                      lambda value: leading_sentences(value, lambda t: count_sentences(t) <= limit))
