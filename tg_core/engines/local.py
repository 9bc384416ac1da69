"""The embedded model: llama.cpp running inside this process through xllamacpp.

It needs no server, key or network, so tg-core works out of the box. The
model keeps several slots (``n_slots``), each with the key/value cache of
its prompt, and a host-memory cache of prompts moved out of slots, so
consecutive calls and concurrent branches of a graph skip evaluating the
prefix they share with an earlier call (``cache_prompt``). Calls run at
once, one per slot, while their prompts fit in the shared context together;
async callers wait on a private thread pool, never on the event loop. Each
call reports its prompt tokens and how many of them came from a cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import EngineCallError
from . import defaults, llama, model_files
from .base import Completion, Messages, ModelEngine, content_text, estimate_tokens, messages_text
from .grammar import tags_grammar
from .prefix_turns import PrefixTurns

log = logging.getLogger(__name__)

# Request fields llama.cpp understands that callers of any engine may set; others are dropped.
PASSED_PARAMS = ("temperature", "max_tokens", "seed", "top_p", "stop")
OWN_PARAMS = {"output_tags"}


def call_error(error: Any, n_ctx: int) -> EngineCallError:
    """Our error for what llama.cpp answered; never retryable, since the model is deterministic."""
    if isinstance(error, dict):
        message = str(error.get("message") or error)
        kind = error.get("type", "")
        status = error.get("code")
    else:
        message, kind, status = str(error), "", None
    if kind == "exceed_context_size_error":
        message += f" (LocalEngine(n_ctx=...) is {n_ctx}; raise it or shorten the prompt)"
    exc = EngineCallError(f"local model: {message}")
    exc.retryable, exc.retry_after, exc.status_code = False, None, status
    return exc


def prompt_counts(result: dict[str, Any], messages: Messages) -> tuple[int, int]:
    """(prompt tokens in all, of which served from a slot's cache), from llama.cpp's answer.

    ``usage.prompt_tokens`` counts the whole prompt; ``timings.prompt_n`` the
    tokens actually evaluated; the difference was reused.
    """
    usage = result.get("usage") or {}
    total = usage.get("prompt_tokens")
    if not isinstance(total, int):
        return estimate_tokens(messages_text(messages)), 0
    evaluated = (result.get("timings") or {}).get("prompt_n")
    if not isinstance(evaluated, int):
        return total, 0
    return total, min(total, max(0, total - evaluated))


class LocalEngine(ModelEngine):
    """A GGUF model run in-process; ``model`` is "default", "light" or a path.

    Nothing is read or loaded until the first call. Sampling defaults to
    temperature 0 with a fixed seed, so the same prompt gives the same text.
    ``n_threads`` (else ``$TG_LOCAL_THREADS``, else the idle cores when the
    model loads) and ``n_slots`` (else ``$TG_LOCAL_SLOTS``, else
    ``defaults.LOCAL_SLOTS``) are settled at load, and the load is reported
    as a ``local_engine_loaded`` event. All slots share one key/value cache
    of ``n_ctx`` tokens, so memory does not grow with slots (about 28 KB per
    token for the default model: 460 MB at 16384; 12 KB for the light one),
    plus at most ``defaults.LOCAL_CACHE_RAM_MIB`` of prompts kept in host
    memory. One prompt may use all ``n_ctx`` tokens; calls that might not
    fit together take turns. ``prompt_cache=False`` (or
    ``$TG_LOCAL_PROMPT_CACHE=0``) evaluates every prompt whole, with no
    prefix turns: the baseline that prefix reuse is measured against.
    ``speculative`` (else ``$TG_LOCAL_SPECULATIVE``, else
    ``defaults.LOCAL_SPECULATIVE``) names llama.cpp's draftless speculative
    decoding, or "off".
    """

    def __init__(
        self,
        model: str = "default",
        n_threads: int | None = None,
        n_ctx: int = defaults.LOCAL_N_CTX,
        seed: int = 0,
        temperature: float = 0.0,
        max_tokens: int = defaults.LOCAL_MAX_TOKENS,
        n_slots: int | None = None,
        prompt_cache: bool | None = None,
        speculative: str | None = None,
    ) -> None:
        self.spec = model_files.model_spec(model)
        self.prompt_cache = llama.choose_prompt_cache(prompt_cache)
        self.speculative = llama.choose_speculative(speculative)
        super().__init__(f"local:{self.spec.label}")
        self.n_threads = n_threads
        self.n_ctx = n_ctx
        self.seed = seed
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.n_slots = n_slots
        self.loaded: llama.Loaded | None = None
        self._digest: str | None = None
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._kv = threading.Condition()
        self._in_flight = 0
        self._kv_reserved = 0
        self._turns = PrefixTurns()

    @property
    def endpoint(self) -> str:
        """The model file's sha256: the same name on other weights must not share cached answers."""
        if self._digest is None:
            self._digest = "sha256:" + model_files.model_digest(self.spec)
        return self._digest

    def check(self) -> None:
        """The model file exists and is GGUF (ours is assembled and verified once)."""
        model_files.locate(self.spec)

    def load(self) -> None:
        """Load the model now instead of on the first call (to pay the wait up front)."""
        self._server()

    def close(self) -> None:
        """Free the model's memory; a later call loads it again."""
        with self._lock:
            if self.loaded is not None:
                self.loaded.close()
                self.loaded = None
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    def _server(self) -> Any:
        with self._lock:
            if self.loaded is None:
                self.loaded = llama.start(
                    self.spec, n_threads=self.n_threads, n_slots=self.n_slots, n_ctx=self.n_ctx,
                    host=None, port=0, speculative=self.speculative,
                )
                if not self.prompt_cache:
                    log.info("local engine: prefix reuse off; every prompt is evaluated whole")
            return self.loaded.server

    def request(self, messages: Messages, params: dict[str, Any]) -> dict[str, Any]:
        """The chat request sent to llama.cpp: our defaults, the caller's overrides, a grammar for tags."""
        ignored = sorted(set(params) - set(PASSED_PARAMS) - OWN_PARAMS)
        if ignored:
            log.debug("local engine ignores %s", ", ".join(ignored))
        body: dict[str, Any] = {
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
            "cache_prompt": self.prompt_cache,
        }
        tags = params.get("output_tags")
        if tags:
            start, end = tags
            grammar = tags_grammar(start, end)
            if grammar is None:
                log.debug("local engine: no grammar for tags %r, %r", start, end)
            else:
                body["grammar"] = grammar
                body["max_tokens"] = max(self.max_tokens, defaults.TAGGED_MIN_MAX_TOKENS)
        for name in PASSED_PARAMS:
            if params.get(name) is not None:
                body[name] = params[name]
        return body

    def _completion(self, result: Any, messages: Messages, params: dict[str, Any]) -> Completion:
        if not isinstance(result, dict) or "error" in result or not result.get("choices"):
            error = result.get("error", result) if isinstance(result, dict) else result
            raise call_error(error, self.n_ctx)
        choice = result["choices"][0]
        text = (choice.get("message") or {}).get("content")
        finish = choice.get("finish_reason") or "stop"
        if not text:
            raise call_error(
                f"empty answer (finish_reason {finish!r}, content {text!r}); "
                "a deterministic model gives it again, so it is not retried", self.n_ctx,
            )
        tags = params.get("output_tags")
        if finish == "length" and tags and tags[1] not in text:
            log.info("local model stopped at max_tokens before %s; returning the cut answer", tags[1])
        prompt_tokens, cached = prompt_counts(result, messages)
        usage = result.get("usage") or {}
        return Completion(
            text,
            prompt_tokens,
            usage.get("completion_tokens", estimate_tokens(text)),
            self.model,
            finish_reason=finish,
            cached_prompt_tokens=cached,
        )

    def kv_need(self, body: dict[str, Any]) -> int:
        """An upper bound of the key/value cells ``body`` takes: its prompt and its answer.

        Byte-level tokenizers never make a token of less than one byte, so the
        UTF-8 length bounds the prompt's tokens without tokenizing it. A
        speculative draft adds none: llama.cpp drafts no further than the
        answer's remaining ``max_tokens``.
        """
        text = sum(len(content_text(m["content"]).encode("utf-8")) + defaults.MESSAGE_TOKENS for m in body["messages"])
        return text + defaults.TEMPLATE_TOKENS + int(body.get("max_tokens") or 0)

    @contextlib.contextmanager
    def _room(self, need: int) -> Iterator[None]:
        """Wait until ``need`` cells fit beside the calls in flight (alone, any call may go).

        All slots share n_ctx cells, and llama.cpp fails every call in flight
        when they outgrow it together, so calls that might not fit take turns.
        """
        with self._kv:
            while self._in_flight and self._kv_reserved + need > self.n_ctx:
                self._kv.wait()
            self._in_flight += 1
            self._kv_reserved += need
        try:
            yield
        finally:
            with self._kv:
                self._in_flight -= 1
                self._kv_reserved -= need
                self._kv.notify_all()

    def _send(self, messages: Messages, params: dict[str, Any]) -> Completion:
        body = self.request(messages, params)
        server = self._server()
        turn = self._turns.turn(messages) if self.prompt_cache else contextlib.nullcontext()
        with turn, self._room(self.kv_need(body)):
            try:
                # llama.cpp queues requests beyond its slots; the call releases the GIL.
                result = server.handle_chat_completions(body)
            except Exception as exc:
                raise call_error(str(exc), self.n_ctx) from exc
        return self._completion(result, messages, params)

    async def _asend(self, messages: Messages, params: dict[str, Any]) -> Completion:
        # One thread per slot: queued calls wait there, not in asyncio's shared pool.
        with self._lock:
            if self._executor is None:
                workers = llama.choose_slots(self.n_slots) if self.loaded is None else self.loaded.slots
                self._executor = ThreadPoolExecutor(workers, thread_name_prefix="tg-local-engine")
            executor = self._executor
        context = contextvars.copy_context()
        call = functools.partial(context.run, self._send, messages, params)
        return await asyncio.get_running_loop().run_in_executor(executor, call)
