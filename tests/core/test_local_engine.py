"""The embedded llama.cpp engine and how it finds its model file.

Fast tests use tiny fake chunk packages and never load a model; tests marked
slow run the light model (Qwen2.5-Coder-0.5B), loaded once for the module.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib.util
import json
import os
import random
import re

import pytest

from tg_core import prompts
from tg_core.engines import defaults, llama, model_files, native_llama
from tg_core.engines.defaults import TAGGED_MIN_MAX_TOKENS
from tg_core.engines.grammar import tags_grammar
from tg_core.engines.local import LocalEngine
from tg_core.engines.server import start_server
from tg_core.errors import EngineCallError, EngineConfigError
from tg_core.optimizer import parse_improved

TAGS = (prompts.IMPROVED_START, prompts.IMPROVED_END)
LIGHT = model_files.KNOWN_MODELS["light"]


def _light_installed() -> bool:
    return importlib.util.find_spec("xllamacpp") is not None and all(
        importlib.util.find_spec(p) is not None for p in LIGHT.packages
    )


needs_light = pytest.mark.skipif(
    not _light_installed(), reason="needs pip install 'tg-core[local-light]'"
)


# ---------------------------------------------------------------- grammar


def _accepts(grammar: str, text: str) -> bool:
    """Run the ``free0`` automaton of a tags grammar over ``text`` (an independent reader)."""
    rules = {}
    for line in grammar.splitlines()[1:]:
        name, body = line.split(" ::= ")
        rules[name] = [alt.strip() for alt in body.strip()[2:-3].split(" | ")]
    state = "free0"
    for ch in text:
        for alt in rules[state]:
            literal = re.fullmatch(r'"(.)" (\w+)', alt)
            negated = re.fullmatch(r"\[\^(.*)\] (\w+)", alt)
            if literal and literal.group(1) == ch:
                state = literal.group(2)
                break
            if negated and ch not in negated.group(1).replace("\\", ""):
                state = negated.group(2)
                break
        else:
            return False
    return True


@pytest.mark.parametrize("start,end", [TAGS, ("<A>", "</A>")], ids=["optimizer-tags", "short-tags"])
def test_tags_grammar_free_text_is_exactly_text_without_either_tag(start, end):
    grammar = tags_grammar(start, end)
    assert grammar.splitlines()[0] == f'root ::= free0 "{start}" free0 "{end}"'
    rng = random.Random(0)
    alphabet = sorted(set(start + end)) + ["x", "\n"]
    for _ in range(6000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        cut = rng.randint(0, len(text))
        text = text[:cut] + rng.choice([start, end, start[:-1], end[:-1], "<" + start, ""]) + text[cut:]
        assert _accepts(grammar, text) == (start not in text and end not in text), text


def test_tags_grammar_declines_tags_it_cannot_express_simply():
    assert tags_grammar("[[", "]]") is None
    assert tags_grammar("<A<", "</A>") is None
    assert tags_grammar("", "</A>") is None


# ---------------------------------------------------------------- requests (no model)


def test_constructor_reads_no_file_and_names_the_model():
    engine = LocalEngine("/no/such/model.gguf")
    assert engine.model == "local:model"
    assert LocalEngine("light").model == "local:qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert LocalEngine().model == "local:qwen2.5-coder-1.5b-instruct-q4_k_m"


def test_request_passes_sampling_params_and_drops_unknown_ones():
    engine = LocalEngine("light", temperature=0.0, max_tokens=100, seed=7)
    body = engine.request([{"role": "user", "content": "hi"}],
                          {"top_p": 0.9, "stop": ["\n"], "logprobs": True, "user": "x"})
    assert body == {"messages": [{"role": "user", "content": "hi"}], "temperature": 0.0,
                    "max_tokens": 100, "seed": 7, "cache_prompt": True, "top_p": 0.9, "stop": ["\n"]}


def test_output_tags_add_a_grammar_and_room_unless_the_caller_sets_max_tokens():
    engine = LocalEngine("light", max_tokens=100)
    messages = [{"role": "user", "content": "hi"}]
    body = engine.request(messages, {"output_tags": TAGS})
    assert "output_tags" not in body
    assert body["grammar"] == tags_grammar(*TAGS)
    assert body["max_tokens"] == TAGGED_MIN_MAX_TOKENS
    assert engine.request(messages, {"output_tags": TAGS, "max_tokens": 50})["max_tokens"] == 50


# ---------------------------------------------------------------- locating the model


def test_missing_tg_local_model_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("TG_LOCAL_MODEL", str(tmp_path / "missing.gguf"))
    engine = LocalEngine()  # "default" now means the user's file
    with pytest.raises(EngineConfigError, match="TG_LOCAL_MODEL.*missing.gguf"):
        engine.complete([{"role": "user", "content": "hi"}])


def test_non_gguf_tg_local_model_is_refused(monkeypatch, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    monkeypatch.setenv("TG_LOCAL_MODEL", str(fake))
    with pytest.raises(EngineConfigError, match="TG_LOCAL_MODEL.*not a GGUF"):
        LocalEngine().complete([{"role": "user", "content": "hi"}])


def test_non_gguf_path_is_refused(tmp_path):
    fake = tmp_path / "weights.bin"
    fake.write_bytes(b"\x00" * 64)
    with pytest.raises(EngineConfigError, match="not a GGUF model file"):
        model_files.resolve_model(str(fake))


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(EngineConfigError, match="neither a known model.*default, light"):
        model_files.resolve_model("lite")


def test_bad_thread_count_from_environment_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("TG_LOCAL_THREADS", "two")
    with pytest.raises(EngineConfigError, match="TG_LOCAL_THREADS"):
        LocalEngine(str(tmp_path / "m.gguf")).complete([{"role": "user", "content": "hi"}])


@pytest.fixture
def no_local_env(monkeypatch):
    for name in ("TG_LOCAL_THREADS", "TG_LOCAL_SLOTS", "TG_LOCAL_PROMPT_CACHE", "TG_LOCAL_SPECULATIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("cores,load,threads", [(2, 0.1, 2), (2, 0.6, 1), (2, 1.9, 1), (2, 7.5, 1),
                                                (16, 3.2, 8), (4, 1.2, 3)])
def test_threads_follow_the_idle_cores_when_the_model_loads(monkeypatch, no_local_env, cores, load, threads):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    chosen, source = llama.choose_threads()
    assert chosen == threads
    assert source == f"load: {max(0.0, cores - load):.1f} of {cores} cores idle"


def test_threads_without_a_load_average_stay_at_one(monkeypatch, no_local_env):
    def unavailable():
        raise OSError("no load average here")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert llama.choose_threads()[0] == 1


def test_explicit_threads_win_over_environment_and_load(monkeypatch, no_local_env):
    monkeypatch.setenv("TG_LOCAL_THREADS", "3")
    assert llama.choose_threads() == (3, "TG_LOCAL_THREADS")
    assert llama.choose_threads(2) == (2, "n_threads")


@pytest.mark.parametrize("bad", ["0", "-2", "two", "1.5"])
def test_bad_slot_count_from_environment_is_named(monkeypatch, tmp_path, no_local_env, bad):
    monkeypatch.setenv("TG_LOCAL_SLOTS", bad)
    with pytest.raises(EngineConfigError, match=f"TG_LOCAL_SLOTS must be a positive integer, got '{re.escape(bad)}'"):
        LocalEngine(str(tmp_path / "m.gguf")).complete([{"role": "user", "content": "hi"}])


def test_slots_from_argument_environment_or_default(monkeypatch, no_local_env):
    assert llama.choose_slots() == defaults.LOCAL_SLOTS
    monkeypatch.setenv("TG_LOCAL_SLOTS", "2")
    assert llama.choose_slots() == 2
    assert llama.choose_slots(1) == 1
    with pytest.raises(EngineConfigError, match="n_slots must be a positive integer, got 0"):
        llama.choose_slots(0)


def test_prefix_reuse_from_argument_environment_or_default(monkeypatch, no_local_env):
    assert llama.choose_prompt_cache() is True
    assert LocalEngine("light").request(HELLO, {})["cache_prompt"] is True
    monkeypatch.setenv("TG_LOCAL_PROMPT_CACHE", "off")
    assert llama.choose_prompt_cache() is False and llama.choose_prompt_cache(True) is True
    assert LocalEngine("light").request(HELLO, {})["cache_prompt"] is False
    monkeypatch.setenv("TG_LOCAL_PROMPT_CACHE", "sometimes")
    with pytest.raises(EngineConfigError, match="TG_LOCAL_PROMPT_CACHE must be 1/on/true or 0/off/false, got 'sometimes'"):
        LocalEngine("light")


def test_speculative_decoding_from_argument_environment_or_default(monkeypatch, no_local_env):
    assert llama.choose_speculative() == defaults.LOCAL_SPECULATIVE == "ngram-mod"
    assert LocalEngine("light").speculative == "ngram-mod"
    monkeypatch.setenv("TG_LOCAL_SPECULATIVE", " Off ")
    assert llama.choose_speculative() == "off" and llama.choose_speculative("ngram-simple") == "ngram-simple"
    assert LocalEngine("light").speculative == "off"
    monkeypatch.setenv("TG_LOCAL_SPECULATIVE", "draft-eagle3")  # needs a draft model: not offered
    with pytest.raises(EngineConfigError, match="TG_LOCAL_SPECULATIVE must be one of off, ngram-mod, .*got 'draft-eagle3'"):
        LocalEngine("light")
    with pytest.raises(EngineConfigError, match="speculative must be one of .*got 'fast'"):
        LocalEngine("light", speculative="fast")


def test_every_offered_speculative_type_is_one_llama_cpp_knows():
    xllamacpp = pytest.importorskip("xllamacpp")
    for name in defaults.SPECULATIVE_TYPES:
        params = llama.server_params(xllamacpp, "m.gguf", "m", 1, 1, 1024, "127.0.0.1", 0, 16, name)
        assert [t.name for t in params.speculative.types] == (
            ["COMMON_SPECULATIVE_TYPE_NONE"] if name == "off"
            else ["COMMON_SPECULATIVE_TYPE_" + name.upper().replace("-", "_")])


def test_kv_need_bounds_the_prompt_by_its_bytes_and_counts_the_answer():
    engine = LocalEngine("light", max_tokens=100)
    body = engine.request([{"role": "system", "content": "ab"}, {"role": "user", "content": "é€"}], {})
    assert engine.kv_need(body) == (2 + 5) + 2 * defaults.MESSAGE_TOKENS + defaults.TEMPLATE_TOKENS + 100


def test_endpoint_of_a_bundled_model_is_its_pinned_digest_without_reading_files():
    assert LocalEngine("light").endpoint == "sha256:" + LIGHT.sha256


def test_endpoint_of_a_users_model_is_its_sha256_remembered_per_file_version(tmp_path):
    first, second = tmp_path / "a" / "model.gguf", tmp_path / "b" / "model.gguf"
    for path, body in ((first, b"GGUF one"), (second, b"GGUF two")):
        path.parent.mkdir()
        path.write_bytes(body)
    engines = LocalEngine(str(first)), LocalEngine(str(second))
    assert engines[0].model == engines[1].model == "local:model"  # one name, two models
    assert engines[0].endpoint == "sha256:" + hashlib.sha256(b"GGUF one").hexdigest()
    assert engines[1].endpoint == "sha256:" + hashlib.sha256(b"GGUF two").hexdigest()
    memo = json.loads((model_files.models_dir() / "digests.json").read_text())
    assert memo[str(first.resolve())]["sha256"] == hashlib.sha256(b"GGUF one").hexdigest()
    first.write_bytes(b"GGUF one, retrained")
    assert LocalEngine(str(first)).endpoint == "sha256:" + hashlib.sha256(b"GGUF one, retrained").hexdigest()


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A KnownModel whose three chunks live in throwaway packages on sys.path."""
    root = tmp_path / "site"
    blobs = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"tail"]
    for index, blob in enumerate(blobs, start=1):
        data = root / f"tgfake_part{index}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{index:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(root))
    whole = b"".join(blobs)
    return model_files.KnownModel(
        name="fake", filename="fake.gguf", packages=("tgfake_part1", "tgfake_part2", "tgfake_part3"),
        sha256=hashlib.sha256(whole).hexdigest(), size=len(whole), extra="local-light",
    ), whole


