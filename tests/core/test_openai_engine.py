import asyncio

import pytest
from chat_server import ChatServer

import tg_core as tg
from tg_core.engines import CachedEngine, ConcurrencyLimitedEngine, RetryingEngine
from tg_core.engines.openai_engine import OpenAIEngine

MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def _engine(server, **kw):
    return OpenAIEngine("test-model", base_url=server.base_url, api_key="sk-test-1234567890", **kw)


def _retrying(server, sleeps, **kw):
    async def asleep(seconds):
        sleeps.append(seconds)

    return RetryingEngine(_engine(server, **kw), max_retries=3, sleep=sleeps.append, asleep=asleep, seed=0)


def test_completion_and_usage_from_server(server):
    engine = _engine(server)
    assert engine.generate(MESSAGES) == "echo: hello there"
    assert engine.usage.calls == 1
    assert engine.usage.prompt_tokens == len("hello there") // 4 + 1
    assert server.headers[0]["authorization"] == "Bearer sk-test-1234567890"


def test_sampling_params_reach_server_but_our_own_do_not(server):
    _engine(server).generate(MESSAGES, temperature=0.3, max_tokens=20, output_tags=("<A>", "</A>"))
    body = server.requests[0]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 20 and "output_tags" not in body


@pytest.mark.parametrize(("model", "sent"), [("m", 0.0), ("qwen2.5-coder-1.5b", 0.0), ("o3-mini", None),
                                             ("gpt-5", None), ("openai/o1", None)])
def test_a_request_without_temperature_asks_greedily_except_models_with_a_fixed_one(server, model, sent):
    """A server's own default samples (llama.cpp 0.8), so calls meant to be greedy would vary run to run."""
    engine = OpenAIEngine(model, base_url=server.base_url, api_key="sk-test-1234567890")
    engine.generate(MESSAGES)
    engine.generate(MESSAGES, temperature=0.7)
    first, second = server.requests
    assert first.get("temperature") == sent and second["temperature"] == 0.7


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_transient_faults_are_retried(server, fault):
    sleeps = []
    server.behaviours.extend([fault])
    engine = _retrying(server, sleeps, timeout_s=1.0)
    assert engine.generate(MESSAGES) == "echo: hello there"
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert engine.usage.calls == 1


def test_retry_after_is_honoured(server):
    sleeps = []
    server.retry_after = "2.5"
    server.behaviours.extend(["429", "429"])
    assert _retrying(server, sleeps).generate(MESSAGES)
    assert sleeps == [2.5, 2.5]


def test_backoff_grows_and_gives_up_with_clear_error(server):
    sleeps = []
    server.behaviours.extend(["500"] * 10)
    with pytest.raises(tg.EngineCallError, match="answered 500"):
        _retrying(server, sleeps).generate(MESSAGES)
    assert len(server.requests) == 4 and len(sleeps) == 3
    assert sleeps[0] < sleeps[2]


def test_bad_request_is_not_retried(server):
    sleeps = []
    server.behaviours.append("400")
    with pytest.raises(tg.EngineCallError, match="400"):
        _retrying(server, sleeps).generate(MESSAGES)
    assert len(server.requests) == 1 and sleeps == []


def test_unreachable_server_names_the_setting():
    sleeps = []
    engine = RetryingEngine(OpenAIEngine("m", base_url="http://127.0.0.1:9/v1", api_key="k" * 10),
                            max_retries=1, sleep=sleeps.append)
    with pytest.raises(tg.EngineCallError, match=r"could not reach http://127.0.0.1:9/v1: check base_url / OPENAI_BASE_URL"):
        engine.generate(MESSAGES)
    assert len(sleeps) == 1


def test_missing_key_for_openai_names_the_variable():
    with pytest.raises(tg.EngineConfigError, match="OPENAI_API_KEY"):
        tg.get_engine("openai:gpt-4o-mini")


@pytest.mark.parametrize("fault", ["empty", "null_content", "no_choices", "truncated"])
def test_unusable_200_answers_are_retried_then_answered(server, fault):
    sleeps = []
    server.behaviours.append(fault)
    engine = _retrying(server, sleeps)
    assert engine.generate(MESSAGES) == "echo: hello there"
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert engine.usage.calls == 1


@pytest.mark.parametrize("fault,says", [
    ("empty", r"empty message \(content '', finish_reason 'stop'\)"),
    ("null_content", r"empty message \(content None"),
    ("no_choices", r"no choices: .*\"choices\": \[\]"),
    ("truncated", r"malformed or cut-off JSON .*chatcmpl-test"),
])
def test_unusable_200_answers_fail_clearly_naming_the_url(server, fault, says):
    sleeps = []
    server.behaviours.extend([fault] * 4)
    with pytest.raises(tg.EngineCallError, match=says) as info:
        _retrying(server, sleeps).generate(MESSAGES)
    assert f"{server.base_url}/chat/completions" in str(info.value)
    assert len(server.requests) == 4 and len(sleeps) == 3  # retried, then gave up


