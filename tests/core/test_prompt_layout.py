"""Prompts are laid out shared-first, so llama.cpp's and providers' prefix caches are reused (issue 13)."""

import os

import tg_core as tg
from tg_core import prompts


def _common_prefix(a: str, b: str) -> str:
    return a[: len(os.path.commonprefix([a, b]))]


def _flat(messages) -> str:
    return "".join(f"<{m['role']}>{m['content']}" for m in messages)


def test_optimizer_prompts_of_one_run_share_constraints_and_examples_as_a_prefix():
    opt_vars = [tg.Variable(f"value {i}", role_description="a tip") for i in range(2)]
    for v in opt_vars:
        v.add_feedback(tg.Feedback(f"feedback on {v.value}", context="judged"))
    opt = tg.TGD(opt_vars, constraints=["Keep it short."], in_context_examples=["Drink water with meals."])
    first, second = (_flat(opt.prompt_for(v)) for v in opt_vars)
    shared = _common_prefix(first, second)
    assert prompts.OPTIMIZER_SYSTEM in shared
    assert "1. Keep it short." in shared and "<EXAMPLE> Drink water with meals. </EXAMPLE>" in shared
    assert "value 0" not in shared  # the variable comes after everything the calls share


def test_a_reask_extends_the_previous_conversation():
    v = tg.Variable("old", role_description="a tip")
    v.add_feedback(tg.Feedback("shorter"))
    seen = []

    def reply(messages, **params):
        seen.append(messages)
        return "no tags" if len(seen) == 1 else f"{prompts.IMPROVED_START} new {prompts.IMPROVED_END}"

    tg.TGD([v], engine=tg.FunctionEngine(reply)).step()
    assert seen[1][: len(seen[0])] == seen[0]


def test_backward_prompts_for_the_inputs_of_one_call_share_its_context_as_a_prefix():
    seen = []

    def reply(messages, **params):
        seen.append(messages)
        return "feedback"

    engine = tg.FunctionEngine(reply)
    a = tg.Variable("first input", role_description="input a")
    b = tg.Variable("second input", role_description="input b")
    out = tg.SimulatorFunction(lambda x, y: {"sum": len(x) + len(y)}, purpose="adds lengths")(a, b)
    out.backward(engine=engine)
    first, second = (_flat(m) for m in seen)
    shared = _common_prefix(first, second)
    assert prompts.BACKWARD_SYSTEM in shared and "adds lengths" in shared and "sum: 23" in shared
    assert "<VARIABLE> first input" not in shared
