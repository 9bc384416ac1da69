"""Providers by name, each against a real local HTTP server standing in for its endpoint."""

import pytest
from chat_server import ChatServer

import tg_core as tg
from tg_core.engines.openai_engine import OpenAIEngine
from tg_core.engines.providers import PROVIDERS, textgrad_spec

URL_VARIABLES = [p.url_variable for p in PROVIDERS.values()]
KEY_VARIABLES = [v for p in PROVIDERS.values() for v in p.key_variables]


@pytest.fixture(autouse=True)
def no_provider_env(monkeypatch):
    for name in [*URL_VARIABLES, *KEY_VARIABLES]:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def _inner(engine):
    while hasattr(engine, "inner"):
        engine = engine.inner
    return engine


# (spec, url variable, url value given the server's /v1 base, key variable or None, path expected)
CASES = [
    ("anthropic:claude-3-5-haiku-latest", "ANTHROPIC_BASE_URL", "{v1}", "ANTHROPIC_API_KEY", "/v1/chat/completions"),
    ("gemini:gemini-2.0-flash", "GEMINI_BASE_URL", "{v1}", "GEMINI_API_KEY", "/v1/chat/completions"),
    ("azure:my-deployment", "AZURE_OPENAI_ENDPOINT", "{root}", "AZURE_OPENAI_API_KEY", "/openai/v1/chat/completions"),
    ("together:meta-llama/Llama-3-70b-chat-hf", "TOGETHER_BASE_URL", "{v1}", "TOGETHER_API_KEY",
     "/v1/chat/completions"),
    ("groq:llama-3.1-8b-instant", "GROQ_BASE_URL", "{v1}", "GROQ_API_KEY", "/v1/chat/completions"),
    ("vllm:meta-llama/Meta-Llama-3-8B-Instruct", "VLLM_BASE_URL", "{v1}", None, "/v1/chat/completions"),
    ("ollama:llama3.1:8b", "OLLAMA_BASE_URL", "{v1}", None, "/v1/chat/completions"),
]


@pytest.mark.parametrize(("spec", "url_var", "url", "key_var", "path"), CASES, ids=[c[0].split(":")[0] for c in CASES])
def test_each_provider_reaches_its_endpoint_with_its_key(server, monkeypatch, spec, url_var, url, key_var, path):
    root = server.base_url.removesuffix("/v1")
    monkeypatch.setenv(url_var, url.format(v1=server.base_url, root=root))
    if key_var:
        monkeypatch.setenv(key_var, "sk-provider-key-123")
    engine = tg.get_engine(spec, cache=False)
    assert engine.generate("hello provider") == "echo: hello provider"
    model = spec.partition(":")[2]
    assert server.requests[0]["model"] == model
    assert server.paths[0] == path
    expected_key = "sk-provider-key-123" if key_var else "not-needed"
    assert server.headers[0]["authorization"] == f"Bearer {expected_key}"
    assert engine.usage.calls == 1


@pytest.mark.parametrize("name", ["anthropic", "gemini", "azure", "together", "groq"])
def test_a_missing_key_names_the_variable(monkeypatch, name):
    if name == "azure":
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    with pytest.raises(tg.EngineConfigError, match=PROVIDERS[name].key_variables[0]):
        tg.get_engine(f"{name}:some-model")


def test_gemini_also_reads_google_api_key(server, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key-123456")
    engine = tg.get_engine("gemini:gemini-1.5-pro", base_url=server.base_url, cache=False)
    engine.generate("hi")
    assert server.headers[0]["authorization"] == "Bearer google-key-123456"


def test_azure_without_endpoint_names_the_variable(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k" * 12)
    with pytest.raises(tg.EngineConfigError, match="AZURE_OPENAI_ENDPOINT"):
        tg.get_engine("azure:gpt-4o")


def test_options_win_over_environment(server, monkeypatch):
    monkeypatch.setenv("GROQ_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("GROQ_API_KEY", "env-key-0000")
    engine = tg.get_engine("groq:m", base_url=server.base_url, api_key="option-key-1111", cache=False)
    engine.generate("x")
    assert server.headers[0]["authorization"] == "Bearer option-key-1111"


def test_default_endpoints_are_the_documented_ones(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k" * 12)
    assert _inner(tg.get_engine("anthropic:claude-3-5-sonnet-latest")).base_url == "https://api.anthropic.com/v1/"
    assert _inner(tg.get_engine("ollama:llama3")).base_url == "http://localhost:11434/v1"
    assert _inner(tg.get_engine("vllm:m")).base_url == "http://localhost:8000/v1"


def test_empty_model_is_named():
    with pytest.raises(tg.EngineConfigError, match="'ollama:' needs a model name"):
        tg.get_engine("ollama:")


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("gpt-4o", "openai:gpt-4o"),
        ("gpt-4o-mini", "openai:gpt-4o-mini"),
        ("gpt-3.5-turbo-0125", "openai:gpt-3.5-turbo-0125"),
        ("o3-mini", "openai:o3-mini"),
        ("claude-3-5-sonnet-20240620", "anthropic:claude-3-5-sonnet-20240620"),
        ("sonnet-3.5", "anthropic:claude-3-5-sonnet-20240620"),
        ("gemini-1.5-pro", "gemini:gemini-1.5-pro"),
        ("ollama-llama3.1:8b", "ollama:llama3.1:8b"),
        ("vllm-meta-llama/Meta-Llama-3-8B-Instruct", "vllm:meta-llama/Meta-Llama-3-8B-Instruct"),
        ("together-meta-llama/Llama-3-70b-chat-hf", "together:meta-llama/Llama-3-70b-chat-hf"),
        ("groq-llama-3.1-8b-instant", "groq:llama-3.1-8b-instant"),
        ("azure-my-gpt4o-deployment", "azure:my-gpt4o-deployment"),
        ("experimental:gpt-4o-mini", "openai:gpt-4o-mini"),
        ("experimental:anthropic/claude-3-opus-20240229", "anthropic:claude-3-opus-20240229"),
        ("openai:gpt-4o", "openai:gpt-4o"),
        ("local", "local"),
    ],
)
def test_textgrad_names_resolve_to_our_specs(name, spec):
    known = {"openai", "local", "python", "replay", *PROVIDERS}
    assert textgrad_spec(name, known) == spec


def test_textgrad_name_builds_the_provider_engine(server, monkeypatch):
    monkeypatch.setenv("OLLAMA_BASE_URL", server.base_url)
    engine = tg.get_engine("ollama-test-model-string", cache=False)
    assert isinstance(_inner(engine), OpenAIEngine)
    assert engine.model_string == "test-model-string"
    engine.generate("hi")
    assert server.requests[0]["model"] == "test-model-string"


def test_unknown_name_is_still_refused():
    with pytest.raises(ValueError, match="unknown engine spec 'invalid-engine'"):
        tg.get_engine("invalid-engine")
