import asyncio

import pytest

import tg_core as tg
from tg_core import prompts
from tg_core.optimizer import parse_improved


def _engine_answering(answers, recorder=None):
    """Optimizer answers from a list, in order; other prompts get a fixed text."""
    queue = list(answers)

    def reply(messages, **params):
        if recorder is not None:
            recorder.enter(messages, params)
            recorder.leave()
        if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
            return queue.pop(0)
        return "feedback"

    return tg.FunctionEngine(reply)


def _with_feedback(value="old value", role="system prompt", text="be concise"):
    v = tg.Variable(value, role_description=role)
    v.add_feedback(tg.Feedback(text, context="used to answer questions"))
    return v


def test_5000_word_variable_is_in_the_prompt_whole():
    words = " ".join(f"w{i}" for i in range(5000))
    v = _with_feedback(words, role="long document")
    messages = tg.TGD([v], engine=_engine_answering([])).prompt_for(v)
    assert words in messages[1]["content"]


def test_feedback_and_its_context_are_in_the_prompt():
    v = _with_feedback()
    user = tg.TGD([v], engine=_engine_answering([])).prompt_for(v)[1]["content"]
    assert "<FEEDBACK> be concise </FEEDBACK>" in user
    assert "<CONTEXT> used to answer questions </CONTEXT>" in user


@pytest.mark.parametrize(
    "bad",
    ["no tags at all", "", f"{prompts.IMPROVED_START}   {prompts.IMPROVED_END}",
     f"{prompts.IMPROVED_START}a{prompts.IMPROVED_END} {prompts.IMPROVED_START}b{prompts.IMPROVED_END}",
     f"{prompts.IMPROVED_START} cut short"],
    ids=["missing", "empty", "blank-between-tags", "tags-twice", "no-closing-tag"],
)
def test_malformed_answer_is_asked_again(bad, recorder):
    v = _with_feedback()
    good = f"{prompts.IMPROVED_START} new value {prompts.IMPROVED_END}"
    tg.TGD([v], engine=_engine_answering([bad, good], recorder)).step()
    assert v.value == "new value"
    assert len(recorder.calls) == 2
    reask = recorder.calls[1]
    assert reask[-2] == {"role": "assistant", "content": bad}
    assert "could not be used" in reask[-1]["content"]


def test_persistent_failure_names_the_variable_and_keeps_old_value():
    bad_one = _with_feedback("keep me", role="fragile prompt")
    good_one = _with_feedback("change me", role="sturdy prompt")

    def reply(messages, **params):
        if "fragile prompt" in messages[1]["content"]:
            return "never tagged"
        return f"{prompts.IMPROVED_START} changed {prompts.IMPROVED_END}"

    opt = tg.TGD([bad_one, good_one], engine=tg.FunctionEngine(reply), max_retries=2)
    with pytest.raises(tg.OptimizerError, match="'fragile prompt'") as info:
        opt.step()
    assert bad_one.value == "keep me"
    assert good_one.value == "changed"  # completed work is not lost
    assert "fragile prompt" in info.value.failures


def test_momentum_zero_works_and_shows_no_history():
    v = _with_feedback()
    good = f"{prompts.IMPROVED_START} v2 {prompts.IMPROVED_END}"
    opt = tg.TGD([v], engine=_engine_answering([good, good]), momentum=0)
    opt.step()
    v.add_feedback(tg.Feedback("more"))
    assert "PAST_ITERATION" not in opt.prompt_for(v)[1]["content"]


def test_momentum_and_gradient_memory_are_visible_in_the_prompt():
    v = _with_feedback("v1", text="feedback one")
    answers = [f"{prompts.IMPROVED_START} v{i} {prompts.IMPROVED_END}" for i in (2, 3)]
    opt = tg.TGD([v], engine=_engine_answering(answers), momentum=2, gradient_memory=2)
    opt.step()
    opt.zero_grad()
    v.add_feedback(tg.Feedback("feedback two"))
    opt.step()
    opt.zero_grad()
    v.add_feedback(tg.Feedback("feedback three"))
    user = opt.prompt_for(v)[1]["content"]
    assert '<PAST_ITERATION index="1">\n<VALUE> v1 </VALUE>\n<FEEDBACK> feedback one </FEEDBACK>' in user
    assert "<VALUE> v2 </VALUE>" in user
    assert '<PAST_FEEDBACK index="2"> feedback two </PAST_FEEDBACK>' in user


def test_momentum_window_keeps_only_last_k():
    v = _with_feedback("v1", text="f1")
    answers = [f"{prompts.IMPROVED_START} v{i} {prompts.IMPROVED_END}" for i in (2, 3, 4)]
    opt = tg.TGD([v], engine=_engine_answering(answers), momentum=1)
    for i in range(3):
        opt.step()
        opt.zero_grad()
        v.add_feedback(tg.Feedback(f"f{i + 2}"))
    user = opt.prompt_for(v)[1]["content"]
    assert "<VALUE> v3 </VALUE>" in user and "<VALUE> v2 </VALUE>" not in user


