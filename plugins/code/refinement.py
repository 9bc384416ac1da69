"""Instance optimization of code, as in the TextGrad paper's code refinement.

One iteration: run the visible tests (a ``SimulatorFunction``), have an LLM
judge problem + code + test results under a test-time instruction (the loss),
send its criticism back to the code (directly and through the test report),
and let TGD rewrite the code under the constraints "keep the signature" and
"do not add asserts". Hidden tests are run for the record only: nothing about
them reaches the LLM.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tg_core import TGD, LLMCall, OptimizerError, Variable

from . import prompts
from .extract import extract_code
from .functions import CodeTests, code_refinement_loss, code_tests
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Sandbox

if TYPE_CHECKING:
    from tg_core import Engine

    from .problems import Problem
    from .results import SandboxResult


@dataclass
class Iteration:
    """What one iteration saw and did; ``stopped`` when the visible tests already passed."""

    step: int
    code: str
    visible_passed: int
    visible_total: int
    hidden_passed: int
    hidden_total: int
    stopped: bool = False
    evaluation: str = ""
    new_code: str | None = None
    diff: str = ""
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def counts(result: SandboxResult) -> tuple[int, int]:
    return sum(t.passed for t in result.tests), len(result.tests)


def code_diff(before: str, after: str, step: int) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), f"iteration-{step}.py", f"iteration-{step + 1}.py", lineterm=""
    )
    return "\n".join(lines)


def initial_solution(problem: Problem, engine: Engine) -> str:
    """A first solution written by the engine from the problem description."""
    ask = LLMCall(engine, system_prompt=prompts.INITIAL_SOLUTION_SYSTEM)
    request = Variable(
        prompts.INITIAL_SOLUTION_REQUEST.format(description=problem.description()),
        role_description="request for a first solution", requires_grad=False,
    )
    return extract_code(ask(request, response_role_description="first solution").value, problem.entry_point)


class CodeRefinement:
    """The optimization of one problem's code; ``code`` is the trainable Variable."""

    def __init__(
        self,
        problem: Problem,
        engine: Engine,
        code: str,
        sandbox: Sandbox | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        momentum: int = 0,
        instruction: str = prompts.CODE_LOSS_INSTRUCTION,
    ) -> None:
        self.problem = problem
        self.engine = engine
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.code = Variable(code, role_description=prompts.CODE_ROLE.format(signature=problem.signature))
        self.problem_text = Variable(problem.description(), prompts.PROBLEM_ROLE, requires_grad=False)
        self.instruction = Variable(instruction, prompts.INSTRUCTION_ROLE, requires_grad=False)
        self.visible_tests = code_tests(problem, "visible", self.sandbox, timeout_s, memory_mb)
        self.hidden_tests = CodeTests(problem, "hidden", self.sandbox, timeout_s, memory_mb)
        self.loss_fn = code_refinement_loss(engine)
        constraints = [c.format(signature=problem.signature) for c in prompts.CODE_CONSTRAINTS]
        self.optimizer = TGD([self.code], engine=engine, constraints=constraints, momentum=momentum)

    def iterate(self, step: int) -> Iteration:
        """Test the current code; unless the visible tests pass, criticise it and rewrite it."""
        report = self.visible_tests(self.code)
        hidden = self.hidden_tests(self.code.value)
        record = Iteration(step, self.code.value, *counts(report.data), *counts(hidden))
        if report.data.passed:
            record.stopped = True
            return record
        loss = self.loss_fn(
            {"instruction": self.instruction, "problem": self.problem_text, "code": self.code,
             "test_results": report},
            response_role_description=prompts.CODE_LOSS_ROLE,
        )
        record.evaluation = loss.value
        loss.backward(engine=self.engine)
        try:
            self.optimizer.step()
        except OptimizerError as exc:
            record.error = str(exc)
        else:
            self.code.set_value(extract_code(self.code.value, self.problem.entry_point))
            record.new_code = self.code.value
            record.diff = code_diff(record.code, self.code.value, step)
        finally:
            self.optimizer.zero_grad()
        return record

    def score(self) -> tuple[SandboxResult, SandboxResult]:
        """The current code on the visible and on the hidden tests."""
        visible = CodeTests(self.problem, "visible", self.sandbox, self.hidden_tests.timeout_s,
                            self.hidden_tests.memory_mb)
        return visible(self.code.value), self.hidden_tests(self.code.value)
