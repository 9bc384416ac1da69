"""textgrad 0.1.8's arm of bench/quality.py; runs under the textgrad venv's interpreter.

Each program is written with textgrad's own primitives only (``Variable``,
``TextLoss``, ``FormattedLLMCall``, ``StringBasedFunction``, ``BlackboxLLM``,
``backward``, ``TextualGradientDescent``), the way its tutorials and paper
describe the task. Where textgrad has no simulator (word counts, the code
sandbox, docking, dose planning), the bench's own is wrapped as a
``StringBasedFunction`` that calls the bench over HTTP (``eval_url/NAME``),
so textgrad sees the same reports tg-core sees. The engine is textgrad's
``ChatExternalClient`` on the bench proxy; its disk cache lives in a fresh
folder per run (XDG_CACHE_HOME is set by the bench), so it pays for every call.

A step that raises (textgrad 0.1.8 raises IndexError when the model forgets
the <IMPROVED_VARIABLE> tags) ends the run with the value it had: that is
what a textgrad user is left with; the error is recorded.

Usage: python quality_textgrad_side.py SPEC.json   (the result is the last stdout line, JSON)
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import textgrad as tg
from openai import OpenAI
from textgrad.autograd.string_based_ops import StringBasedFunction
from textgrad.engine.local_model_openai_api import ChatExternalClient

# As in textgrad.tasks.load_task("BBH_object_counting").
QA_FUNCTION_PURPOSE = "The runtime of string-based function that checks if the prediction is correct."
QA_PROMPT_ROLE = (
    "structured system prompt to a somewhat capable language model that specifies the behavior "
    "and strategies for the QA task"
)

Program = Callable[[dict[str, Any], Any], tuple[tg.Variable, Callable[[int], None]]]
PROGRAMS: dict[str, Program] = {}


def program(name: str) -> Callable[[Program], Program]:
    def register(fn: Program) -> Program:
        PROGRAMS[name] = fn
        return fn

    return register


def bench_eval(spec: dict[str, Any], name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """One of the bench's evaluators (simulator, sandbox), counted for this arm."""
    request = urllib.request.Request(spec["eval_url"] + "/" + name, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())


def simulator(spec: dict[str, Any], name: str, purpose: str) -> StringBasedFunction:
    """The bench's simulator ``name`` as a textgrad string-based function of one variable."""

    def run(value: tg.Variable) -> str:
        return bench_eval(spec, name, {"value": value.value})["report"]

    return StringBasedFunction(run, function_purpose=purpose)


@program("text")
def text_program(spec: dict[str, Any], engine: Any) -> tuple[tg.Variable, Callable[[int], None]]:
    """Text -> checked report (word and sentence counts) -> TextLoss(goal); TGD with the limits as constraints."""
    text = tg.Variable(spec["start"], requires_grad=True, role_description=spec["role"])
    checks = simulator(spec, "checks", spec["checks_purpose"])
    loss_fn = tg.TextLoss(spec["goal"], engine=engine)
    optimizer = tg.TGD([text], engine=engine, constraints=spec["constraints"])

    def step(_: int) -> None:
        report = checks(inputs={"value": text}, response_role_description=spec["report_role"])
        loss = loss_fn(report)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return text, step


@program("code")
def code_program(spec: dict[str, Any], engine: Any) -> tuple[tg.Variable, Callable[[int], None]]:
    """The code tutorial's test-time loss, with the visible tests' report as one more field."""
    code = tg.Variable(spec["start"], requires_grad=True, role_description="code instance to optimize")
    problem = tg.Variable(spec["problem"], requires_grad=False, role_description="the coding problem")
    tests = simulator(spec, "tests", spec["tests_purpose"])
    system = tg.Variable(spec["loss_system"], requires_grad=False, role_description="system prompt to the loss function")
    format_string = spec["instruction"] + "\nProblem: {problem}\nCurrent Code: {code}\nTest results: {test_results}"
    loss_call = tg.autograd.FormattedLLMCall(engine=engine, format_string=format_string,
                                             fields={"problem": None, "code": None, "test_results": None},
                                             system_prompt=system)
    optimizer = tg.TGD(parameters=[code], engine=engine)

    def step(_: int) -> None:
        results = tests(inputs={"value": code}, response_role_description="results of the visible tests")
        loss = loss_call(inputs={"problem": problem, "code": code, "test_results": results},
                         response_role_description=f"evaluation of the {code.get_role_description()}")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return code, step


