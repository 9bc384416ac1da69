"""Echoes: copies of a variable's own value inside its feedback, shown once.

The optimizer prompt shows the value in ``<VARIABLE>``. Its feedback shows it
again: the context of each piece is the call that used the value (so it holds
the value), and a small model quotes the value back in its output and in the
feedback it writes ("here is the updated code:" over the same code). With
the embedded model the optimizer then copies what it read most often, the
value itself, and the answer is discarded as already tried: the call is paid
for nothing. Each copy after the one in ``<VARIABLE>`` is replaced by a short
marker, so the value is read once, the prompt is shorter, and the feedback's
own words stand out.

A reviewer also writes code of its own into the feedback, and the optimizer
copies it; once that code has been evaluated and failed, the same feedback
(a value's judgement is computed once) leads to the same copy, step after
step, each discarded as already tried. A copy of a value already evaluated
is replaced by a marker that says what it measured, so the feedback's
suggestion reads as what it is: tried, with this result.

Measured with ``bench/echo_replay.py`` (``bench/results/echo-replay.json``):
the 53 recorded optimizer calls of the code quality benchmark's tg-core runs
(per-step seeds 0 to 2, and seed 2 again with the value's copies pruned)
whose answer was the value or a value listed as evaluated, sent again to the
same model with the same seed. As recorded, 49 repeated a tried value again;
without the copies, 31. Of the 42 calls from before any pruning, 39 and 24;
of the 11 where only the evaluated values' copies were left, 10 and 7. The
prompts were 2,400 tokens on average as recorded and 2,181 without copies.

Only values of at least ``MIN_CHARS`` characters are matched: a short value
("Paris", a number) is a word the feedback needs, not an echo. A fenced block
is an echo when its non-blank lines, trailing spaces stripped, are the
value's; anywhere else the value must appear verbatim. Each piece's context
and text are matched on their own, before any is cut to fit a budget, so a
fence is never paired with one from another piece.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from . import prompts

if TYPE_CHECKING:
    from .variable import Feedback

MIN_CHARS = 100
FENCED = re.compile(r"```[^\n`]*\n(.*?)```", re.S)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines() if line.strip()]


def _replaced(text: str, value: str, marker: str) -> str:
    value = value.strip()
    if len(value) < MIN_CHARS:
        return text
    lines = _lines(value)
    text = FENCED.sub(lambda block: marker if _lines(block[1]) == lines else block[0], text)
    return text.replace(value, marker)


def without_echoes(text: str, value: str, evaluated: Sequence[tuple[str, str]] = ()) -> str:
    """``text`` with every copy of ``value`` replaced by :data:`prompts.ECHOED_VALUE`, and every copy of an
    ``evaluated`` (value, outcome) pair's value by :data:`prompts.ECHOED_EVALUATED` naming its outcome."""
    for other, outcome in evaluated:
        if other.strip() != value.strip():
            text = _replaced(text, other, prompts.ECHOED_EVALUATED.format(outcome=outcome))
    return _replaced(text, value, prompts.ECHOED_VALUE)


def feedback_without_echoes(feedback: list[Feedback], value: str,
                            evaluated: Sequence[tuple[str, str]] = ()) -> list[Feedback]:
    """Each piece with the copies in its context and text replaced; the pieces kept are untouched."""
    return [replace(f, text=without_echoes(f.text, value, evaluated),
                    context=without_echoes(f.context, value, evaluated) if f.context else f.context)
            for f in feedback]