def test_html_page_names_the_url_and_is_not_retried(server):
    sleeps = []
    server.behaviours.append("html")
    with pytest.raises(tg.EngineCallError, match=r"answered 200 with text/html.*not JSON.*base_url.*Proxy login") as info:
        _retrying(server, sleeps).generate(MESSAGES)
    assert server.base_url in str(info.value)
    assert len(server.requests) == 1 and sleeps == []


def test_unusable_answer_in_async_path_is_retried(server):
    sleeps = []
    server.behaviours.extend(["truncated", "no_choices"])
    assert asyncio.run(_retrying(server, sleeps).agenerate(MESSAGES)) == "echo: hello there"
    assert len(server.requests) == 3


def test_empty_answer_is_never_cached(server, tmp_path):
    server.behaviours.append("empty")
    engine = CachedEngine(_engine(server), tmp_path / "c.sqlite")
    with pytest.raises(tg.EngineCallError, match="empty message"):
        engine.generate(MESSAGES)
    assert engine.generate(MESSAGES) == "echo: hello there"
    assert len(server.requests) == 2


def test_cached_prompt_tokens_are_counted_and_priced_at_the_cached_rate(server):
    tg.engines.register_price("cache-model", 2.0, 8.0, 0.5)
    engine = OpenAIEngine("cache-model", base_url=server.base_url, api_key="x" * 10)
    long = [{"role": "user", "content": "x" * 400}]  # 101 prompt tokens from the test server
    server.cached_tokens = 64
    first = engine.complete(long)
    server.cached_tokens = None  # a provider that reports nothing cached
    second = engine.complete(long)
    assert (first.prompt_tokens, first.cached_prompt_tokens, first.evaluated_prompt_tokens) == (101, 64, 37)
    assert (second.prompt_tokens, second.cached_prompt_tokens) == (101, 0)
    usage = engine.usage
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.evaluated_prompt_tokens) == (202, 64, 138)
    completion_tokens = first.completion_tokens + second.completion_tokens
    assert usage.cost_usd == pytest.approx((138 * 2.0 + 64 * 0.5 + completion_tokens * 8.0) / 1e6)
    assert usage.as_dict()["cached_prompt_tokens"] == 64
    assert usage.as_dict()["evaluated_prompt_tokens"] == 138
    assert "202 prompt (64 cached)" in usage.summary_line()


def test_llm_call_event_records_cached_and_total_prompt_tokens(server):
    from tg_core.events import events_to

    events = []
    server.cached_tokens = 3
    with events_to(lambda kind, fields: events.append((kind, fields))):
        _engine(server).generate(MESSAGES)
    [(kind, fields)] = events
    assert kind == "llm_call"
    assert (fields["prompt_tokens"], fields["cached_prompt_tokens"]) == (len("hello there") // 4 + 1, 3)


def test_cached_rate_defaults_to_input_price_and_models_without_one_still_cost():
    from tg_core.engines.prices import price_of

    tg.engines.register_price("plain-model", 1.0, 3.0)
    assert price_of("plain-model") == (1.0, 3.0, 1.0)
    assert price_of("gpt-4o-mini-2024-07-18") == (0.15, 0.60, 0.075)
    assert price_of("some-local-model") == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="negative"):
        tg.engines.register_price("bad", 1.0, 1.0, -0.1)


def test_same_model_on_another_base_url_is_not_answered_from_the_cache(tmp_path):
    cache = tmp_path / "cache.sqlite"
    with ChatServer() as first, ChatServer() as second:
        first.reply = lambda body: "from the first server"
        second.reply = lambda body: "from the second server"
        for server, expected in ((first, "from the first server"), (second, "from the second server")):
            engine = tg.get_engine("openai:same-model", base_url=server.base_url, api_key="x" * 10,
                                   cache_path=cache)
            assert engine.generate(MESSAGES) == expected
        assert len(first.requests) == len(second.requests) == 1
        again = tg.get_engine("openai:same-model", base_url=first.base_url + "/", api_key="x" * 10,
                              cache_path=cache)
        assert again.generate(MESSAGES) == "from the first server"
        assert len(first.requests) == 1  # a trailing slash is the same endpoint


def test_cache_hit_and_miss_and_temperature_in_key(server, tmp_path):
    engine = tg.get_engine("openai:test-model", base_url=server.base_url, api_key="sk-abcdefgh",
                           cache_path=tmp_path / "cache.sqlite")
    engine.generate(MESSAGES, temperature=0.0)
    engine.generate(MESSAGES, temperature=0.0)
    assert len(server.requests) == 1 and engine.usage.cache_hits == 1 and engine.usage.calls == 1
    engine.generate(MESSAGES, temperature=0.7)
    assert len(server.requests) == 2
    again = tg.get_engine("openai:test-model", base_url=server.base_url, api_key="sk-abcdefgh",
                          cache_path=tmp_path / "cache.sqlite")
    assert again.generate(MESSAGES, temperature=0.7) == "echo: hello there"
    assert len(server.requests) == 2  # persisted across engines (and processes)


