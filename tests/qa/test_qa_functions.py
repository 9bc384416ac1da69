import pytest

import tg_core as tg
from tg_core import prompts as core_prompts
from tg_core.plugins import get_plugins
from tg_qa import (
    Evaluation,
    Evaluator,
    ExactMatchLoss,
    JudgeLoss,
    MultipleChoiceLoss,
    StringFunctionLoss,
)


def test_exact_match_loss_scores_and_explains():
    loss = ExactMatchLoss()
    right = loss.evaluate("Answer: seven", "7")
    wrong = loss.evaluate("Answer: 5", "7")
    guessed = loss.evaluate("so 7 it is", "7")
    nothing = loss.evaluate("I do not know", "7")
    assert (right.score, right.correct, right.extracted) == (1.0, True, "7")
    assert wrong.score == 0.0 and "5" in wrong.feedback and "correct answer is 7" in wrong.feedback
    assert guessed.correct and "no final line 'Answer: ...'" in guessed.feedback
    assert nothing.score == 0.0 and nothing.extracted is None and "no final answer" in nothing.feedback


def test_multiple_choice_loss_feedback_names_the_problem():
    loss = MultipleChoiceLoss()
    assert loss.evaluate("Answer: B", "B").correct
    several = loss.evaluate("Answer: A or B", "B")
    missing = loss.evaluate("I would pick B.", "B")
    trailing = loss.evaluate("Answer: B\nThanks!", "B")
    assert not several.correct and "several choices (A, B)" in several.feedback
    assert not missing.correct and "no line of the form 'Answer: $LETTER'" in missing.feedback
    assert trailing.correct and "must be the last line" in trailing.feedback


def test_a_check_loss_feeds_the_response_without_an_llm_call(scripted_engine, recorder):
    """Backward through a deterministic evaluator costs nothing; only LLMCall -> prompt calls."""
    prompt = tg.Variable("Count things.", role_description="system prompt")
    question = tg.Variable("I have two apples. How many fruits do I have?", role_description="query", requires_grad=False)
    response = tg.LLMCall(scripted_engine, system_prompt=prompt)(question)
    loss = ExactMatchLoss()(response, "2")
    assert isinstance(loss.data, Evaluation) and loss.value == loss.data.feedback
    calls_after_forward = len(recorder.calls)
    loss.backward(engine=scripted_engine)
    assert response.gradients[0].text == loss.value
    assert "<EXPECTED_ANSWER> 2 </EXPECTED_ANSWER>" in response.gradients[0].context
    assert len(recorder.calls) == calls_after_forward + 1  # the backward call for the prompt only
    assert recorder.calls[-1][0]["content"] == core_prompts.BACKWARD_SYSTEM
    assert prompt.gradients


def test_feedback_arriving_on_an_evaluation_is_passed_on_with_it(scripted_engine):
    response = tg.Variable("Answer: 3", role_description="response")
    losses = [ExactMatchLoss()(response, "2")]
    total = tg.aggregate(losses)
    total.gradients.append(tg.Feedback("count the apples twice"))
    total.backward(engine=scripted_engine)
    assert "count the apples twice" in response.gradients[0].text
    assert "correct answer is 2" in response.gradients[0].text


def test_string_function_loss_accepts_bool_score_pair_and_evaluation():
    def starts_right(prediction, answer):
        return prediction.startswith(answer)

    assert StringFunctionLoss(starts_right).evaluate("abc", "ab").score == 1.0
    assert "starts_right" in StringFunctionLoss(starts_right, purpose="prefix check").evaluate("x", "ab").feedback
    assert StringFunctionLoss(lambda p, a: 0.25).evaluate("x", "y").score == 0.25
    assert StringFunctionLoss(lambda p, a: (0.5, "half right")).evaluate("x", "y").feedback == "half right"
    mine = Evaluation(1.0, "mine")
    assert StringFunctionLoss(lambda p, a: mine).evaluate("x", "y") is mine


@pytest.mark.parametrize("result", [1.5, -0.1, "yes", None, (2, "too high")])
def test_string_function_loss_rejects_bad_results_naming_the_function(result):
    def judge_text(prediction, answer):
        return result

    with pytest.raises(ValueError, match=r"StringFunctionLoss\[judge_text\]"):
        StringFunctionLoss(judge_text).evaluate("x", "y")


def test_string_function_loss_needs_a_callable():
    with pytest.raises(TypeError, match="fn must be callable"):
        StringFunctionLoss("not a function")


def judge_reply(messages, **params):
    text = messages[-1]["content"]
    if "Answer: 4" in text:
        return "The items add up to 4. <VERDICT>correct</VERDICT>"
    if "Answer: 5" in text:
        return "It counted the bear as a vegetable. <VERDICT>incorrect</VERDICT>"
    return "I am not sure."


def test_llm_judge_parses_its_verdict_and_keeps_its_reasoning_as_feedback():
    engine = tg.FunctionEngine(judge_reply)
    judge = JudgeLoss(engine=engine)
    question = "I have four carrots and a bear. How many vegetables do I have?"
    assert judge.evaluate("Answer: 4", "4", question).correct
    wrong = judge.evaluate("Answer: 5", "4", question)
    assert wrong.score == 0.0 and "bear as a vegetable" in wrong.feedback and wrong.extracted == "incorrect"
    silent = judge.evaluate("Answer: 6", "4", question)
    assert silent.score == 0.0 and silent.extracted is None and "no <VERDICT>" in silent.feedback
    assert engine.usage.calls == 3


def test_llm_judge_is_a_loss_whose_backward_asks_the_engine(recorder, scripted_engine):
    response = tg.Variable("Answer: 5", role_description="response")
    loss = JudgeLoss(engine=scripted_engine)(response, "4", "How many?")
    assert isinstance(loss.data, Evaluation)
    loss.backward(engine=scripted_engine)
    assert response.gradients and recorder.calls[-1][0]["content"] == core_prompts.BACKWARD_SYSTEM


def test_evaluators_are_contributed_as_losses():
    losses = get_plugins(reload=True).losses()
    assert losses["qa.exact_match"] is ExactMatchLoss
    assert losses["qa.multiple_choice"] is MultipleChoiceLoss
    assert losses["qa.llm_judge"] is JudgeLoss
    assert losses["qa.string_function"] is StringFunctionLoss


@pytest.mark.parametrize("name", ["qa.exact_match", "qa.multiple_choice", "qa.llm_judge", "qa.string_function"])
def test_every_loss_builds_with_no_argument_and_with_an_engine_only(name, scripted_engine):
    factory = get_plugins(reload=True).losses()[name]
    assert isinstance(factory(), Evaluator) and factory(engine=scripted_engine).engine is scripted_engine


def test_the_default_string_function_asks_for_the_whole_answer():
    loss = StringFunctionLoss()
    assert loss.evaluate("  Paris ", "Paris").correct
    wrong = loss.evaluate("The capital is Paris.", "Paris")
    assert wrong.score == 0.0 and "'same_text' (the whole response must be the answer)" in wrong.feedback
