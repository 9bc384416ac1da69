"""The engine protocol: chat messages in, text out, usage accounted.

Real engines implement ``_send``/``_asend`` and inherit accounting and event
reporting from ``ModelEngine``; cross-cutting behaviour (cache, retries,
limits, budgets) wraps any engine as an ``EngineLayer`` sharing its usage.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..calls import call_role
from ..errors import EngineConfigError
from ..events import emit

if TYPE_CHECKING:
    from .prices import Price

Messages = list[dict[str, Any]]

_ROLES = {"system", "user", "assistant"}


@dataclass
class Completion:
    """One answer. ``prompt_tokens`` counts the whole prompt; ``cached_prompt_tokens`` the part of it
    the backend served from its prefix cache instead of evaluating (billed at a discount by
    providers, nearly free locally). ``cached`` says the answer itself came from the response cache.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""
    cached: bool = False
    finish_reason: str = "stop"
    cached_prompt_tokens: int = 0

    @property
    def evaluated_prompt_tokens(self) -> int:
        return self.prompt_tokens - self.cached_prompt_tokens


@dataclass
class Usage:
    """Counters shared by an engine and every layer wrapped around it."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def record_call(self, completion: Completion, latency_s: float, cost_usd: float) -> None:
        with self._lock:
            self.calls += 1
            self.prompt_tokens += completion.prompt_tokens
            self.cached_prompt_tokens += completion.cached_prompt_tokens
            self.completion_tokens += completion.completion_tokens
            self.latency_s += latency_s
            self.cost_usd += cost_usd

    def add_prior(self, prior: dict[str, float]) -> None:
        """Count calls made before a resume, so totals and budgets span the whole run."""
        with self._lock:
            self.calls += int(prior.get("calls", 0))
            self.prompt_tokens += int(prior.get("prompt_tokens", 0))
            self.cached_prompt_tokens += int(prior.get("cached_prompt_tokens", 0))
            self.completion_tokens += int(prior.get("completion_tokens", 0))
            self.cost_usd += float(prior.get("cost_usd", 0.0))

    def record_cache_hit(self) -> None:
        with self._lock:
            self.cache_hits += 1

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def evaluated_prompt_tokens(self) -> int:
        """Prompt tokens the backend actually processed (the rest came from its prefix cache)."""
        return self.prompt_tokens - self.cached_prompt_tokens

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        data["evaluated_prompt_tokens"] = self.evaluated_prompt_tokens
        data["total_tokens"] = self.total_tokens
        return data

    def summary_line(self) -> str:
        return (
            f"{self.calls} LLM calls, {self.cache_hits} cache hits, "
            f"{self.prompt_tokens} prompt ({self.cached_prompt_tokens} cached) + "
            f"{self.completion_tokens} completion tokens, ${self.cost_usd:.4f}"
        )


def _is_part(part: Any) -> bool:
    if not isinstance(part, dict):
        return False
    if part.get("type") == "text":
        return isinstance(part.get("text"), str)
    return part.get("type") == "image_url" and isinstance((part.get("image_url") or {}).get("url"), str)


def check_messages(messages: Any) -> Messages:
    """Content is text, or a list of OpenAI-style parts (text and image_url) for images."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise ValueError(f"messages[{i}] needs a role among {sorted(_ROLES)}: {m!r}")
        content = m.get("content")
        if not isinstance(content, str) and not (
            isinstance(content, list) and content and all(_is_part(p) for p in content)
        ):
            raise ValueError(f"messages[{i}]['content'] must be text or a list of text/image_url parts")
    return messages


def content_text(content: str | list[dict[str, Any]]) -> str:
    """The text of a message's content (image parts carry none)."""
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p.get("type") == "text")


def messages_text(messages: Messages) -> str:
    return "".join(content_text(m["content"]) for m in messages)


def as_messages(prompt: str | Messages, system_prompt: str | None) -> Messages:
    """Chat messages from TextGrad's ``generate(prompt, system_prompt=...)`` call shape."""
    if isinstance(prompt, str):
        head = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
        return [*head, {"role": "user", "content": prompt}]
    if system_prompt is not None:
        raise ValueError("system_prompt= goes with a text prompt; with messages, put it in the first message")
    return prompt