@program("molecule")
def molecule_program(spec: dict[str, Any], engine: Any) -> tuple[tg.Variable, Callable[[int], None]]:
    """SMILES -> docking report (the bench's Vina/QED/SA) -> TextLoss(goals); TGD keeps it one SMILES."""
    smiles = tg.Variable(spec["start"], requires_grad=True, role_description=spec["role"])
    dock = simulator(spec, "dock", spec["dock_purpose"])
    loss_fn = tg.TextLoss(spec["loss"], engine=engine)
    optimizer = tg.TGD([smiles], engine=engine, constraints=spec["constraints"])

    def step(_: int) -> None:
        report = dock(inputs={"value": smiles}, response_role_description="docking and drug-likeness report")
        loss_fn(report).backward()
        optimizer.step()
        optimizer.zero_grad()
        smiles.set_value(smiles.value.strip())

    return smiles, step


@program("radiotherapy")
def radiotherapy_program(spec: dict[str, Any], engine: Any) -> tuple[tg.Variable, Callable[[int], None]]:
    """Weights -> plan report (the bench's planner) -> TextLoss(protocol review); TGD with clinician examples.

    The paper used momentum; textgrad 0.1.8's momentum optimizer cannot run
    (its update returns None), so this is TGD with the in-context examples.
    """
    weights = tg.Variable(spec["start"], requires_grad=True, role_description=spec["role"])
    plan = simulator(spec, "plan", spec["plan_purpose"])
    loss_fn = tg.TextLoss(spec["loss"], engine=engine)
    optimizer = tg.TGD([weights], engine=engine, constraints=spec["constraints"],
                       in_context_examples=spec["examples"])

    def step(_: int) -> None:
        report = plan(inputs={"value": weights}, response_role_description="treatment plan report")
        loss_fn(report).backward()
        optimizer.step()
        optimizer.zero_grad()

    return weights, step


@program("qa")
def qa_program(spec: dict[str, Any], engine: Any) -> tuple[tg.Variable, Callable[[int], None]]:
    """The prompt-optimization tutorial: minibatch, tg.sum of string-based losses, TGD, validation with revert."""
    from textgrad.tasks.big_bench_hard import string_based_equality_fn

    eval_fn = StringBasedFunction(string_based_equality_fn, function_purpose=QA_FUNCTION_PURPOSE)
    prompt = tg.Variable(spec["start"], requires_grad=True, role_description=QA_PROMPT_ROLE)
    model = tg.BlackboxLLM(engine, prompt)
    optimizer = tg.TextualGradientDescent(engine=engine, parameters=[prompt])

    def loss_of(question: str, answer: str) -> tg.Variable:
        x = tg.Variable(question, requires_grad=False, role_description="query to the language model")
        y = tg.Variable(answer, requires_grad=False, role_description="correct answer for the query")
        return eval_fn(inputs=dict(prediction=model(x), ground_truth_answer=y))

    def accuracy(items: list[list[str]]) -> float:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:  # the tutorial's 2 threads
            scores = list(pool.map(lambda item: int(loss_of(*item).value), items))
        return sum(scores) / len(scores)

    best = {"prompt": prompt.value, "validation": accuracy(spec["validation"])}

    def step(index: int) -> None:
        optimizer.zero_grad()
        losses = [loss_of(*spec["train"][i]) for i in spec["batches"][index - 1]]
        tg.sum(losses).backward()
        optimizer.step()
        validation = accuracy(spec["validation"])
        if validation >= best["validation"]:
            best.update(prompt=prompt.value, validation=validation)
        else:
            prompt.set_value(best["prompt"])

    return prompt, step


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    client = OpenAI(base_url=spec["base_url"], api_key="not-needed", max_retries=0, timeout=3600)
    engine = ChatExternalClient(client=client, model_string=spec["model"])
    tg.set_backward_engine(engine, override=True)
    variable, step = PROGRAMS[spec["program"]](spec, engine)
    trajectory = [variable.value]
    error = None
    for index in range(1, spec["steps"] + 1):
        try:
            step(index)
        except Exception as exc:  # noqa: BLE001 - textgrad's own failure is a result, recorded
            error = f"step {index}: {type(exc).__name__}: {exc}"
            break
        trajectory.append(variable.value)
    json.dump({"value": variable.value, "trajectory": trajectory, "error": error}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