def test_assembles_once_into_the_cache_and_records_the_digest(fake_model, tmp_path, monkeypatch):
    known, whole = fake_model
    monkeypatch.setenv("TG_CACHE_DIR", str(tmp_path / "cache"))
    path = model_files.ensure_model(known)
    assert path == tmp_path / "cache" / "models" / "fake.gguf"
    assert path.read_bytes() == whole
    record = json.loads((path.parent / "fake.gguf.verified.json").read_text())
    assert record["sha256"] == hashlib.sha256(whole).hexdigest()
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []

    def no_hashing(_path):
        raise AssertionError("a verified cache must not be hashed again")

    monkeypatch.setattr(model_files, "_sha256", no_hashing)
    assert model_files.ensure_model(known) == path


def test_corrupted_cache_is_detected_and_rebuilt(fake_model, tmp_path):
    known, whole = fake_model
    path = model_files.ensure_model(known, tmp_path)
    path.write_bytes(b"GGUF" + b"\xff" * (len(whole) - 4))  # same size, new mtime, wrong bytes
    assert model_files.ensure_model(known, tmp_path).read_bytes() == whole
    path.write_bytes(whole[:100])  # truncated
    assert model_files.ensure_model(known, tmp_path).read_bytes() == whole


def test_wrong_sidecar_on_a_good_file_is_rechecked_not_rebuilt(fake_model, tmp_path):
    known, whole = fake_model
    path = model_files.ensure_model(known, tmp_path)
    inode = path.stat().st_ino
    (tmp_path / "fake.gguf.verified.json").write_text('{"sha256": "0000"}')
    assert model_files.ensure_model(known, tmp_path).stat().st_ino == inode
    record = json.loads((tmp_path / "fake.gguf.verified.json").read_text())
    assert record["sha256"] == known.sha256


