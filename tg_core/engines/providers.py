"""Hosted and local providers by name, through their OpenAI-compatible endpoints.

Every provider here serves the OpenAI chat-completions API, so one engine
(``OpenAIEngine``, the official SDK) reaches them all and only the base URL
and key differ; nothing is hand-written HTTP. ``get_engine("groq:llama-3.1-8b-instant")``
uses the provider's prefix; TextGrad's names (``gpt-4o``, ``claude-3-5-sonnet-20240620``,
``gemini-1.5-pro``, ``ollama-llama3``, ``vllm-...``, ``together-...``,
``groq-...``, ``azure-DEPLOYMENT``) resolve to the same specs.

Each provider reads its key from its usual variable and its address from a
``*_BASE_URL`` variable (Azure: ``AZURE_OPENAI_ENDPOINT``), or from the
``api_key=``/``base_url=`` options, which win.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ..errors import EngineConfigError
from .base import Engine


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str | None  # the public endpoint; None when each user has their own (Azure)
    url_variable: str
    key_variables: tuple[str, ...] = ()  # the first one set is used
    key_required: bool = True

    def resolve_url(self, base_url: str | None) -> str:
        url = base_url or os.environ.get(self.url_variable)
        if self.name == "azure":
            if not url:
                raise EngineConfigError(
                    f"azure: set {self.url_variable} to your resource's endpoint "
                    "(https://RESOURCE.openai.azure.com) or pass base_url=..."
                )
            url = url.rstrip("/")
            return url if url.endswith("/openai/v1") else url + "/openai/v1"
        return url or self.base_url  # type: ignore[return-value]

    def resolve_key(self, api_key: str | None, url: str) -> str:
        key = api_key or next((os.environ[v] for v in self.key_variables if os.environ.get(v)), None)
        if key:
            return key
        if self.key_required:
            names = " or ".join(self.key_variables)
            raise EngineConfigError(f"{self.name} at {url} needs an API key: set {names} or pass api_key=...")
        return "not-needed"  # local servers accept any key


PROVIDERS = {
    p.name: p
    for p in (
        Provider("anthropic", "https://api.anthropic.com/v1/", "ANTHROPIC_BASE_URL", ("ANTHROPIC_API_KEY",)),
        Provider("gemini", "https://generativelanguage.googleapis.com/v1beta/openai/", "GEMINI_BASE_URL",
                 ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
        Provider("azure", None, "AZURE_OPENAI_ENDPOINT", ("AZURE_OPENAI_API_KEY",)),
        Provider("together", "https://api.together.xyz/v1", "TOGETHER_BASE_URL", ("TOGETHER_API_KEY",)),
        Provider("groq", "https://api.groq.com/openai/v1", "GROQ_BASE_URL", ("GROQ_API_KEY",)),
        Provider("vllm", "http://localhost:8000/v1", "VLLM_BASE_URL", ("VLLM_API_KEY",), key_required=False),
        Provider("ollama", "http://localhost:11434/v1", "OLLAMA_BASE_URL", (), key_required=False),
    )
}
KEY_VARIABLES = tuple(v for p in PROVIDERS.values() for v in p.key_variables)


def _factory(provider: Provider) -> Callable[..., Engine]:
    def build(model: str, base_url: str | None = None, api_key: str | None = None, **options: Any) -> Engine:
        from .openai_engine import OpenAIEngine

        if not model:
            raise EngineConfigError(f"engine spec '{provider.name}:' needs a model name, as in '{provider.name}:MODEL'")
        url = provider.resolve_url(base_url)
        return OpenAIEngine(model, base_url=url, api_key=provider.resolve_key(api_key, url), **options)

    build.__name__ = f"_{provider.name}"
    return build


PROVIDER_FACTORIES = {name: _factory(p) for name, p in PROVIDERS.items()}

# ---------------------------------------------------------------- TextGrad's engine names

TEXTGRAD_SHORTCUTS = {
    "opus": "claude-3-opus-20240229",
    "haiku": "claude-3-haiku-20240307",
    "sonnet": "claude-3-sonnet-20240229",
    "sonnet-3.5": "claude-3-5-sonnet-20240620",
    "together-llama-3-70b": "together-meta-llama/Llama-3-70b-chat-hf",
    "vllm-llama-3-8b": "vllm-meta-llama/Meta-Llama-3-8B-Instruct",
}
# Name starts, checked in order: a provider's "NAME-" prefix is cut off, a model family is kept.
TEXTGRAD_PREFIXES = (
    ("azure-", "azure", True),
    ("ollama-", "ollama", True),
    ("vllm-", "vllm", True),
    ("together-", "together", True),
    ("groq-", "groq", True),
    ("gpt-", "openai", False),
    ("chatgpt-", "openai", False),
    ("o1", "openai", False),
    ("o3", "openai", False),
    ("o4", "openai", False),
    ("claude", "anthropic", False),
    ("gemini", "gemini", False),
)
# LiteLLM's "provider/model" names, which TextGrad's "experimental:" engines took.
LITELLM_PROVIDERS = {
    "openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "azure": "azure",
    "together_ai": "together", "groq": "groq", "ollama": "ollama", "ollama_chat": "ollama", "hosted_vllm": "vllm",
}


def textgrad_spec(spec: str, known_prefixes: Collection[str] = ()) -> str:
    """Our spec for a TextGrad engine name; any other spec comes back unchanged.

    A spec whose prefix is already known (``openai:gpt-4o``, ``local``) is
    left alone, so only TextGrad's names are rewritten.
    """
    if spec.partition(":")[0] in known_prefixes:
        return spec
    if spec.startswith("experimental:"):
        name = spec.partition(":")[2]
        provider, slash, model = name.partition("/")
        if slash and provider in LITELLM_PROVIDERS:
            return f"{LITELLM_PROVIDERS[provider]}:{model}"
        return textgrad_spec(name, known_prefixes)
    name = TEXTGRAD_SHORTCUTS.get(spec, spec)
    for start, provider, cut in TEXTGRAD_PREFIXES:
        if name.startswith(start):
            return f"{provider}:{name[len(start):] if cut else name}"
    return spec
