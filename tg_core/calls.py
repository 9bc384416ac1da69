"""The one path by which graph nodes and the optimizer reach an engine.

It labels each call with its role in the graph (for the run log) and bounds
how many calls are in flight for one backward pass, map or step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engines.base import Completion, Engine

call_role: ContextVar[str] = ContextVar("tg_call_role", default="direct")
_slots: ContextVar[asyncio.Semaphore | None] = ContextVar("tg_call_slots", default=None)


@contextlib.contextmanager
def calls_limited_to(max_concurrency: int | None) -> Iterator[None]:
    """Bound the concurrent engine calls made inside this block (per event loop).

    ``None`` sets no bound here, so a pass takes (graph depth x latency)
    whatever the batch size; an engine's own limit (``get_engine(...,
    max_concurrency=)``) is where a server's or an API's capacity belongs.
    """
    if max_concurrency is None:
        yield
        return
    if not isinstance(max_concurrency, int) or isinstance(max_concurrency, bool) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
    token = _slots.set(asyncio.Semaphore(max_concurrency))
    try:
        yield
    finally:
        _slots.reset(token)


@contextlib.asynccontextmanager
async def _slot() -> AsyncIterator[None]:
    slots = _slots.get()
    if slots is None:
        yield
        return
    async with slots:
        yield


async def ask(engine: Engine, messages: list[dict[str, str]], role: str, **params) -> str:
    return (await ask_completion(engine, messages, role, **params)).text


async def ask_completion(engine: Engine, messages: list[dict[str, str]], role: str, **params) -> Completion:
    """The whole completion, for callers that must know why an answer ended (cut at max_tokens)."""
    from .engines.base import check_messages

    token = call_role.set(role)
    try:
        async with _slot():
            return await engine.acomplete(check_messages(messages), **params)
    finally:
        call_role.reset(token)