def test_constraints_and_examples_are_in_the_prompt():
    v = _with_feedback()
    opt = tg.TGD([v], engine=_engine_answering([]), constraints=["Keep it under 80 words."],
                 in_context_examples=["You are a meticulous grader."])
    user = opt.prompt_for(v)[1]["content"]
    assert "1. Keep it under 80 words." in user
    assert "<EXAMPLE> You are a meticulous grader. </EXAMPLE>" in user


def test_parameters_update_concurrently(scripted_engine, recorder):
    params = [_with_feedback(f"p{i}", role=f"prompt {i}") for i in range(5)]
    tg.TGD(params, engine=scripted_engine).step()
    assert recorder.max_in_flight == 5
    assert all(p.value == "improved value" for p in params)


def test_parameter_without_feedback_is_left_alone(recorder):
    v = tg.Variable("untouched", role_description="r")
    tg.TGD([v], engine=_engine_answering([], recorder)).step()
    assert v.value == "untouched" and recorder.calls == []


def test_optimizer_asks_for_tags_through_engine_params(recorder):
    v = _with_feedback()
    tg.TGD([v], engine=_engine_answering([f"{prompts.IMPROVED_START}x{prompts.IMPROVED_END}"], recorder)).step()
    assert recorder.params[0]["output_tags"] == (prompts.IMPROVED_START, prompts.IMPROVED_END)


def test_state_round_trips_for_resume():
    v = _with_feedback("v1")
    opt = tg.TGD([v], engine=_engine_answering([f"{prompts.IMPROVED_START} v2 {prompts.IMPROVED_END}"]), momentum=2)
    opt.step()
    fresh = tg.TGD([v], engine=_engine_answering([]), momentum=2)
    fresh.load_state(opt.state())
    v.add_feedback(tg.Feedback("again"))
    assert "<VALUE> v1 </VALUE>" in fresh.prompt_for(v)[1]["content"]


@pytest.mark.parametrize(
    "kwargs, message",
    [({"momentum": -1}, "momentum"), ({"gradient_memory": 1.5}, "gradient_memory"),
     ({"constraints": "one string"}, "constraints"), ({"max_retries": -2}, "max_retries")],
)
def test_bad_optimizer_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        tg.TGD([tg.Variable("x", role_description="r")], **kwargs)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="empty"):
        tg.TGD([])
    with pytest.raises(ValueError, match="'frozen'"):
        tg.TGD([tg.Variable("x", role_description="frozen", requires_grad=False)])


def test_parse_improved_strips_surrounding_text():
    assert parse_improved(f"Sure!\n{prompts.IMPROVED_START}\n new \n{prompts.IMPROVED_END}\nbye") == "new"


def test_engine_failure_is_raised_as_is_and_successful_updates_are_kept():
    failing = _with_feedback("stays", role="unlucky prompt")
    fine = _with_feedback("changes", role="lucky prompt")

    def reply(messages, **params):
        if "unlucky prompt" in messages[1]["content"]:
            raise tg.BudgetExceededError("budget of 3 LLM calls reached")
        return f"{prompts.IMPROVED_START} changed {prompts.IMPROVED_END}"

    with pytest.raises(tg.BudgetExceededError):
        tg.TGD([failing, fine], engine=tg.FunctionEngine(reply)).step()
    assert failing.value == "stays" and fine.value == "changed"


def test_remember_if_new_records_a_value_once_while_steps_start_again_from_it():
    variable = tg.Variable("a", role_description="text")
    optimizer = tg.TGD([variable], engine=tg.FunctionEngine(lambda messages, **params: "x"))
    optimizer.remember(variable, if_new=True)
    optimizer.remember(variable, if_new=True)
    variable.set_value("b")
    optimizer.remember(variable, if_new=True)
    optimizer.remember(variable)  # without if_new every call is a past iteration, as TextGrad's momentum
    assert [p.value for p in optimizer.history[id(variable)]] == ["a", "b", "b"]


@pytest.mark.parametrize("reask_tried", [True, False])
def test_an_answer_repeating_a_tried_value_is_asked_again_unless_the_caller_draws_instead(reask_tried):
    asked = []

    def reply(messages, **params):
        asked.append(messages)
        return f"{prompts.IMPROVED_START} {['tried one', 'new one'][len(asked) - 1]} {prompts.IMPROVED_END}"

    v = _with_feedback()
    optimizer = tg.TGD([v], engine=tg.FunctionEngine(reply))
    proposals = asyncio.run(optimizer.apropose(v, k=1, avoid=["tried one"], reask_tried=reask_tried))
    assert [r.kind for r in proposals.rejections] == ["tried"]
    if reask_tried:
        assert len(asked) == 2 and proposals.values == ["new one"]
    else:
        assert len(asked) == 1 and proposals.values == []
