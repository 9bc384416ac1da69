"""Stop a run before it spends more than allowed (calls, tokens or dollars).

The check happens before each call, using the usage shared by the engine's
layers and an estimate of the next call's prompt, so the budget is not
exceeded by the call that discovers it. Cache hits cost nothing and pass.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import BudgetExceededError
from .base import Completion, Engine, EngineLayer, Messages, estimate_tokens, messages_text
from .prices import price_of


@dataclass(frozen=True)
class Budget:
    max_calls: int | None = None
    max_tokens: int | None = None
    max_usd: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_calls", "max_tokens", "max_usd"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"Budget: {name} must be a positive number, got {value!r}")


class BudgetedEngine(EngineLayer):
    def __init__(self, inner: Engine, budget: Budget) -> None:
        super().__init__(inner)
        if not isinstance(budget, Budget):
            raise TypeError(f"budget must be a tg_core.engines.Budget, got {type(budget).__name__}")
        self.budget = budget
        self._lock = threading.Lock()
        self._in_flight = 0

    @contextlib.contextmanager
    def _reserved(self, messages: Messages) -> Iterator[None]:
        """Check and hold a place, so concurrent calls cannot all pass one last slot."""
        with self._lock:
            self._check(messages)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _check(self, messages: Messages) -> None:
        usage, budget = self.usage, self.budget
        prompt_tokens = estimate_tokens(messages_text(messages))
        if budget.max_calls is not None and usage.calls + self._in_flight + 1 > budget.max_calls:
            raise BudgetExceededError(f"budget of {budget.max_calls} LLM calls reached ({usage.calls} made)")
        if budget.max_tokens is not None and usage.total_tokens + prompt_tokens > budget.max_tokens:
            raise BudgetExceededError(
                f"budget of {budget.max_tokens} tokens reached ({usage.total_tokens} used, "
                f"the next prompt needs about {prompt_tokens})"
            )
        if budget.max_usd is not None:
            next_cost = prompt_tokens * price_of(self.model)[0] / 1e6
            if usage.cost_usd + next_cost > budget.max_usd:
                raise BudgetExceededError(
                    f"budget of ${budget.max_usd:.4f} reached (${usage.cost_usd:.4f} spent)"
                )

    def complete(self, messages: Messages, **params: Any) -> Completion:
        with self._reserved(messages):
            return self.inner.complete(messages, **params)

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        with self._reserved(messages):
            return await self.inner.acomplete(messages, **params)
