"""Calls whose prompts open the same way take turns on servers that cache a prefix per slot.

llama.cpp (the embedded engine, ``tg serve``, llama-server) keeps an
evaluated prefix only in the slot that evaluated it. Calls sent at once
land in different slots and each evaluates the shared prefix again: the k
optimizer candidates of a molecule step evaluated the same 1,444-token
prompt four times (68 s on 2 cores). Sent one after another, every later
call finds the prefix in the slot the last one left and only generates.
Prompts shorter than ``defaults.SHARED_PREFIX_CHARS`` are cheap to evaluate
again and never wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

from . import defaults
from .base import Messages, content_text


def prefix_key(messages: Messages) -> str | None:
    """The opening of the prompt that decides whose turn it is, or ``None`` for a short prompt."""
    text = "\n".join(content_text(m["content"]) for m in messages)
    return text[: defaults.SHARED_PREFIX_CHARS] if len(text) >= defaults.SHARED_PREFIX_CHARS else None


class PrefixTurns:
    """One turn at a time per prompt opening, for threads (``turn``) and for event loops (``aturn``)."""

    def __init__(self) -> None:
        self._busy: set[str] = set()
        self._changed = threading.Condition()
        self._loops: weakref.WeakKeyDictionary[Any, dict[str, list[Any]]] = weakref.WeakKeyDictionary()

    @contextlib.contextmanager
    def turn(self, messages: Messages) -> Iterator[None]:
        key = prefix_key(messages)
        if key is None:
            yield
            return
        with self._changed:
            while key in self._busy:
                self._changed.wait()
            self._busy.add(key)
        try:
            yield
        finally:
            with self._changed:
                self._busy.discard(key)
                self._changed.notify_all()

    @contextlib.asynccontextmanager
    async def aturn(self, messages: Messages) -> AsyncIterator[None]:
        key = prefix_key(messages)
        if key is None:
            yield
            return
        # An asyncio lock belongs to its loop: one table per loop, an entry per opening in use.
        locks = self._loops.setdefault(asyncio.get_running_loop(), {})
        entry = locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del locks[key]
