"""TextGrad's tutorials, step by step, with only the import line and the engine changed.

Each test follows one tutorial's calls in order (quick start, primitives,
solution optimization, test-time loss for code) on problems of our own, with
a scripted engine standing in for GPT-4o; the last runs the solution tutorial
on the embedded light model. Prompt optimization, which needs datasets, is in
tests/qa/test_textgrad_tasks.py.
"""

import pytest

import tg_core as tg
from tg_core import prompts


def tutorial_engine(forward, evaluation, improved, calls=None):
    """Answers like a model would at each kind of call: forward, evaluation, feedback, update."""

    def reply(messages, **params):
        if calls is not None:
            calls.append(messages)
        system = messages[0]["content"]
        if system == prompts.OPTIMIZER_SYSTEM:
            return f"Here it is.\n{prompts.IMPROVED_START}\n{improved}\n{prompts.IMPROVED_END}"
        if system == prompts.BACKWARD_SYSTEM:
            return f"Address this: {evaluation}"
        if messages[0]["role"] == "system" and ("valuat" in system or "critic" in system):
            return evaluation
        return forward

    return tg.FunctionEngine(reply, model="scripted-gpt-4o")


def test_quick_start():
    engine = tutorial_engine(
        forward="Drying 6 towels takes twice as long: 4 hours.",
        evaluation="Wrong: towels dry in parallel, so the time does not double.",
        improved="2 hours: towels on a line dry at the same time.",
    )
    tg.set_backward_engine(engine, override=True)
    model = tg.BlackboxLLM(engine)
    question_string = ("If 3 towels dry on a line in 2 hours, how long do 6 towels take? "
                       "Reason step by step")
    question = tg.Variable(question_string, role_description="question to the LLM", requires_grad=False)
    answer = model(question)
    assert answer.value == "Drying 6 towels takes twice as long: 4 hours."

    answer.set_role_description("concise and accurate answer to the question")
    optimizer = tg.TGD(parameters=[answer])
    evaluation_instruction = (f"Here's a question: {question_string}. Evaluate any given answer to this "
                              "question, be smart, logical, and very critical. Just provide concise feedback.")
    loss_fn = tg.TextLoss(evaluation_instruction)
    loss = loss_fn(answer)
    loss.backward()
    optimizer.step()
    assert answer.value == "2 hours: towels on a line dry at the same time."


def test_primitives():
    from tg_core import Variable
    from tg_core.loss import TextLoss
    from tg_core.optimizer import TextualGradientDescent

    x = Variable("A sntence with a typo", role_description="The input sentence", requires_grad=True)
    assert x.gradients == []
    engine = tutorial_engine(forward="I am well.", evaluation="'sntence' is misspelled.",
                             improved="A sentence with a typo")
    assert engine.generate("Hello how are you?") == "I am well."
    system_prompt = Variable("Evaluate the correctness of this sentence", role_description="The system prompt")
    loss = TextLoss(system_prompt, engine=engine)
    optimizer = TextualGradientDescent(parameters=[x], engine=engine)
    l = loss(x)  # noqa: E741  (the tutorial's name)
    l.backward(engine)
    optimizer.step()
    assert x.value == "A sentence with a typo"
    assert x.gradients and system_prompt.gradients  # the tutorial's system prompt requires grad too
    optimizer.zero_grad()
    assert x.gradients == []


INITIAL_SOLUTION = """To solve 2x^2 - 5x + 2 = 0 we use the quadratic formula:
x = (-b ± √(b^2 - 4ac)) / 2a, with a = 2, b = -5, c = 2
x = (5 ± √(25 + 16)) / 4
x = (5 ± √41) / 4"""

CORRECTED_SOLUTION = """With a = 2, b = -5, c = 2 the discriminant is b^2 - 4ac = 25 - 16 = 9.
x = (5 ± 3) / 4, so x1 = 2 and x2 = 0.5."""


def solution_tutorial(engine):
    tg.set_backward_engine(engine)
    solution = tg.Variable(INITIAL_SOLUTION, requires_grad=True, role_description="solution to the math question")
    loss_system_prompt = tg.Variable(
        "You will evaluate a solution to a math question. Do not attempt to solve it yourself, do not give a "
        "solution, only identify errors. Be super concise.",
        requires_grad=False, role_description="system prompt",
    )
    loss_fn = tg.TextLoss(loss_system_prompt)
    optimizer = tg.TGD([solution])
    loss = loss_fn(solution)
    loss.backward()
    optimizer.step()
    return solution, loss