def test_parts_with_a_wrong_digest_are_refused(fake_model, tmp_path):
    known, _ = fake_model
    tampered = dataclasses.replace(known, sha256="0" * 64)
    with pytest.raises(EngineConfigError, match="sha256.*pip install --force-reinstall"):
        model_files.ensure_model(tampered, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # no partial file left behind


def test_missing_packages_say_which_extra_to_install(tmp_path):
    missing = model_files.KnownModel(
        name="default", filename="x.gguf", packages=("tg_no_such_part1",), sha256="0" * 64,
        size=1, extra="local",
    )
    with pytest.raises(EngineConfigError, match=r"pip install 'tg-core\[local\]'.*TG_LOCAL_MODEL"):
        model_files.ensure_model(missing, tmp_path)
    light = dataclasses.replace(missing, extra="local-light")
    with pytest.raises(EngineConfigError, match=r"pip install 'tg-core\[local-light\]'"):
        model_files.ensure_model(light, tmp_path)


# ---------------------------------------------------------------- the real light model


@pytest.mark.slow
@needs_light
def test_light_model_assembles_with_the_pinned_digest(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("assembly")
    monkeypatch.setenv("TG_CACHE_DIR", str(cache))
    path = model_files.resolve_model("light")
    assert path.parent == cache / "models"
    assert path.stat().st_size == LIGHT.size
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    assert digest.hexdigest() == LIGHT.sha256


@pytest.fixture(scope="module")
def light_path():
    """The light model from the user's real cache: assembling it per test would cost 0.5 GB each.

    Module fixtures are set up before the per-test sealed environment, so this
    reads the developer's own TG_CACHE_DIR (or ~/.cache/tg-core).
    """
    if not _light_installed():
        pytest.skip("needs pip install 'tg-core[local-light]'")
    return str(model_files.ensure_model(LIGHT))


@pytest.fixture(scope="module")
def light(light_path):
    engine = LocalEngine(light_path, n_threads=1, max_tokens=64)
    engine.load()
    yield engine
    engine.close()


HELLO = [{"role": "user", "content": "Say hello in five words."}]


@pytest.mark.slow
def test_generates_text_and_counts_tokens(light):
    calls_before, completion_before = light.usage.calls, light.usage.completion_tokens
    completion = light.complete(HELLO)
    assert completion.text.strip()
    assert completion.finish_reason == "stop"
    assert completion.model == "local:qwen2.5-coder-0.5b-instruct-q4_k_m"
    assert 10 < completion.prompt_tokens < 60
    assert 0 < completion.completion_tokens < 64
    assert light.usage.calls == calls_before + 1
    assert light.usage.completion_tokens == completion_before + completion.completion_tokens


@pytest.mark.slow
def test_same_prompt_same_text_sync_and_async(light):
    async def twice():
        return await asyncio.gather(light.acomplete(HELLO), light.acomplete(HELLO))

    first, second = asyncio.run(twice())
    assert first.text == second.text == light.complete(HELLO).text


@pytest.mark.slow
def test_output_tags_grammar_gives_a_parsable_answer(light):
    messages = [
        {"role": "system", "content": "You rewrite text. Keep answers short."},
        {"role": "user", "content": "Fix the spelling of: 'the cat sat on teh mat'. Give the fixed "
                                    f"sentence between {TAGS[0]} and {TAGS[1]}."},
    ]
    completion = light.complete(messages, output_tags=TAGS)
    assert completion.finish_reason == "stop"
    assert "cat" in parse_improved(completion.text)


@pytest.mark.slow
def test_answer_cut_by_max_tokens_says_length(light):
    completion = light.complete([{"role": "user", "content": "Count from 1 to 100."}], max_tokens=5)
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 5
    tagged = light.complete([{"role": "user", "content": f"Write a poem between {TAGS[0]} and {TAGS[1]}."}],
                            output_tags=TAGS, max_tokens=6)
    assert tagged.finish_reason == "length"
    assert TAGS[1] not in tagged.text  # returned as is, so the optimizer asks again
    with pytest.raises(ValueError):
        parse_improved(tagged.text)


@pytest.mark.slow
def test_context_overflow_is_a_clear_error_not_retried(light_path):
    engine = LocalEngine(light_path, n_ctx=256)
    try:
        with pytest.raises(EngineCallError, match="n_ctx") as info:
            engine.complete([{"role": "user", "content": "word " * 400}], max_tokens=4)
        assert info.value.retryable is False
    finally:
        engine.close()


@pytest.mark.slow
def test_http_server_answers_the_openai_client(light_path):
    openai = pytest.importorskip("openai")
    with start_server(light_path, host="127.0.0.1", port=0, n_threads=1, n_ctx=1024) as server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", server.base_url)
        client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == [server.model]
        reply = client.chat.completions.create(
            model=server.model, messages=HELLO, max_tokens=16, temperature=0
        )
        assert reply.choices[0].message.content.strip()
        assert reply.usage.completion_tokens > 0
        stream = client.chat.completions.create(
            model=server.model, messages=HELLO, max_tokens=4, temperature=0, stream=True
        )
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        assert "".join(pieces).strip()
    with pytest.raises(openai.APIConnectionError):
        client.models.list()


@pytest.mark.slow
def test_one_tgd_step_with_the_light_model_parses(light):
    import tg_core as tg

    sentence = tg.Variable("the cat sat on teh mat", role_description="a sentence with a typo")
    sentence.add_feedback(tg.Feedback("The word 'teh' is misspelled; it should be 'the'."))
    tg.TGD([sentence], engine=light, max_retries=2).step()
    assert sentence.value != "the cat sat on teh mat"
    assert "cat" in sentence.value and prompts.IMPROVED_START not in sentence.value


@pytest.mark.slow
def test_openai_engine_against_the_embedded_models_server(light_path):
    from tg_core.engines.openai_engine import OpenAIEngine

    with start_server(light_path, host="127.0.0.1", port=0, n_threads=1, n_ctx=1024) as server:
        engine = OpenAIEngine(server.model, base_url=server.base_url)
        text = engine.generate(HELLO, max_tokens=16, temperature=0)
        assert text.strip()
        assert engine.usage.calls == 1 and engine.usage.completion_tokens > 0
        assert engine.usage.cost_usd == 0.0  # local models cost nothing


@pytest.mark.slow
def test_second_call_sharing_a_prefix_reports_cached_prompt_tokens(light):
    prefix = "You check shipping manifests for a test of prefix reuse. " + " ".join(
        f"Rule {i}: crate {i} must weigh less than {100 + i} kg." for i in range(40)
    )
    before = dataclasses.replace(light.usage)
    first = light.complete([{"role": "system", "content": prefix},
                            {"role": "user", "content": "Manifest 1: crate 3 weighs 90 kg. Is it fine?"}], max_tokens=8)
    second = light.complete([{"role": "system", "content": prefix},
                             {"role": "user", "content": "Manifest 2: crate 7 weighs 200 kg. Is it fine?"}], max_tokens=8)
    assert first.prompt_tokens > 400
    assert first.cached_prompt_tokens < 50  # at most the chat template's opening is shared with earlier tests
    assert second.cached_prompt_tokens > first.prompt_tokens - 30  # all but the new question
    assert second.evaluated_prompt_tokens == second.prompt_tokens - second.cached_prompt_tokens < 30
    usage = light.usage
    assert usage.prompt_tokens - before.prompt_tokens == first.prompt_tokens + second.prompt_tokens
    assert (usage.cached_prompt_tokens - before.cached_prompt_tokens
            == first.cached_prompt_tokens + second.cached_prompt_tokens)


@pytest.mark.slow
def test_with_prefix_reuse_off_a_shared_prefix_is_evaluated_again(light_path):
    engine = LocalEngine(light_path, n_threads=1, max_tokens=8, prompt_cache=False)
    prefix = "You check parcel labels for a test of prefix reuse turned off. " + " ".join(
        f"Rule {i}: parcel {i} must be under {50 + i} cm." for i in range(40)
    )
    try:
        answers = [engine.complete([{"role": "system", "content": prefix},
                                    {"role": "user", "content": f"Parcel {i} is 60 cm. Is it fine?"}]) for i in (1, 2)]
    finally:
        engine.close()
    assert answers[1].prompt_tokens > 400 and answers[1].cached_prompt_tokens < 30
    assert answers[1].evaluated_prompt_tokens > answers[1].prompt_tokens - 30


@pytest.mark.slow
@pytest.mark.parametrize("text", ["1234567890" * 8, "数据和模型" * 10, "🙂🚀✓" * 10, "plain words " * 10])
def test_kv_need_is_never_below_the_tokens_a_request_takes(light, text):
    body = light.request([{"role": "user", "content": text}], {"max_tokens": 1})
    completion = light.complete([{"role": "user", "content": text}], max_tokens=1)
    assert light.kv_need(body) >= completion.prompt_tokens + completion.completion_tokens


@pytest.mark.slow
def test_concurrent_calls_sharing_a_long_prefix_take_turns_so_each_later_one_reuses_it(light):
    prefix = "You check customs declarations for a test of concurrent prefix reuse. " + " ".join(
        f"Clause {i}: parcel {i} may hold at most {20 + i} items." for i in range(50)
    )
    messages = [{"role": "system", "content": prefix}, {"role": "user", "content": "Name one parcel."}]
    assert len(prefix) > defaults.SHARED_PREFIX_CHARS

    async def candidates():
        return await asyncio.gather(*(light.acomplete(messages, max_tokens=4, seed=s, temperature=0.7)
                                      for s in (1, 2, 3)))

    answers = asyncio.run(candidates())
    evaluated = sorted(a.evaluated_prompt_tokens for a in answers)
    # One call evaluates the prompt; the others, run after it in its slot, only the last token or so.
    assert evaluated[-1] > 500 and evaluated[1] < 30


@pytest.mark.slow
def test_concurrent_calls_that_outgrow_the_shared_context_take_turns_and_the_run_records_the_load(
    light_path, tmp_path
):
    from tg_core.runs import Run

    engine = LocalEngine(light_path, n_threads=1, n_slots=2, n_ctx=2048, max_tokens=16)
    # Each prompt takes over 1,000 of the 2,048 cells: together llama.cpp would fail both.
    prompts = [[{"role": "user", "content": " ".join(f"{word} {i}" for i in range(240)) + ". Summarize."}]
               for word in ("alpha", "beta")]

    async def both():
        return await asyncio.gather(*(engine.acomplete(p) for p in prompts))

    run = Run.create(tmp_path, task="slots", engine=engine)
    try:
        with run:
            answers = asyncio.run(both())
    finally:
        engine.close()
    assert all(a.text.strip() and a.prompt_tokens > 1000 for a in answers)
    [loaded] = run.events("local_engine_loaded")
    assert loaded["slots"] == 2 and loaded["n_ctx"] == 2048
    assert loaded["threads"] == 1 and loaded["threads_source"] == "n_threads"
    assert loaded["digest"] == LIGHT.sha256 and loaded["model"] == LIGHT.label
    import xllamacpp  # the event names the instruction sets this llama.cpp was built with

    assert loaded["instructions"] == native_llama.build_names(xllamacpp.get_system_info())
    assert loaded["speculative"] == defaults.LOCAL_SPECULATIVE


def _copy_request(server, text):
    """A raw chat request to ``server`` asking for ``text`` back, with llama.cpp's timings (drafts included)."""
    import urllib.request

    body = {"model": server.model, "temperature": 0, "max_tokens": 400,
            "messages": [{"role": "user", "content": "Repeat this text exactly, nothing else:\n\n" + text}]}
    request = urllib.request.Request(server.base_url + "/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


COPIED = """def schedule(jobs: list[tuple[str, int, int]], workers: int) -> dict[str, list[str]]:
    \"\"\"Assign each job (name, duration, priority) to the worker that frees up first.\"\"\"
    if workers < 1:
        raise ValueError(f"need at least one worker, got {workers}")
    ordered = sorted(jobs, key=lambda job: (-job[2], job[1], job[0]))
    finish = {f"worker-{index}": 0 for index in range(workers)}
    plan: dict[str, list[str]] = {name: [] for name in finish}
    for name, duration, _priority in ordered:
        chosen = min(finish, key=lambda worker: (finish[worker], worker))
        plan[chosen].append(name)
        finish[chosen] += duration
    return plan
"""


@pytest.mark.slow
@pytest.mark.parametrize("speculative", ["ngram-mod", "off"])
def test_ngram_speculation_drafts_text_the_prompt_holds_and_off_drafts_none(light_path, speculative):
    with start_server(light_path, host="127.0.0.1", port=0, n_threads=1, n_ctx=2048,
                      speculative=speculative) as server:
        reply = _copy_request(server, COPIED)
    answer, timings = reply["choices"][0]["message"]["content"], reply["timings"]
    assert "chosen = min(finish, key=lambda worker: (finish[worker], worker))" in answer
    if speculative == "off":
        assert not timings.get("draft_n")
    else:  # the copy continues n-grams of the prompt, so llama.cpp drafts them and the model accepts most
        assert timings["draft_n"] >= 48 and timings["draft_n_accepted"] > timings["draft_n"] / 2
