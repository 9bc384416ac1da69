"""Any Python callable as an engine: for tests, scripted replies and custom backends."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import defaults
from .base import Completion, Messages, ModelEngine, estimate_tokens, messages_text


class FunctionEngine(ModelEngine):
    """``fn(messages, **params)`` returns the reply text (or a ``Completion``); sync or async.

    Sync functions run on a private thread pool when called asynchronously, so
    a slow function (a remote call, a sleep standing in for latency) overlaps
    like a real engine instead of being capped by asyncio's small default pool.
    Token counts are estimated from characters, since a function reports none.
    """

    def __init__(
        self, fn: Callable[..., Any], model: str = "function", max_workers: int = defaults.FUNCTION_ENGINE_WORKERS
    ) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionEngine(fn): fn must be callable, got {type(fn).__name__}")
        super().__init__(model)
        self.fn = fn
        # Two functions behind one model name must not share cached answers.
        self.endpoint = f"python:{getattr(fn, '__module__', '')}:{getattr(fn, '__qualname__', type(fn).__qualname__)}"
        self.max_workers = max_workers
        self._is_async = inspect.iscoroutinefunction(fn)
        self._pool: ThreadPoolExecutor | None = None

    def _completion(self, messages: Messages, text: Any) -> Completion:
        if isinstance(text, Completion):  # a script that needs to say more (finish_reason="length")
            return text
        if not isinstance(text, str):
            raise TypeError(
                f"FunctionEngine: {getattr(self.fn, '__name__', 'fn')} returned "
                f"{type(text).__name__}, expected str"
            )
        prompt = messages_text(messages)
        return Completion(text, estimate_tokens(prompt), estimate_tokens(text), self.model)

    def _send(self, messages: Messages, params: dict[str, Any]) -> Completion:
        if self._is_async:
            from ..aio import run_sync

            return self._completion(messages, run_sync(self.fn(messages, **params)))
        return self._completion(messages, self.fn(messages, **params))

    async def _asend(self, messages: Messages, params: dict[str, Any]) -> Completion:
        if self._is_async:
            return self._completion(messages, await self.fn(messages, **params))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="tg-fn-engine")
        context = contextvars.copy_context()
        call = functools.partial(context.run, self.fn, messages, **params)
        text = await asyncio.get_running_loop().run_in_executor(self._pool, call)
        return self._completion(messages, text)
