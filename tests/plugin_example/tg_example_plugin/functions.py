"""Graph nodes: one simulator and one loss, built from keyword defaults."""

from __future__ import annotations

from concurrent.futures import Executor

import tg_core

from . import prompts
from .counting import word_count


def word_count_simulator(executor: Executor | None = None) -> tg_core.SimulatorFunction:
    return tg_core.SimulatorFunction(
        word_count, purpose=prompts.PURPOSE, name="example.word_count", executor=executor,
        examples=[("one two three",)],
    )


def length_loss(engine: tg_core.Engine | None = None) -> tg_core.TextLoss:
    return tg_core.TextLoss(prompts.LENGTH_JUDGE, engine=engine)
