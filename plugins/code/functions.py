"""The graph nodes of tg_code: the test runner as a simulator, and the code-refinement loss.

Both are factories with keyword defaults (``code_tests()`` and
``code_refinement_loss()`` work as they are), registered as ``code.tests``
and ``code.refinement``.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from tg_core import FormattedLLMCall, SimulatorFunction, Variable

from . import prompts
from .problems import Problem, get_problem
from .results import SandboxResult
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Sandbox

if TYPE_CHECKING:
    from tg_core import Engine

WHICH = ("visible", "hidden", "all")
DEFAULT_PROBLEM = "hard/trapping-rain-water"


class CodeTests:
    """Runs a problem's visible, hidden or all tests on a piece of code.

    A plain picklable callable, so that a ``SimulatorFunction`` can send it to
    a process pool or a Dask cluster. The result carries a static signature
    check as a note, since a wrong signature otherwise shows only as errors.
    ``limits`` (calls at the problem's largest inputs, see ``tg_code.limits``)
    run after the problem's tests, and the report says what they check.
    """

    def __init__(self, problem: Problem, which: str = "visible", sandbox: Sandbox | None = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
                 limits: Sequence[str] = ()) -> None:
        if which not in WHICH:
            raise ValueError(f"CodeTests: which must be one of {', '.join(WHICH)}, got {which!r}")
        self.problem = problem
        self.which = which
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.limits = tuple(limits)

    @property
    def tests(self) -> tuple[str, ...]:
        return {"visible": self.problem.visible_tests, "hidden": self.problem.hidden_tests,
                "all": self.problem.tests}[self.which] + self.limits

    def __call__(self, code: str) -> SandboxResult:
        tests = self.tests
        result = self.sandbox.run(
            code, tests, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
            setup=self.problem.setup, entry_point=self.problem.entry_point,
        )
        mismatch = self.problem.signature_problem(code)
        if mismatch:
            result.notes.insert(0, prompts.SIGNATURE_NOTE.format(problem=mismatch))
        for number in range(len(tests) - len(self.limits) + 1, len(tests) + 1):
            result.notes.append(prompts.LIMIT_NOTE.format(number=number, timeout=self.timeout_s, memory=self.memory_mb))
        return result


def code_tests(problem: Problem | str = DEFAULT_PROBLEM, which: str = "visible", sandbox: Sandbox | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
               executor: Executor | None = None, limits: Sequence[str] = ()) -> SimulatorFunction:
    """A ``SimulatorFunction``: code Variable in, test report Variable out (``.data``: the SandboxResult).

    ``problem`` is a Problem or an id (``HumanEval/0``, ``hard/...``, a problem
    file); its reference solution is the simulator's example input. ``limits``
    are limit tests run after the problem's own.
    """
    if isinstance(problem, str):
        problem = get_problem(problem)
    runner = CodeTests(problem, which, sandbox, timeout_s, memory_mb, limits)
    return SimulatorFunction(
        runner,
        purpose=prompts.TEST_REPORT_PURPOSE.format(which=which),
        name=f"tests[{problem.id}, {which}]",
        output_role=prompts.TEST_REPORT_ROLE.format(which=which),
        executor=executor,
        examples=[(problem.reference,)] if problem.reference else [],
    )


class CodeReview(FormattedLLMCall):
    """TextGrad's code-refinement loss, judging a test report: LLM(instruction, problem, code, test results).

    It takes the report alone, as every loss does, and reads the code from
    it. The report enters the prompt as a constant, as in TextGrad's code
    refinement: the review has read the test results already, and a second
    path back through them cost three more calls a step (loss to report,
    report to code, and a condense of the two feedbacks) that, with the
    embedded model, restated the review at about 70 s each. The problem and
    the instruction are fixed for a run and come first in the prompt, so a
    prefix cache reuses them.
    """

    def __init__(self, problem: Problem, engine: Engine | None = None,
                 instruction: str = prompts.CODE_LOSS_INSTRUCTION) -> None:
        super().__init__(
            prompts.CODE_LOSS_TEMPLATE,
            fields={"instruction": prompts.INSTRUCTION_ROLE, "problem": prompts.PROBLEM_ROLE,
                    "code": prompts.CODE_FIELD_ROLE, "test_results": prompts.TEST_RESULTS_FIELD_ROLE},
            engine=engine,
            system_prompt=prompts.CODE_LOSS_SYSTEM,
        )
        self.problem = Variable(problem.description(), role_description=prompts.PROBLEM_ROLE, requires_grad=False)
        self.instruction = Variable(instruction, role_description=prompts.INSTRUCTION_ROLE, requires_grad=False)

    async def aforward(  # type: ignore[override]
        self, report: Variable, response_role_description: str = prompts.CODE_LOSS_ROLE
    ) -> Variable:
        if not isinstance(report, Variable) or len(report.predecessors) != 1:
            raise TypeError("CodeReview: give it the test report Variable made by code_tests (its input is the "
                            f"code), got {type(report).__name__}")
        results = Variable(report.value, role_description=report.role_description, requires_grad=False)
        inputs = {"instruction": self.instruction, "problem": self.problem, "code": report.predecessors[0],
                  "test_results": results}
        return await super().aforward(inputs, response_role_description)


def code_refinement_loss(engine: Engine | None = None, problem: Problem | str = DEFAULT_PROBLEM,
                         instruction: str = prompts.CODE_LOSS_INSTRUCTION) -> CodeReview:
    """The loss of TextGrad's code refinement for ``problem``, applied to a ``code_tests`` report."""
    if isinstance(problem, str):
        problem = get_problem(problem)
    return CodeReview(problem, engine, instruction)