def test_cache_false_always_calls(server):
    engine = tg.get_engine("openai:test-model", base_url=server.base_url, api_key="x" * 10, cache=False)
    engine.generate(MESSAGES)
    engine.generate(MESSAGES)
    assert len(server.requests) == 2


def test_concurrency_limit_bounds_requests_in_flight():
    with ChatServer(latency_s=0.15) as server:
        async def burst(engine):
            await asyncio.gather(*(engine.agenerate([{"role": "user", "content": f"q{i}"}]) for i in range(6)))

        asyncio.run(burst(_engine(server)))
        assert server.max_in_flight > 2
        server.max_in_flight = 0
        asyncio.run(burst(ConcurrencyLimitedEngine(_engine(server), 2)))
        assert server.max_in_flight == 2


def test_async_retry_path(server):
    sleeps = []
    server.behaviours.append("500")
    engine = _retrying(server, sleeps)
    assert asyncio.run(engine.agenerate(MESSAGES)) == "echo: hello there"
    assert len(sleeps) == 1


def test_budget_stops_before_exceeding(server):
    engine = tg.get_engine("openai:test-model", base_url=server.base_url, api_key="x" * 10, cache=False,
                           budget=tg.Budget(max_calls=2))
    engine.generate(MESSAGES)
    engine.generate([{"role": "user", "content": "second"}])
    with pytest.raises(tg.BudgetExceededError, match="2 LLM calls"):
        engine.generate([{"role": "user", "content": "third"}])
    assert len(server.requests) == 2


def test_dollar_budget_uses_price_table(server):
    tg.engines.register_price("pricey-model", 1_000_000.0, 1_000_000.0)  # a dollar a token
    engine = OpenAIEngine("pricey-model", base_url=server.base_url, api_key="x" * 10)
    budgeted = tg.engines.BudgetedEngine(engine, tg.Budget(max_usd=50.0))
    budgeted.generate(MESSAGES)
    assert engine.usage.cost_usd > 0
    with pytest.raises(tg.BudgetExceededError, match=r"\$50"):
        for _ in range(20):
            budgeted.generate(MESSAGES)


@pytest.mark.parametrize("spec", ["", "openai:", "nosuch:model", None])
def test_malformed_spec_is_named(spec, monkeypatch):
    if spec is None:
        monkeypatch.setenv("TG_ENGINE", "bogus")
    with pytest.raises(tg.EngineConfigError, match="TG_ENGINE|model name|engine spec"):
        tg.get_engine(spec)


def test_bad_budget_values_are_named():
    with pytest.raises(ValueError, match="max_calls"):
        tg.Budget(max_calls=0)
    with pytest.raises(ValueError, match="max_usd"):
        tg.Budget(max_usd=-1)


def test_one_engine_serves_many_event_loops(server):
    engine = _engine(server)
    for i in range(5):  # each sync wrapper call (run_sync) runs on a fresh loop
        assert asyncio.run(engine.agenerate([{"role": "user", "content": f"q{i}"}])) == f"echo: q{i}"
    assert len(engine._async_clients) <= 1  # finished loops took their clients with them


def _shared_prefix_calls(tail: str) -> list[dict]:
    rules = " ".join(f"Rule {i}: crate {i} weighs under {100 + i} kg." for i in range(60))
    return [{"role": "system", "content": rules}, {"role": "user", "content": tail}]


@pytest.mark.parametrize("llama", [False, True])
def test_calls_sharing_a_long_prefix_take_turns_only_on_a_llama_cpp_server(llama):
    """llama.cpp caches a prefix per slot: there, k candidates sent at once would each evaluate it."""
    with ChatServer(latency_s=0.15) as server:
        server.llama_timings = llama
        engine = _engine(server)
        engine.generate(MESSAGES)  # the first answer tells what kind of server it is
        assert engine.prefix_per_slot is llama

        async def candidates_and_others():
            shared = [engine.agenerate(_shared_prefix_calls("Name one crate."), seed=s) for s in range(3)]
            short = [engine.agenerate([{"role": "user", "content": f"q{i}"}]) for i in range(3)]
            await asyncio.gather(*shared, *short)

        asyncio.run(candidates_and_others())
        shared_in_flight = server.max_in_flight
        server.max_in_flight = 0

        async def candidates():
            await asyncio.gather(*(engine.agenerate(_shared_prefix_calls("Name one crate."), seed=s) for s in range(3)))

        asyncio.run(candidates())
        if llama:  # the three shared ones one after another, beside the short ones
            assert server.max_in_flight == 1 and shared_in_flight <= 4
        else:
            assert server.max_in_flight == 3


def test_threads_sharing_a_long_prefix_take_turns_on_a_llama_cpp_server():
    from concurrent.futures import ThreadPoolExecutor

    with ChatServer(latency_s=0.15) as server:
        server.llama_timings = True
        engine = _engine(server)
        engine.generate(MESSAGES)
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: engine.generate(_shared_prefix_calls("Name one."), seed=s), range(3)))
        assert server.max_in_flight == 1