def check_engine(engine: Any, where: str) -> None:
    if not isinstance(engine, Engine):
        raise EngineConfigError(
            f"{where} must be an engine (tg_core.get_engine(...) or "
            f"tg_core.engines.FunctionEngine(fn)), got {type(engine).__name__}"
        )


def estimate_tokens(text: str) -> int:
    """About four characters per token: used where a backend reports no usage."""
    return max(1, len(text) // 4) if text else 0


class Engine:
    """What Functions and optimizers call. Subclasses give ``complete``/``acomplete``."""

    model: str = "unknown"
    usage: Usage
    # Where answers come from (a base URL, a model file's digest): part of the response
    # cache key, so one model name on two endpoints never shares cached answers.
    endpoint: str = ""

    def check(self) -> None:
        """Fail now, with the setting to fix, on what can be checked without a call (a missing model file).

        The CLI calls it before it creates a run folder.
        """

    def complete(self, messages: Messages, **params: Any) -> Completion:
        raise NotImplementedError

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        raise NotImplementedError

    def generate(self, messages: str | Messages, system_prompt: str | None = None, **params: Any) -> str:
        """Text for chat messages, or for a prompt and optional system prompt (TextGrad's call)."""
        return self.complete(check_messages(as_messages(messages, system_prompt)), **params).text

    async def agenerate(self, messages: str | Messages, system_prompt: str | None = None, **params: Any) -> str:
        return (await self.acomplete(check_messages(as_messages(messages, system_prompt)), **params)).text

    def __call__(self, messages: str | Messages, system_prompt: str | None = None, **params: Any) -> str:
        return self.generate(messages, system_prompt=system_prompt, **params)

    @property
    def model_string(self) -> str:
        """TextGrad's name for ``model``."""
        return self.model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


class ModelEngine(Engine):
    """An engine that actually produces text; it accounts usage and reports calls."""

    def __init__(self, model: str, prices: dict[str, Price] | None = None) -> None:
        self.model = model
        self.usage = Usage()
        self._prices = prices

    def _send(self, messages: Messages, params: dict[str, Any]) -> Completion:
        raise NotImplementedError

    async def _asend(self, messages: Messages, params: dict[str, Any]) -> Completion:
        return await asyncio.to_thread(self._send, messages, params)

    def complete(self, messages: Messages, **params: Any) -> Completion:
        start = time.perf_counter()
        completion = self._send(messages, params)
        self._account(messages, params, completion, time.perf_counter() - start)
        return completion

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        start = time.perf_counter()
        completion = await self._asend(messages, params)
        self._account(messages, params, completion, time.perf_counter() - start)
        return completion

    def _account(
        self, messages: Messages, params: dict[str, Any], completion: Completion, latency: float
    ) -> None:
        from .prices import cost_usd

        cost = cost_usd(completion.model or self.model, completion, self._prices)
        self.usage.record_call(completion, latency, cost)
        emit(
            "llm_call",
            role=call_role.get(),
            model=completion.model or self.model,
            messages=messages,
            params=params,
            response=completion.text,
            prompt_tokens=completion.prompt_tokens,
            cached_prompt_tokens=completion.cached_prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
            latency_s=round(latency, 4),
            cost_usd=cost,
            cached=False,
        )


def layers(engine: Any) -> Iterator[Any]:
    """``engine`` and every engine it wraps, outermost first (a layer keeps the one it wraps as ``inner``)."""
    while engine is not None:
        yield engine
        engine = getattr(engine, "inner", None)


class EngineLayer(Engine):
    """Wraps another engine, sharing its model name and usage counters."""

    def __init__(self, inner: Engine) -> None:
        check_engine(inner, f"{type(self).__name__}(inner)")
        self.inner = inner
        self.model = inner.model
        self.usage = inner.usage

    @property
    def endpoint(self) -> str:  # type: ignore[override]
        return self.inner.endpoint

    def check(self) -> None:
        self.inner.check()

    def complete(self, messages: Messages, **params: Any) -> Completion:
        return self.inner.complete(messages, **params)

    async def acomplete(self, messages: Messages, **params: Any) -> Completion:
        return await self.inner.acomplete(messages, **params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
