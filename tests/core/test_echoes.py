"""Echoes: the optimizer reads a variable's value once, not once per copy its feedback quotes."""

import asyncio

import tg_core as tg
from tg_core import prompts
from tg_core.echoes import MIN_CHARS, without_echoes
from tg_core.feedback_budget import bounded_feedback

CODE = '''def kth_in_table(m: int, n: int, k: int) -> int:
    def count_at_most(value):
        return sum(1 for i in range(1, m + 1) for j in range(1, n + 1) if i * j <= value)

    left, right = 1, m * n
    while left < right:
        mid = (left + right) // 2
        if count_at_most(mid) < k:
            left = mid + 1
        else:
            right = mid
    return left'''

FASTER = CODE.replace("sum(1 for i in range(1, m + 1) for j in range(1, n + 1) if i * j <= value)",
                      "sum(min(value // i, n) for i in range(1, m + 1))")

ADVICE = "count_at_most is O(m * n): count row i as min(value // i, n) instead."


def quoted(code, indent=""):
    """``code`` in a fence as a model quotes it: re-indented, with trailing spaces."""
    return "```python\n" + "\n".join(indent + line + "  " for line in code.splitlines()) + "\n```"


def test_a_quoted_copy_becomes_a_marker_and_other_code_stays():
    text = f"Too slow.\n{quoted(CODE)}\nTry this instead:\n{quoted(FASTER)}\nAnd it was called as: {CODE}"
    shown = without_echoes(text, CODE)
    assert shown.count(prompts.ECHOED_VALUE) == 2
    assert "min(value // i, n)" in shown and "Too slow." in shown and "Try this instead:" in shown
    assert "for j in range(1, n + 1)" not in shown


def test_a_copy_indented_differently_is_not_the_value():
    """Python's indentation is meaning: the same lines at another depth are another program."""
    assert without_echoes(quoted(CODE, indent="    "), CODE) == quoted(CODE, indent="    ")


def test_a_quoted_value_already_evaluated_says_what_it_measured():
    text = f"Use this:\n{quoted(FASTER)}\nnot the current\n{quoted(CODE)}"
    shown = without_echoes(text, CODE, [(FASTER, "visible passed=1, limit passed=0"), (CODE, "visible passed=3")])
    assert prompts.ECHOED_EVALUATED.format(outcome="visible passed=1, limit passed=0") in shown
    assert prompts.ECHOED_VALUE in shown and "visible passed=3" not in shown
    assert "def kth_in_table" not in shown


def test_short_values_are_words_the_feedback_needs():
    value = "Answer with the number only."
    assert len(value) < MIN_CHARS
    text = f"The prompt '{value}' drops the reasoning.\n```\n{value}\n```"
    assert without_echoes(text, value) == text


def reviewed_code():
    """CODE through a real graph: a reviewer LLM call whose output quotes the code, then backward."""
    def reply(messages, **params):
        if messages[0]["content"] == prompts.BACKWARD_SYSTEM:
            return f"{ADVICE} Here is the updated code:\n{quoted(CODE)}"
        return f"The limit test times out.\n{quoted(CODE)}"

    engine = tg.FunctionEngine(reply, model="scripted")
    code = tg.Variable(CODE, role_description="Python code solving the problem")
    review = tg.LLMCall(engine, system_prompt="You review code.")(code)
    tg.TextLoss("Say what makes the code too slow.", engine=engine)(review).backward(engine)
    return code, engine


def test_the_optimizer_prompt_shows_the_value_once_and_all_the_advice():
    code, engine = reviewed_code()
    feedback = code.gradients[0]
    assert feedback.context.count(CODE) >= 1 and ADVICE in feedback.text  # the feedback kept is whole
    update = tg.TGD([code], engine=engine).prompt_for(code)[1]["content"]
    assert update.count("for j in range(1, n + 1)") == 1  # in <VARIABLE>
    assert update.count(prompts.ECHOED_VALUE) >= 3  # the call's input, its output, the feedback's quote
    assert ADVICE in update and "The limit test times out." in update


def test_a_reviewer_suggestion_already_evaluated_is_shown_with_its_outcome():
    """The reviewer's code, copied and measured in an earlier step, must not be copied again unseen."""
    def reply(messages, **params):
        return f"{ADVICE} Use this code:\n{quoted(FASTER)}"

    engine = tg.FunctionEngine(reply, model="scripted")
    code = tg.Variable(CODE, role_description="Python code solving the problem")
    tg.TextLoss("Say what makes the code too slow.", engine=engine)(code).backward(engine)
    scored = [(FASTER, "visible passed=0 (NameError)"), (CODE, "visible passed=3")]
    update = tg.TGD([code], engine=engine).prompt_for(code, scored=scored)[1]["content"]
    assert update.count("sum(min(value // i, n) for i") == 1  # in the evaluated list, with its outcome
    assert prompts.ECHOED_EVALUATED.format(outcome="visible passed=0 (NameError)") in update


def test_condensed_feedback_is_asked_without_the_copies():
    code, engine = reviewed_code()
    code.gradients.extend([tg.Feedback(f"{ADVICE} (reviewer {i})\n{quoted(CODE)}", context=f"call {i}")
                           for i in range(20)])
    asked = []

    def condense(messages, **params):
        asked.append(messages[-1]["content"])
        return ADVICE

    condensed = asyncio.run(bounded_feedback(code, tg.FunctionEngine(condense, model="scripted"), 256))
    assert ADVICE in condensed
    [request] = asked
    assert request.count("for j in range(1, n + 1)") == 1  # the variable, shown for reference
