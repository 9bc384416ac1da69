"""Scripted model answers for the quality benchmark's tests, by the kind of request.

An optimizer request (tg-core's and textgrad's both ask for <IMPROVED_VARIABLE>
tags) gets the next value of ``values``; GEPA's reflection request (its
default template asks for the text "within ``` blocks") gets it fenced; a
request for a SCORE line gets one; anything else gets ``default``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence


def scripted(values: Sequence[str], default: str = "Be more specific.", score: int = 7) -> Callable[[dict], str]:
    turn = itertools.count()

    def reply(body: dict) -> str:
        text = "\n".join(m["content"] for m in body["messages"])
        if "<IMPROVED_VARIABLE>" in text:
            return f"<IMPROVED_VARIABLE>{values[next(turn) % len(values)]}</IMPROVED_VARIABLE>"
        if "within ``` blocks" in text:
            return f"```\n{values[next(turn) % len(values)]}\n```"
        if "SCORE" in text:
            return f"Fine.\nSCORE: {score}"
        return default

    return reply
