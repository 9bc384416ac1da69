"""TextGrad's API on tg-core: names, module paths, accessors and options, modelled on TextGrad's tests."""

import importlib

import pytest
from chat_server import ChatServer

import tg_core as tg
from tg_core import prompts
from tg_core.plugins import get_plugins


def scripted(answer="Hello World", calls=None):
    def reply(messages, **params):
        if calls is not None:
            calls.append(messages)
        system = messages[0]["content"]
        if system == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} World {prompts.IMPROVED_END}"
        if system == prompts.BACKWARD_SYSTEM:
            return "feedback: say more"
        return answer

    return tg.FunctionEngine(reply, model="scripted")


# ---------------------------------------------------------------- names and module paths


TEXTGRAD_IMPORTS = {
    "tg_core": ["Variable", "TextLoss", "BlackboxLLM", "EngineLM", "get_engine", "TextualGradientDescent", "TGD",
                "set_backward_engine", "sum", "aggregate"],
    "tg_core.autograd": ["LLMCall", "FormattedLLMCall", "LLMCall_with_in_context_examples", "MultimodalLLMCall",
                         "OrderedFieldsMultimodalLLMCall", "Module", "StringBasedFunction", "sum", "aggregate"],
    "tg_core.engine": ["EngineLM", "get_engine"],
    "tg_core.engine.base": ["EngineLM"],
    "tg_core.engine.openai": ["ChatOpenAI"],
    "tg_core.loss": ["TextLoss", "MultiFieldEvaluation", "MultiFieldTokenParsedEvaluation", "MultiChoiceTestTime",
                     "ImageQALoss"],
    "tg_core.optimizer": ["TextualGradientDescent", "TextualGradientDescentwithMomentum", "TGD"],
    "tg_core.tasks": ["load_task", "DataLoader"],
}


@pytest.mark.parametrize("module", sorted(TEXTGRAD_IMPORTS))
def test_textgrad_import_lines_resolve(module):
    loaded = importlib.import_module(module)
    assert [name for name in TEXTGRAD_IMPORTS[module] if not hasattr(loaded, name)] == []


def test_textgrad_names_are_our_classes():
    from tg_core.engine.base import EngineLM
    from tg_core.optimizer import TextualGradientDescent

    assert EngineLM is tg.EngineLM and issubclass(TextualGradientDescent, tg.TGD)
    assert tg.autograd.FormattedLLMCall is tg.FormattedLLMCall and tg.loss.TextLoss is tg.TextLoss


def test_engine_config_error_is_a_value_error():
    assert issubclass(tg.EngineConfigError, ValueError)
    with pytest.raises(ValueError):
        tg.get_engine("invalid-engine")


def test_chat_openai_needs_a_key_and_takes_one(monkeypatch):
    from tg_core.engine.openai import ChatOpenAI

    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        ChatOpenAI()
    monkeypatch.setenv("OPENAI_API_KEY", "fake_key_123")
    assert ChatOpenAI("gpt-4o").model_string == "gpt-4o"


# ---------------------------------------------------------------- Variable


def test_variable_accessors():
    v = tg.Variable("one two three four five", role_description="a sentence")
    assert v.get_value() == "one two three four five" and v.get_role_description() == "a sentence"
    v.set_role_description("a better sentence")
    assert v.role_description == "a better sentence"
    assert v.get_short_value(n_words_offset=1) == "one (...) five"
    assert v.get_short_value() == v.value
    v.add_feedback(tg.Feedback("fix it"))
    v.reset_gradients()
    assert v.gradients == [] and v.get_grad_fn() is None
    with pytest.raises(ValueError, match="role_description"):
        v.set_role_description(" ")


def test_variable_needs_a_role_description_like_textgrad():
    with pytest.raises(TypeError, match="role_description is required"):
        tg.Variable("Hello")


def test_generate_graph_is_dot_text():
    x = tg.Variable("Input", role_description="input")
    out = tg.autograd.LLMCall(scripted())(x)
    assert out.get_grad_fn() is not None and x in out.predecessors
    assert out.generate_graph().startswith("digraph")


# ---------------------------------------------------------------- engines


def test_generate_with_text_and_system_prompt_and_engine_as_a_function():
    calls = []
    engine = scripted("fine, thanks", calls)
    assert engine.generate("Hello how are you?", system_prompt="Be brief.") == "fine, thanks"
    assert calls[0] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello how are you?"}]
    assert engine("Hi") == "fine, thanks" and calls[1] == [{"role": "user", "content": "Hi"}]
    with pytest.raises(ValueError, match="system_prompt= goes with a text prompt"):
        engine.generate([{"role": "user", "content": "x"}], system_prompt="s")


class HelloEngine(tg.EngineLM):
    """A TextGrad-style engine: only generate(), no __init__."""

    def generate(self, prompt, system_prompt=None, **kwargs):
        self.seen = (prompt, system_prompt, kwargs)
        if system_prompt == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} World {prompts.IMPROVED_END}"
        return "Hello World"

    def __call__(self, prompt, system_prompt=None):
        return self.generate(prompt, system_prompt=system_prompt)


