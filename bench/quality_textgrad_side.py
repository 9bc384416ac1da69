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
