"""``get_engine(spec)``: from a short spec string to a fully layered engine.

Specs are ``prefix:rest`` and matched on the prefix exactly (TextGrad matched
substrings of model names). The core knows ``openai:<model>`` and ``local``
(``local:light``, ``local:/path/to/model.gguf``) and ``python:module:function``
(any function as an engine, for custom backends and tests) and ``replay:RUN_DIR``
(the responses recorded in a run), and the providers of ``providers.py``
(``anthropic:``, ``gemini:``, ``azure:``, ``together:``, ``groq:``, ``vllm:``,
``ollama:``) and TextGrad's engine names; plugins add prefixes through
the ``tg_engines`` hook.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import EngineConfigError
from . import defaults
from .base import Engine
from .budget import Budget, BudgetedEngine
from .cache import CachedEngine
from .limit import ConcurrencyLimitedEngine
from .providers import PROVIDER_FACTORIES, textgrad_spec
from .retry import RetryingEngine


def _openai(model: str, **options: Any) -> Engine:
    from .openai_engine import OpenAIEngine

    return OpenAIEngine(model, **options)


def _local(model: str, **options: Any) -> Engine:
    from .local import LocalEngine

    return LocalEngine(model or "default", **options)


def _python(target: str, **options: Any) -> Engine:
    """``python:package.module:function``: any importable ``fn(messages, **params) -> str``."""
    import importlib

    from .function_engine import FunctionEngine

    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise EngineConfigError(f"engine spec 'python:{target}' must look like 'python:package.module:function'")
    try:
        fn = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise EngineConfigError(f"engine spec 'python:{target}': cannot load it ({exc})") from exc
    return FunctionEngine(fn, model=f"python:{target}", **options)


def _replay(run_dir: str, **options: Any) -> Engine:
    from .replay import ReplayEngine

    return ReplayEngine(run_dir, **options)


CORE_FACTORIES = {"openai": _openai, "local": _local, "python": _python, "replay": _replay, **PROVIDER_FACTORIES}


def default_spec() -> str:
    return os.environ.get(defaults.ENGINE_ENV) or defaults.DEFAULT_ENGINE_SPEC


def _factories() -> dict[str, Any]:
    from ..plugins import get_plugins

    return {**CORE_FACTORIES, **get_plugins().engine_factories()}


def get_engine(
    spec: str | None = None,
    *,
    cache: bool = True,
    cache_path: str | os.PathLike | None = None,
    max_retries: int = defaults.MAX_RETRIES,
    max_concurrency: int | None = None,
    budget: Budget | None = None,
    **options: Any,
) -> Engine:
    """Build the engine named by ``spec`` (default: ``$TG_ENGINE``, else ``local``).

    Layers, outermost first: cache (a hit costs no budget), budget,
    concurrency limit, retries. ``options`` go to the engine itself, e.g.
    ``base_url=``/``api_key=`` for ``openai:`` or ``n_threads=`` for ``local``.
    """
    spec = default_spec() if spec is None else spec
    if not isinstance(spec, str) or not spec.strip():
        raise EngineConfigError("engine spec must be text such as 'openai:gpt-4o-mini' or 'local' (TG_ENGINE)")
    spec = textgrad_spec(spec.strip(), CORE_FACTORIES.keys())  # TextGrad's names: 'gpt-4o', 'claude-...'
    prefix, _, rest = spec.partition(":")
    factories = CORE_FACTORIES if prefix in CORE_FACTORIES else _factories()
    factory = factories.get(prefix)
    if factory is None:
        known = ", ".join(sorted(_factories()))
        raise EngineConfigError(
            f"unknown engine spec {spec!r} (from the engine argument or TG_ENGINE): "
            f"use one of the prefixes {known}, as in 'openai:gpt-4o-mini' or 'local'"
        )
    if prefix == "openai" and not rest:
        raise EngineConfigError(f"engine spec {spec!r} needs a model name, as in 'openai:gpt-4o-mini'")
    engine: Engine = factory(rest, **options)
    if max_retries:
        engine = RetryingEngine(engine, max_retries=max_retries)
    if max_concurrency is not None:
        engine = ConcurrencyLimitedEngine(engine, max_concurrency)
    if budget is not None:
        engine = BudgetedEngine(engine, budget)
    if cache:
        engine = CachedEngine(engine, cache_path)
    return engine