def test_a_textgrad_engine_subclass_drives_our_functions_and_optimizer():
    engine = HelloEngine()
    text = tg.Variable("Hello", role_description="A variable")
    response = tg.BlackboxLLM(engine=engine)(text)
    assert response.value == "Hello World" and engine.usage.calls == 1
    optimizer = tg.TextualGradientDescent(parameters=[text], engine=engine)
    text.add_feedback(tg.Feedback("grad"))
    optimizer.step()
    assert text.get_value() == "World"
    assert engine.seen[1] == prompts.OPTIMIZER_SYSTEM and "max_tokens" in engine.seen[2]


def test_engine_lm_without_generate_says_what_to_define():
    class Empty(tg.EngineLM):
        pass

    with pytest.raises(NotImplementedError, match="must define generate"):
        tg.LLMCall(Empty())(tg.Variable("x", role_description="r"))


def test_engine_lm_keeps_only_the_options_generate_takes():
    class Named(tg.EngineLM):
        def generate(self, prompt, system_prompt=None, temperature=0.0):
            return f"t={temperature}"

    assert Named().complete([{"role": "user", "content": "x"}], temperature=0.5, max_tokens=9).text == "t=0.5"


def test_set_backward_engine_override_guard():
    first, second = scripted(), scripted()
    tg.set_backward_engine(first, override=False)
    assert tg.get_backward_engine() is first
    tg.set_backward_engine(second, True)
    assert tg.get_backward_engine() is second
    with pytest.raises(tg.EngineConfigError, match="override=True"):
        tg.set_backward_engine(first, False)


def test_engines_by_textgrad_name_in_functions_and_optimizer(monkeypatch):
    with ChatServer() as server:
        monkeypatch.setenv("OLLAMA_BASE_URL", server.base_url)
        tg.set_backward_engine("ollama-tiny", override=True)
        model = tg.BlackboxLLM("ollama-tiny")
        answer = model(tg.Variable("What is 2+2?", role_description="question", requires_grad=False))
        assert answer.value == "echo: What is 2+2?"
        assert server.requests[0]["model"] == "tiny"
        optimizer = tg.TGD(parameters=[answer], engine="ollama-tiny")
        assert optimizer.engine.model == "tiny"


# ---------------------------------------------------------------- optimizer options


def test_textgrad_defaults_are_accepted():
    v = tg.Variable("x", role_description="r")
    optimizer = tg.TextualGradientDescent(
        parameters=[v], verbose=0, engine=scripted(), constraints=None,
        new_variable_tags=["<IMPROVED_VARIABLE>", "</IMPROVED_VARIABLE>"], in_context_examples=None,
    )
    assert optimizer.constraints == [] and optimizer.in_context_examples == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"verbose": 1}, "logging"),
        ({"new_variable_tags": ["<NEW>", "</NEW>"]}, "tags are fixed"),
        ({"optimizer_system_prompt": "You are..."}, "OPTIMIZER_SYSTEM"),
    ],
)
def test_textgrad_options_that_would_differ_are_refused(option, message):
    v = tg.Variable("x", role_description="r")
    with pytest.raises(TypeError, match=message):
        tg.TextualGradientDescent(parameters=[v], engine=scripted(), **option)


def test_momentum_window_shows_past_iterations():
    calls = []
    engine = scripted(calls=calls)
    v = tg.Variable("first draft", role_description="draft")
    optimizer = tg.TextualGradientDescentwithMomentum(engine=engine, parameters=[v], momentum_window=2)
    assert optimizer.momentum == 2
    for _ in range(2):
        v.add_feedback(tg.Feedback("be shorter"))
        optimizer.step()
        optimizer.zero_grad()
    last = calls[-1][-1]["content"]
    assert "<PAST_ITERATION" in last and "first draft" in last


def test_image_parameter_is_refused():
    v = tg.Variable(b"\x89PNG\r\n\x1a\nrest", role_description="picture")
    with pytest.raises(ValueError, match="holds an image"):
        tg.TGD([v], engine=scripted())


# ---------------------------------------------------------------- functions and losses


def test_string_based_function_with_named_inputs_and_backward():
    def equal(prediction, ground_truth_answer):
        return int(prediction.value.strip() == ground_truth_answer.value)

    fn = tg.StringBasedFunction(equal, function_purpose="checks the prediction against the answer")
    prediction = tg.Variable("41", role_description="prediction")
    truth = tg.Variable("42", role_description="answer", requires_grad=False)
    out = fn(inputs=dict(prediction=prediction, ground_truth_answer=truth), response_role_description="check")
    assert out.value == "0" and int(out.value) == 0 and out.role_description == "check"
    calls = []
    out.backward(scripted(calls=calls))
    assert prediction.gradients and not truth.gradients
    request = calls[0][-1]["content"]
    assert "checks the prediction against the answer" in request and 'name="ground_truth_answer"' in request


