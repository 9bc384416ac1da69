"""Every default of the engines in one place: retries, timeouts, context, threads, slots.

Engines and layers take each of these as a keyword argument, so a caller
overrides one call site without touching this module; the environment
variables named here are read when a model loads, never on import.
"""

from __future__ import annotations

# ---------------------------------------------------------------- any engine

DEFAULT_ENGINE_SPEC = "local"
ENGINE_ENV = "TG_ENGINE"

# Retries: capped, jittered exponential backoff; a server's Retry-After wins when sane.
MAX_RETRIES = 4
INITIAL_DELAY_S = 0.5
MAX_DELAY_S = 30.0
MAX_RETRY_AFTER_S = 60.0

# The response cache waits this long for another process's write lock.
CACHE_LOCK_TIMEOUT_S = 30.0

# Sync functions called asynchronously run on a private pool this large.
FUNCTION_ENGINE_WORKERS = 64

# ---------------------------------------------------------------- OpenAI-compatible servers

OPENAI_BASE_URL = "https://api.openai.com/v1"
# The openai SDK's own default. A CPU server (tg serve, llama.cpp) answering a few
# concurrent calls with 2,000-token prompts takes minutes; at 120 s every call of a
# molecule step timed out, and each retry queued the same work on the server again.
OPENAI_TIMEOUT_S = 600.0
# A request that names no temperature is sent with this one, as TextGrad's engines and
# the embedded engine do: a server's own default samples (llama.cpp and tg serve 0.8,
# OpenAI 1.0), so "greedy" calls, and every validation and judgement made with them,
# varied from run to run (the quality QA run scored the same prompt 0.2 and 0.3 on the
# same 30 validation questions). OpenAI's reasoning models accept only their default,
# so they are sent none.
OPENAI_DEFAULT_TEMPERATURE = 0.0
OPENAI_FIXED_TEMPERATURE_MODELS = ("o1", "o3", "o4", "gpt-5")

# ---------------------------------------------------------------- the embedded model

# Tokens of key/value cache shared by all slots (Qwen2.5-1.5B at f16: about 28 KB
# per token, so 16384 tokens take about 460 MB; the 0.5B model about 12 KB per token).
LOCAL_N_CTX = 16384
LOCAL_MIN_N_CTX = 256
LOCAL_MAX_TOKENS = 1024
# An answer cut before its closing tag is wasted and re-asked, so tagged answers get room.
TAGGED_MIN_MAX_TOKENS = 2048

# Slots: each holds the key/value cache of its prompt, so up to this many calls
# run at once (as long as their prompts fit in n_ctx together) without evicting
# each other's prefixes. Chosen by measurement (bench/local_slots.py).
LOCAL_SLOTS = 4
SLOTS_ENV = "TG_LOCAL_SLOTS"
# Prefix reuse on (the default) or off: off evaluates every prompt whole, the
# baseline bench/local_steps.py measures reuse against on the same work.
PROMPT_CACHE_ENV = "TG_LOCAL_PROMPT_CACHE"
# Host memory where llama.cpp keeps prompts moved out of slots, oldest dropped
# first; a later prompt sharing at least a quarter of one is restored from here.
# About 38,000 tokens of the default model (28 KB each), 87,000 of the light one.
LOCAL_CACHE_RAM_MIB = 1024
# Calls whose prompts open with this many identical characters (about 500 tokens) take
# turns: llama.cpp reuses a prefix only in the slot that holds it, so k candidates asked
# at once evaluated one 1,444-token prompt four times (68 s); one after another, the
# prompt is evaluated once and each later call only generates (bench/local_steps.py).
SHARED_PREFIX_CHARS = 2000
# Key/value cells a request may need beyond its text: chat template tokens.
TEMPLATE_TOKENS = 64
MESSAGE_TOKENS = 8

# Draftless speculative decoding: llama.cpp drafts tokens from n-grams already in the
# context (the prompt, the answer so far, earlier requests) and checks a draft in one
# batch, so text an answer copies (an update rewriting its variable, feedback quoting
# code) comes several tokens per step. ngram-mod drafts only after a 24-token match
# that its pool continues for 48 tokens, so new prose pays next to nothing. Here it
# generated tg-core's code updates 1.22x as fast (bench/local_speculative.py).
# llama.cpp never drafts past the answer's max_tokens, so a call needs no more
# key/value cells than without it. "off" decodes one token at a time.
LOCAL_SPECULATIVE = "ngram-mod"
SPECULATIVE_ENV = "TG_LOCAL_SPECULATIVE"
SPECULATIVE_TYPES = ("off", "ngram-mod", "ngram-simple", "ngram-map-k", "ngram-map-k4v")

# Threads: as many as there are idle cores when the model loads, at least 1,
# at most this many (llama.cpp gains little beyond the physical cores, and
# threads on busy cores collapse throughput).
MAX_AUTO_THREADS = 8
THREADS_ENV = "TG_LOCAL_THREADS"