def test_solution_optimization():
    calls = []
    engine = tutorial_engine(forward="", evaluation="The discriminant has the wrong sign: -4ac is -16.",
                             improved=CORRECTED_SOLUTION, calls=calls)
    solution, loss = solution_tutorial(engine)
    assert loss.value == "The discriminant has the wrong sign: -4ac is -16."
    assert solution.value == CORRECTED_SOLUTION
    update = calls[-1][-1]["content"]
    assert INITIAL_SOLUTION in update and "wrong sign" in update  # the full value and its feedback


PROBLEM = """Pair count
Given a list of integers and a target, return how many pairs (i < j) sum to the target.
Input: a list of integers nums and an integer target. Output: an integer."""

SLOW_CODE = """
def count_pairs(nums, target):
    count = 0
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            if nums[i] + nums[j] == target:
                count += 1
    return count
"""

FAST_CODE = """
def count_pairs(nums, target):
    seen = {}
    count = 0
    for x in nums:
        count += seen.get(target - x, 0)
        seen[x] = seen.get(x, 0) + 1
    return count
"""


def run_function(code):
    namespace = {}
    exec(code, namespace)  # the code the optimizer wrote, as the tutorial runs it
    return namespace["count_pairs"]


def check_count_pairs(fn):
    assert fn([1, 2, 3, 4], 5) == 2
    assert fn([1, 1, 1], 2) == 3
    assert fn([], 3) == 0
    assert fn([5, -1, 6, 0], 5) == 2


def test_test_time_loss_for_code():
    check_count_pairs(run_function(SLOW_CODE))
    calls = []
    llm_engine = tutorial_engine(forward="", evaluation="Correct, but O(n^2): use a hash map for O(n).",
                                 improved=FAST_CODE.strip("\n"), calls=calls)
    tg.set_backward_engine(llm_engine)
    code = tg.Variable(value=SLOW_CODE, requires_grad=True, role_description="code instance to optimize")
    problem = tg.Variable(PROBLEM, requires_grad=False, role_description="the coding problem")
    optimizer = tg.TGD(parameters=[code])

    loss_system_prompt = tg.Variable(
        "You are a smart language model that evaluates code snippets. You do not solve problems or propose new "
        "code snippets, only evaluate existing solutions critically and give very concise feedback.",
        requires_grad=False, role_description="system prompt to the loss function",
    )
    instruction = "Think about the problem and the code snippet. Does the code solve the problem? What is the runtime?"
    format_string = f"{instruction}\nProblem: {{problem}}\nCurrent Code: {{code}}"
    fields = {"problem": None, "code": None}
    formatted_llm_call = tg.autograd.FormattedLLMCall(engine=llm_engine, format_string=format_string,
                                                      fields=fields, system_prompt=loss_system_prompt)

    def loss_fn(problem, code):
        inputs = {"problem": problem, "code": code}
        return formatted_llm_call(inputs=inputs,
                                  response_role_description=f"evaluation of the {code.get_role_description()}")

    loss = loss_fn(problem, code)
    assert loss.value.startswith("Correct, but O(n^2)")
    assert "digraph" in loss.generate_graph()
    loss.backward()
    assert [f.text for f in code.gradients] == ["Address this: Correct, but O(n^2): use a hash map for O(n)."]
    assert problem.gradients == []
    optimizer.step()
    fast = run_function(code.value)
    check_count_pairs(fast)
    assert "seen" in code.value

    optimizer.zero_grad()
    loss = loss_fn(problem, code)
    loss.backward()
    optimizer.step()
    check_count_pairs(run_function(code.value))
    assert FAST_CODE.strip() in calls[-1][-1]["content"]


@pytest.mark.slow
def test_solution_optimization_on_the_embedded_light_model(real_cache, monkeypatch):
    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    engine = tg.get_engine("local:light", cache=False)
    solution, loss = solution_tutorial(engine)
    assert loss.value.strip() and solution.gradients
    assert solution.value.strip()  # whatever the small model wrote, the update is a whole value
    assert engine.usage.calls >= 3  # loss, feedback, update (and any re-ask of a cut answer)
