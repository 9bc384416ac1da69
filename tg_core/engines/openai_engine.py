"""Any OpenAI-compatible chat server through the official SDK.

The same engine serves OpenAI, vLLM, Ollama, LM Studio and llama.cpp servers:
only the base URL differs. The SDK's own retries are turned off because the
retry layer owns that decision for every engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import weakref
from typing import Any

import openai

from ..errors import EngineCallError, EngineConfigError
from . import defaults
from .base import Completion, Messages, ModelEngine, estimate_tokens, messages_text
from .prefix_turns import PrefixTurns
from .prices import Price

OWN_PARAMS = {"output_tags"}
_RETRYABLE_STATUS = {408, 409, 429}
_SHOWN_CHARS = 200


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def translate_error(exc: Exception, base_url: str) -> EngineCallError:
    """Our error, saying whether a retry can succeed and how long the server asks to wait."""
    if isinstance(exc, openai.APITimeoutError):
        error = EngineCallError(f"the server at {base_url} timed out")
        error.retryable, error.retry_after = True, None
    elif isinstance(exc, openai.APIConnectionError):
        error = EngineCallError(f"could not reach {base_url}: check base_url / OPENAI_BASE_URL ({exc})")
        error.retryable, error.retry_after = True, None
    elif isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        hint = " (check api_key / OPENAI_API_KEY)" if status in (401, 403) else ""
        error = EngineCallError(f"{base_url} answered {status}: {exc.message}{hint}")
        error.retryable = status in _RETRYABLE_STATUS or status >= 500
        error.retry_after = _retry_after(exc.response)
    else:
        error = EngineCallError(f"{type(exc).__name__}: {exc}")
        error.retryable, error.retry_after = False, None
    error.status_code = getattr(exc, "status_code", None)
    return error


def _shown(text: str) -> str:
    """The start of a body, on one line, for an error message."""
    flat = " ".join(text.split())
    return repr(flat[:_SHOWN_CHARS] + ("..." if len(flat) > _SHOWN_CHARS else ""))


def reply_error(message: str, retryable: bool) -> EngineCallError:
    error = EngineCallError(message)
    error.retryable, error.retry_after, error.status_code = retryable, None, None
    return error


def read_reply(http: Any) -> dict[str, Any]:
    """The JSON object of a 2xx answer, or an error naming the URL and what came back.

    Cut-off JSON (a dropped connection, a proxy hiccup) can succeed on retry;
    an HTML page (a wrong base_url, a login portal) comes back the same, so
    it fails at once.
    """
    url, status = str(http.request.url), http.status_code
    content_type = http.headers.get("content-type", "") or "no content type"
    text = http.text
    try:
        data = json.loads(text)
    except ValueError as exc:
        if "json" in content_type or text.lstrip().startswith(("{", "[")):
            raise reply_error(
                f"{url} answered {status} with malformed or cut-off JSON ({exc}): {_shown(text)}", True
            ) from None
        raise reply_error(
            f"{url} answered {status} with {content_type}, not JSON: is base_url an OpenAI-compatible "
            f"API (it usually ends in /v1)? The answer starts {_shown(text)}", False
        ) from None
    if not isinstance(data, dict):
        raise reply_error(f"{url} answered {status} with JSON that is not a chat completion: {_shown(text)}", False)
    return data


def default_temperature(model: str) -> dict[str, float]:
    """``{"temperature": 0}`` for requests that set none, except for models that take only their default."""
    name = model.rsplit("/", 1)[-1]
    if name.startswith(defaults.OPENAI_FIXED_TEMPERATURE_MODELS):
        return {}
    return {"temperature": defaults.OPENAI_DEFAULT_TEMPERATURE}


class OpenAIEngine(ModelEngine):
    accepts_images = True  # image parts are passed on; a text-only server answers with its own error

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = defaults.OPENAI_TIMEOUT_S,
        default_params: dict[str, Any] | None = None,
        prices: dict[str, Price] | None = None,
    ) -> None:
        if not model:
            raise EngineConfigError("openai engine: the spec needs a model name, as in 'openai:gpt-4o-mini'")
        super().__init__(model, prices)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or defaults.OPENAI_BASE_URL
        self.endpoint = self.base_url.rstrip("/")
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if "api.openai.com" in self.base_url:
                raise EngineConfigError(
                    f"openai:{model} needs an API key: set OPENAI_API_KEY or pass api_key=..., "
                    "or point base_url / OPENAI_BASE_URL at a local server"
                )
            key = "not-needed"  # local servers accept any key
        self._api_key = key
        self.timeout_s = timeout_s
        self.default_params = {**default_temperature(model), **(default_params or {})}
        self._client: openai.OpenAI | None = None
        self._async_clients: weakref.WeakKeyDictionary[Any, openai.AsyncOpenAI] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._turns = PrefixTurns()
        # Set by the first answer with llama.cpp's ``timings``: that server caches a prefix
        # per slot, so calls sharing one take turns (prefix_turns); others run at once.
        self.prefix_per_slot = False

    def __repr__(self) -> str:  # never show the key
        return f"OpenAIEngine(model={self.model!r}, base_url={self.base_url!r})"

    def _request(self, messages: Messages, params: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.default_params, **{k: v for k, v in params.items() if k not in OWN_PARAMS}}
        return {"model": self.model, "messages": messages, **merged}

    def _completion(self, http: Any, messages: Messages) -> Completion:
        """Our Completion from a 2xx answer; an answer with no text is an error, never ""."""
        data = read_reply(http)
        self.prefix_per_slot = self.prefix_per_slot or isinstance(data.get("timings"), dict)
        url = str(http.request.url)
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        if choice is None:
            raise reply_error(f"{url} answered with no choices: {_shown(http.text)}", True)
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        text = message.get("content")
        finish = choice.get("finish_reason") or "stop"
        if not isinstance(text, str) or not text:
            raise reply_error(
                f"{url} answered with an empty message (content {text!r}, finish_reason {finish!r})", True
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = usage.get("prompt_tokens")
        if not isinstance(prompt_tokens, int):
            prompt_tokens = estimate_tokens(messages_text(messages))
        completion_tokens = usage.get("completion_tokens")
        if not isinstance(completion_tokens, int):
            completion_tokens = estimate_tokens(text)
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        cached = min(prompt_tokens, cached) if isinstance(cached, int) and cached > 0 else 0
        return Completion(
            text,
            prompt_tokens,
            completion_tokens,
            data.get("model") or self.model,
            finish_reason=finish,
            cached_prompt_tokens=cached,
        )

    def _send(self, messages: Messages, params: dict[str, Any]) -> Completion:
        with self._lock:
            if self._client is None:
                self._client = openai.OpenAI(
                    base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout_s
                )
        turn = self._turns.turn(messages) if self.prefix_per_slot else contextlib.nullcontext()
        try:
            with turn:
                raw = self._client.chat.completions.with_raw_response.create(**self._request(messages, params))
        except openai.OpenAIError as exc:
            raise translate_error(exc, self.base_url) from exc
        return self._completion(raw.http_response, messages)

    async def _asend(self, messages: Messages, params: dict[str, Any]) -> Completion:
        # An async client belongs to the event loop it was first used on; keyed on the
        # loop itself (weakly), a finished loop's client goes with it and is never reused.
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = openai.AsyncOpenAI(
                base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout_s
            )
            self._async_clients[loop] = client
        turn = self._turns.aturn(messages) if self.prefix_per_slot else contextlib.nullcontext()
        try:
            async with turn:
                raw = await client.chat.completions.with_raw_response.create(**self._request(messages, params))
        except openai.OpenAIError as exc:
            raise translate_error(exc, self.base_url) from exc
        return self._completion(raw.http_response, messages)
