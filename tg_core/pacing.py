"""Spread a budget of LLM calls over the steps left, so a budgeted run does all its steps.

A step judges the best value, sends its feedback back, then asks
``candidates`` proposals and measures each. At full width a budget meant for
five steps can go in one: tg-core asks several candidates per step where
textgrad asks one, and a judged candidate costs a few calls more. A user who
gives ``--max-calls`` and ``--steps`` expects the steps, so with a call budget
the loop gives each step an equal share of the calls left and asks as many
candidates as that share pays for (never fewer than one, never more than
asked for). The prices come from what the run has spent: before the first
step, a candidate costs two calls (its proposal and one answer asked again: a
small model often repeats a value or breaks a constraint) plus what
evaluating the start cost, and the feedback three calls per track (the
judgement, then backward through the simulator's report to the value); after
a step, what that step's feedback and candidates cost. A step that still
cannot be paid for ends the run as any spent budget does, keeping what it
measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engines.base import layers

# the prices until a step measures them
FIRST_FEEDBACK_CALLS = 3.0  # judge, report's feedback, value's feedback
FIRST_ASKING_CALLS = 2.0  # a proposal and one answer asked again


def call_budget(engine: Any) -> int | None:
    """The ``max_calls`` of the budget layer around ``engine``, or ``None`` when calls are not limited."""
    limits = (getattr(getattr(layer, "budget", None), "max_calls", None) for layer in layers(engine))
    return next((int(limit) for limit in limits if limit is not None), None)


@dataclass
class Pace:
    """What a step's feedback and each of its candidates cost, measured as the run goes."""

    max_calls: int
    feedback_calls: float | None = None  # per track and step
    candidate_calls: float | None = None  # one proposal and its evaluation

    def width(self, wanted: int, used: int, steps_left: int, tracks: int, evaluation_calls: float) -> int:
        """Candidates per track for this step: as many of ``wanted`` as an equal share of the calls left buys.

        ``evaluation_calls`` is what evaluating one value cost (the start's), the
        price of a candidate until a step has measured one.
        """
        share = (self.max_calls - used) / max(1, steps_left)
        feedback = self.feedback_calls if self.feedback_calls is not None else FIRST_FEEDBACK_CALLS
        candidate = self.candidate_calls if self.candidate_calls is not None else FIRST_ASKING_CALLS + evaluation_calls
        affordable = (share - feedback * tracks) / max(candidate * tracks, 1e-9)
        return max(1, min(wanted, int(affordable)))

    def record(self, feedback_calls: int, candidate_calls: int, tracks: int, asked: int) -> None:
        """A finished step: the calls its feedback made and those its ``asked`` candidates made."""
        if tracks:
            self.feedback_calls = feedback_calls / tracks
        if asked:
            self.candidate_calls = candidate_calls / asked