def test_string_based_function_errors_become_text_and_bad_inputs_are_named():
    fn = tg.StringBasedFunction(lambda prediction: 1 / 0, "divides")
    out = fn(inputs={"prediction": tg.Variable("x", role_description="p")})
    assert out.value.startswith("ERROR in <lambda>: ZeroDivisionError")
    with pytest.raises(TypeError, match="input 'prediction' is a str"):
        fn(inputs={"prediction": "x"})


def test_multi_field_token_parsed_evaluation():
    engine = scripted("The prediction matches. <ACCURACY> 1 </ACCURACY>")
    fields = ["Question for the task", "Ground truth answer", "Prediction"]
    evaluation = tg.MultiFieldTokenParsedEvaluation(
        "Is it right? Answer in <ACCURACY> tags.", role_descriptions=fields, engine=engine,
        parse_tags=["<ACCURACY>", "</ACCURACY>"],
    )
    x, y, p = (tg.Variable(t, role_description=r, requires_grad=False) for t, r in zip("qap", fields, strict=True))
    assert evaluation.parse_output(evaluation([x, y, p])) == "1"
    with pytest.raises(ValueError, match="no <ACCURACY> ... </ACCURACY> span"):
        evaluation.parse_output(tg.Variable("no tags", role_description="eval"))
    with pytest.raises(ValueError, match="parse_tags must be two"):
        tg.MultiFieldTokenParsedEvaluation("i", fields, engine=engine, parse_tags="<A>")


def test_multi_choice_test_time_loss():
    calls = []
    loss = tg.MultiChoiceTestTime("Check the {reasoning} carefully.", engine=scripted("looks wrong", calls))
    prediction = tg.Variable("Answer: B", role_description="answer to the question")
    evaluation = loss("Which is heavier? A) 1 kg B) 2 kg", prediction)
    user = calls[0][-1]["content"]
    assert "Check the {reasoning} carefully." in user and "A) 1 kg" in user and "Answer: B" in user
    assert calls[0][0]["content"] == prompts.TEST_TIME_SYSTEM
    assert evaluation.role_description == "evaluation of the answer to the question"
    with pytest.raises(ValueError, match="evaluation_instruction"):
        tg.MultiChoiceTestTime(" ")


def test_llm_call_with_in_context_examples_shows_them_to_backward():
    calls = []
    engine = scripted("a plan", calls)
    call = tg.autograd.LLMCall_with_in_context_examples(engine)
    prompt = tg.Variable("Plan a trip", role_description="prompt")
    out = call(prompt, in_context_examples=["Day 1: museum", "Day 2: hike"])
    out.backward(engine)
    backward_request = calls[-1][-1]["content"]
    assert "Day 1: museum" in backward_request and "Day 2: hike" in backward_request
    with pytest.raises(TypeError, match="in_context_examples"):
        call(prompt, in_context_examples=[1])


def test_text_llm_call_refuses_an_image_variable():
    image = tg.Variable(b"\x89PNG\r\n\x1a\nrest", role_description="picture", requires_grad=False)
    with pytest.raises(TypeError, match="MultimodalLLMCall"):
        tg.LLMCall(scripted())(image)


def test_sum_keeps_roles_and_values():
    total = tg.sum(variables=[tg.Variable("Line1", role_description="role1"),
                              tg.Variable("Line2", role_description="role2")])
    assert total.get_value() == "Line1\nLine2"
    assert "role1" in total.get_role_description() and "role2" in total.get_role_description()


# ---------------------------------------------------------------- data


def test_data_loader_batches_pairs_and_is_seeded():
    data = [(f"q{i}", str(i)) for i in range(7)]
    loader = tg.tasks.DataLoader(data, batch_size=3, shuffle=True, seed=1)
    batches = list(loader)
    assert len(loader) == 3 and [len(xs) for xs, _ in batches] == [3, 3, 1]
    assert sorted(x for xs, _ in batches for x in xs) == sorted(x for x, _ in data)
    assert batches == list(tg.tasks.DataLoader(data, batch_size=3, seed=1))
    assert list(tg.tasks.DataLoader(data, batch_size=7, shuffle=False))[0][1] == tuple(str(i) for i in range(7))
    with pytest.raises(ValueError, match="batch_size"):
        tg.tasks.DataLoader(data, batch_size=0)


def test_load_task_without_the_qa_plugin_names_the_offline_way(monkeypatch):
    monkeypatch.setenv("TG_BLOCK_PLUGINS", "qa")  # no plugin answers tg_task_loader
    get_plugins(reload=True)
    with pytest.raises(ImportError, match=r"load_task\('BBH_object_counting'\).*tg-core\[qa\]"):
        tg.tasks.load_task("BBH_object_counting", evaluation_api=None)
