"""Shared fixtures: a sealed environment and scripted engines."""

from __future__ import annotations

import asyncio
import threading

import pytest

import tg_core
from tg_core import prompts
from tg_core.engines.prices import PRICES_PER_MILLION
from tg_core.engines.providers import KEY_VARIABLES, PROVIDERS
from tg_core.plugins import reset_plugins

_LEAKY_ENV = ("TG_ENGINE", "TG_LOCAL_MODEL", "OPENAI_API_KEY", "OPENAI_BASE_URL", "TG_BLOCK_PLUGINS",
              "TG_DISABLE_PLUGIN_AUTOLOAD", "TG_SERVE_API_KEY", "TG_LOCAL_THREADS", "TG_LOCAL_SLOTS", *KEY_VARIABLES,
              *(p.url_variable for p in PROVIDERS.values()))


@pytest.fixture(autouse=True)
def sealed_env(monkeypatch, tmp_path_factory):
    """No test sees the developer's keys or engine choice, or writes to the real cache."""
    for name in _LEAKY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TG_CACHE_DIR", str(tmp_path_factory.mktemp("tg-cache")))
    prices = dict(PRICES_PER_MILLION)
    yield
    tg_core.set_backward_engine(None)
    reset_plugins()  # a test that registered or blocked plugins leaves nothing for the next
    PRICES_PER_MILLION.clear()
    PRICES_PER_MILLION.update(prices)


class Recorder:
    """Counts calls and the largest number in flight at once."""

    def __init__(self) -> None:
        self.calls: list[list[dict[str, str]]] = []
        self.params: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def enter(self, messages, params) -> None:
        with self._lock:
            self.calls.append(messages)
            self.params.append(params)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def default_reply(messages) -> str:
    system = messages[0]["content"]
    if system == prompts.OPTIMIZER_SYSTEM:
        return f"{prompts.IMPROVED_START} improved value {prompts.IMPROVED_END}"
    if system == prompts.BACKWARD_SYSTEM:
        return "feedback: be more specific"
    return "answer: " + messages[-1]["content"][:30]


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def scripted_engine(recorder):
    """An async engine with 20 ms latency that answers by prompt type and records calls."""

    async def reply(messages, **params):
        recorder.enter(messages, params)
        try:
            await asyncio.sleep(0.02)
            return default_reply(messages)
        finally:
            recorder.leave()

    return tg_core.FunctionEngine(reply, model="scripted")


@pytest.fixture(scope="module")
def real_cache():
    """The developer's model cache with the light model assembled, for tests that run it.

    Module fixtures are set up before the per-test sealed environment points
    TG_CACHE_DIR elsewhere, so this reads the real one (assembling 0.5 GB per
    test would be too slow); a test sets TG_CACHE_DIR to it while it runs.
    """
    from tg_core.engines import model_files

    try:
        model_files.ensure_model(model_files.KNOWN_MODELS["light"])
    except tg_core.EngineConfigError as exc:
        pytest.skip(str(exc))
    return str(tg_core.cache_dir())
