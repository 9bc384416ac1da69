"""Retries with capped, jittered exponential backoff, honouring Retry-After.

Only errors that can succeed on retry are retried (rate limits, server
errors, timeouts, lost connections); a bad request fails at once. Engines mark
their errors with ``retryable`` and ``retry_after``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from . import defaults
from .base import Completion, Engine, EngineLayer, Messages

log = logging.getLogger(__name__)


def is_retryable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retryable", False))


def delay_before_retry(attempt: int, exc: BaseException, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based)."""
    hinted = getattr(exc, "retry_after", None)
    if hinted is not None and 0 <= hinted <= defaults.MAX_RETRY_AFTER_S:
        return float(hinted)
    ceiling = min(defaults.MAX_DELAY_S, defaults.INITIAL_DELAY_S * 2 ** (attempt - 1))
    return ceiling * (0.5 + rng.random() / 2)


class RetryingEngine(EngineLayer):
    def __init__(
        self,
        inner: Engine,
        max_retries: int = defaults.MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        asleep: Callable[[float], Any] = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        super().__init__(inner)
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        self.max_retries = max_retries
        self._sleep = sleep
        self._asleep = asleep
        self._rng = random.Random(seed)

    def _next_delay(self, attempt: int, exc: BaseException) -> float | None:
        if attempt > self.max_retries or not is_retryable(exc):
            return None
        delay = delay_before_retry(attempt, exc, self._rng)
        log.debug("retry %d/%d in %.2fs after %s", attempt, self.max_retries, delay, exc)
        return delay

    def complete(self, messages: Messages, **params: Any) -> Completion:
        attempt = 0
        while True:
            try:
                return self.inner.complete(messages, **params)
            except Exception as exc:
                attempt += 1
                delay = self._next_delay(attempt, exc)
                if delay is None:
                    raise
                self._sleep(delay)

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        attempt = 0
        while True:
            try:
                return await self.inner.acomplete(messages, **params)
            except Exception as exc:
                attempt += 1
                delay = self._next_delay(attempt, exc)
                if delay is None:
                    raise
                await self._asleep(delay)
