"""Bounded feedback: a batch's feedback over the budget is condensed once, the full text kept in events."""

import pytest

import tg_core as tg
from tg_core import prompts
from tg_core.engines import CachedEngine
from tg_core.engines.local import LocalEngine
from tg_core.engines.openai_engine import OpenAIEngine
from tg_core.events import events_to
from tg_core.feedback_budget import DEFAULT_CONTEXT_TOKENS, context_tokens, grouped

CONDENSE_HEAD = prompts.CONDENSE_SYSTEM.split("{")[0]
LONG_FEEDBACK = "The prompt should ask for the count of each kind before adding them up. " * 8


def batch_engine(calls, condensed="Count each kind first (said 30 times)."):
    def reply(messages, **params):
        calls.append((messages, params))
        system = messages[0]["content"]
        if system.startswith(CONDENSE_HEAD):
            return condensed
        if system == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} Count each kind, then add. {prompts.IMPROVED_END}"
        if system == prompts.BACKWARD_SYSTEM:
            return LONG_FEEDBACK
        if "Judge" in system:
            return "Wrong total."
        return "Answer: 3"

    return tg.FunctionEngine(reply, model="scripted")


def trained_prompt_after_a_batch_of(n, engine):
    prompt = tg.Variable("Answer the question.", role_description="system prompt to the model")
    model = tg.BlackboxLLM(engine, prompt)
    judge = tg.TextLoss("Judge the answer against 4.", engine=engine)
    losses = [judge(model(tg.Variable(f"I have {i} apples and {i} pears. How many fruits?",
                                      role_description="question", requires_grad=False))) for i in range(n)]
    tg.sum(losses).backward(engine)
    return prompt


def test_a_batch_of_30_is_condensed_once_and_kept_in_events():
    calls = []
    engine = batch_engine(calls)
    prompt = trained_prompt_after_a_batch_of(30, engine)
    assert len(prompt.gradients) == 30
    full_prompt = tg.TGD([prompt], engine=engine).prompt_for(prompt)[1]["content"]
    assert len(full_prompt) > 20_000  # what TextGrad would send: every piece with its conversation
    events = []
    optimizer = tg.TGD([prompt], engine=engine, feedback_budget=1000)
    before = len(calls)
    with events_to(lambda kind, fields: events.append((kind, fields))):
        optimizer.step()
    made = calls[before:]
    condense = [m for m, _ in made if m[0]["content"].startswith(CONDENSE_HEAD)]
    assert len(condense) == 1 and made[0][1]["max_tokens"] == 1000
    assert condense[0][-1]["content"].count("<GROUP") == 30  # 30 distinct conversations
    update = made[-1][0][-1]["content"]
    assert "Count each kind first (said 30 times)." in update and LONG_FEEDBACK.strip() not in update
    assert len(update) < 2_000
    [condensed] = [f for kind, f in events if kind == "feedback_condensed"]
    assert condensed["pieces"] == 30 and len(condensed["feedback"]) == 30
    assert condensed["feedback"][0]["text"] == LONG_FEEDBACK and condensed["tokens_before"] > 1000
    assert prompt.value == "Count each kind, then add."


def test_feedback_under_the_budget_is_shown_in_full_without_a_call():
    calls = []
    engine = batch_engine(calls)
    prompt = trained_prompt_after_a_batch_of(2, engine)
    optimizer = tg.TGD([prompt], engine=engine)
    expected = optimizer.prompt_for(prompt)
    before = len(calls)
    optimizer.step()
    assert len(calls) == before + 1 and calls[-1][0] == expected


def test_an_empty_condensed_answer_keeps_the_old_value():
    calls = []
    engine = batch_engine(calls, condensed="")
    prompt = trained_prompt_after_a_batch_of(8, engine)
    with pytest.raises(tg.OptimizerError, match="condensing the feedback"):
        tg.TGD([prompt], engine=engine, feedback_budget=256).step()
    assert prompt.value == "Answer the question."


def test_the_shared_loop_path_records_a_failed_condensing_as_a_rejection():
    import asyncio

    calls = []
    engine = batch_engine(calls, condensed="")
    prompt = trained_prompt_after_a_batch_of(8, engine)
    proposals = asyncio.run(tg.TGD([prompt], engine=engine, feedback_budget=256).apropose(prompt, k=2))
    assert proposals.values == [] and "condensing" in proposals.rejections[0].reason


def test_pieces_are_grouped_by_context():
    pieces = [tg.Feedback("a", context="c1"), tg.Feedback("b", context="c2"), tg.Feedback("c", context="c1")]
    assert grouped(pieces) == [("c1", ["a", "c"]), ("c2", ["b"])]


def test_default_budget_follows_the_engine_context(tmp_path):
    assert context_tokens(LocalEngine("light", n_ctx=4096)) == 4096
    gpt = CachedEngine(OpenAIEngine("gpt-4o-mini", api_key="k" * 10), tmp_path / "c.sqlite")
    assert context_tokens(gpt) == 128_000
    engine = tg.FunctionEngine(lambda m, **p: "x")
    assert context_tokens(engine) == DEFAULT_CONTEXT_TOKENS
    engine.context_tokens = 2048
    assert context_tokens(engine) == 2048


@pytest.mark.parametrize("budget", [0, 100, "1000", 2.5, True])
def test_bad_budget_is_named(budget):
    with pytest.raises(ValueError, match="feedback_budget"):
        tg.TGD([tg.Variable("x", role_description="r")], engine=tg.FunctionEngine(lambda m, **p: ""),
               feedback_budget=budget)
