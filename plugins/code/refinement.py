"""Instance optimization of code with the shared loop, as in the TextGrad paper's code refinement.

Each step starts from the best code so far: its visible tests run (a
``SimulatorFunction`` whose report states every test's status as the
program computed it), the code-refinement loss reads the problem, the code
and that report and says why the failing tests fail, and its criticism flows
back to the code. TGD then proposes
candidates; each must compile (a syntax error is asked again with the reason
and never run), each is run on the visible tests, and the one passing the
most is kept if it is at least as good as the best so far. Beside the
proposals, ``resamples`` fresh solutions a step are drawn from the problem
statement alone (``SolutionSampler``): the small embedded model rarely
repairs a wrong algorithm from criticism, and a new draw can replace it.
A limit test (``tg_code.limits``: one call at the largest inputs the
statement allows, written by the model when code first passes every visible
test, or before the loop) joins the visible tests, so that code too slow for
those inputs is not called done.
Hidden tests run only for the report, on the start and the best code:
nothing about them reaches a model or ranks a candidate.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tg_core import TGD, BudgetExceededError, LLMCall, SimulatorFunction, Variable
from tg_core.loop import Evaluation, Objective, Optimization, Track
from tg_core.optimizer import Constraint

from . import prompts
from .extract import extract_code
from .functions import CodeTests, code_refinement_loss, code_tests
from .limits import DeferredLimitTest
from .results import SandboxResult
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Sandbox

if TYPE_CHECKING:
    from tg_core import Engine, Run

    from .problems import Problem

SCORE_NAMES = ("visible passed", "visible without error")
LIMITED_SCORE_NAMES = ("visible passed", "limit passed", "visible without error")
RESAMPLE_TEMPERATURE = 0.8  # fresh solutions are sampled; the first solution is greedy
RAN = ("passed", "failed")  # statuses of a test that ran to its verdict


def syntax_problem(code: str) -> str | None:
    """Why ``code`` does not compile, or ``None``: checked before any candidate is run."""
    try:
        compile(code, "<code>", "exec")
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes, before Python 3.12
        line = getattr(exc, "lineno", None)
        text = (getattr(exc, "text", None) or "").strip()
        return prompts.SYNTAX_PROBLEM.format(
            error=type(exc).__name__, message=getattr(exc, "msg", None) or exc,
            where=(prompts.SYNTAX_PROBLEM_LINE.format(line=line) if line else "")
            + (prompts.SYNTAX_PROBLEM_TEXT.format(text=text) if text else ""),
        )
    return None


COMPILES = Constraint(prompts.COMPILES_CONSTRAINT, syntax_problem)


def code_optimizer(parameters: Iterable[Variable], entry_point: str | None = None, **options: Any) -> TGD:
    """TGD whose values are bare code: models wrap code in fences and prose, and
    the same code in new wrapping must count as already tried (and prose must
    never run as code), so the code is taken out of each answer before it is checked.
    """
    return TGD(parameters, canonical=lambda value: extract_code(value, entry_point), **options)


def scored_result(report: Variable) -> SandboxResult | None:
    """The test run a score is read from; ``None`` for code that does not compile (it is not scored)."""
    result = report.data
    if not isinstance(result, SandboxResult) or syntax_problem(report.predecessors[0].value) is not None:
        return None
    return result


def visible_score(report: Variable, judgement: Variable | None = None) -> tuple[int, int] | None:
    """(tests passed, tests run to a verdict) of the visible tests; ``None`` for code that does not compile."""
    result = scored_result(report)
    if result is None:
        return None
    return sum(t.passed for t in result.tests), sum(t.status in RAN for t in result.tests)


class LimitedScore:
    """(visible tests passed, limit tests passed, visible tests run to a verdict): the problem's own tests
    come first, since a limit call the model got wrong (beyond the constraints) fails right code too, and
    fast code that answers wrong must not outrank slow code that answers right. The tests after the
    problem's ``visible`` ones are limit tests; code measured before a deferred limit test was written
    counts none passed."""

    def __init__(self, visible: int) -> None:
        self.visible = visible

    def __call__(self, report: Variable, judgement: Variable | None = None) -> tuple[int, int, int] | None:
        result = scored_result(report)
        if result is None:
            return None
        visible, limits = result.tests[: self.visible], result.tests[self.visible :]
        return (sum(t.passed for t in visible), sum(t.passed for t in limits),
                sum(t.status in RAN for t in visible))


class TestsThenLimit:
    """The forward of code with a deferred limit test: the visible tests, then, once code passes all of
    them, the limit test too (asked for then, once).

    Code that passes every visible test is run again with the limit test when
    its run did not include it (measured before the test was written, or
    while another candidate was asking for it), so no code is called done
    without it, unless the budget runs out at that call: the code keeps its
    report on the visible tests rather than being lost with the step.
    """

    def __init__(self, function: SimulatorFunction, limit: DeferredLimitTest) -> None:
        self.function = function
        self.runner: CodeTests = function.fn
        self.limit = limit

    async def aforward(self, code: Variable) -> Variable:
        report = await self.function.aforward(code)
        result = report.data
        if (isinstance(result, SandboxResult) and result.passed
                and len(result.tests) == len(self.runner.problem.visible_tests)):
            try:
                found = await self.limit.awrite()
            except BudgetExceededError:
                return report
            if found.tests:
                self.runner.limits = found.tests
                report = await self.function.aforward(code)
        return report


class VisibleMetrics:
    """What the loop records of each measured code: the problem's ``visible`` tests passed (limit tests
    after them are not among them), and the status of every test run."""

    def __init__(self, visible: int) -> None:
        self.visible = visible

    def __call__(self, report: Variable) -> dict[str, Any]:
        result = report.data
        if not isinstance(result, SandboxResult):
            return {}
        visible = result.tests[: self.visible]
        return {"visible_passed": sum(t.passed for t in visible), "visible_total": len(visible),
                "statuses": [t.status for t in result.tests]}


def all_visible_pass(evaluation: Evaluation) -> bool:
    return isinstance(evaluation.report.data, SandboxResult) and evaluation.report.data.passed


def code_objective(problem: Problem, engine: Engine | None, sandbox: Sandbox,
                   timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
                   instruction: str = prompts.CODE_LOSS_INSTRUCTION, draws: bool = True,
                   limits: Sequence[str] = (), limit_later: DeferredLimitTest | None = None) -> Objective:
    """Visible tests (and the ``limits`` calls, see ``tg_code.limits``, or the limit test ``limit_later``
    writes when code first passes them) forward, the code-refinement loss as judge, ranked by visible
    tests passed, then limit tests passed; fresh solutions from the problem statement as its resample
    (``draws=False``: none, so a proposal repeating tried code is asked again). A candidate must score
    higher to replace the kept code: on three tests a tie says nothing of the hidden ones (at equal
    calls a tying rewrite of frog-jump replaced a start passing 36 of 37 hidden tests with one passing 9)."""
    tests = code_tests(problem, "visible", sandbox, timeout_s, memory_mb,
                       limits=limit_later.tests if limit_later is not None else limits)
    limited = bool(limits) or limit_later is not None
    return Objective(
        forward=TestsThenLimit(tests, limit_later) if limit_later is not None else tests,
        judge=code_refinement_loss(engine, problem, instruction),
        score=LimitedScore(len(problem.visible_tests)) if limited else visible_score,
        done=all_visible_pass,
        metrics=VisibleMetrics(len(problem.visible_tests)),
        score_names=LIMITED_SCORE_NAMES if limited else SCORE_NAMES,
        resample=SolutionSampler(problem, engine) if draws else None,
        ties_move=False,
    )


def code_diff(before: str, after: str, step: int) -> str:
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), f"step-{step}.py", f"step-{step}-kept.py", lineterm=""
    )
    return "\n".join(lines)


def _solution_request(problem: Problem) -> Variable:
    return Variable(prompts.INITIAL_SOLUTION_REQUEST.format(description=problem.description()),
                    role_description="request for a first solution", requires_grad=False)


def initial_solution(problem: Problem, engine: Engine) -> str:
    """A first solution written by the engine from the problem description (greedy)."""
    ask = LLMCall(engine, system_prompt=prompts.INITIAL_SOLUTION_SYSTEM)
    answer = ask(_solution_request(problem), response_role_description="first solution")
    return extract_code(answer.value, problem.entry_point)


class SolutionSampler:
    """A fresh solution from the problem statement alone, sampled with a seed: the loop's ``resample``.

    The same request as the first solution, so a prefix cache reuses it; the
    seed and a temperature make every draw its own.
    """

    def __init__(self, problem: Problem, engine: Engine | None) -> None:
        self.problem = problem
        self.engine = engine

    async def __call__(self, seed: int, best: str = "", avoid: Sequence[str] = ()) -> str:
        """A solution written afresh: the kept code and the tried ones are not shown (they failed)."""
        ask = LLMCall(self.engine, system_prompt=prompts.INITIAL_SOLUTION_SYSTEM,
                      temperature=RESAMPLE_TEMPERATURE, seed=seed)
        answer = await ask.aforward(_solution_request(self.problem), response_role_description="fresh solution")
        return extract_code(answer.value, self.problem.entry_point)


class CodeRefinement:
    """The optimization of one problem's code by the shared loop; ``code`` is the trainable Variable.

    ``run`` (a ``tg_core.Run``) makes the loop resume from its checkpoints and
    log its events; ``test(code, "hidden")`` scores code on the hidden tests,
    for the report only. ``limits`` are limit tests (``tg_code.limits``): the code is
    done only when it passes them too. ``limit_later`` writes the limit test
    when code first passes every visible test (then ``limits`` is unused).
    """

    def __init__(
        self,
        problem: Problem,
        engine: Engine | None,
        code: str,
        sandbox: Sandbox | None = None,
        *,
        steps: int = 5,
        candidates: int = 1,
        resamples: int = 0,
        patience: int = 2,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
        momentum: int = 0,
        instruction: str = prompts.CODE_LOSS_INSTRUCTION,
        limits: Sequence[str] = (),
        limit_later: DeferredLimitTest | None = None,
        run: Run | None = None,
    ) -> None:
        self.problem = problem
        self.sandbox = sandbox if sandbox is not None else Sandbox()
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.given_limits = tuple(limits)
        self.limit_later = limit_later
        self.start = code
        self.code = Variable(code, role_description=prompts.CODE_ROLE.format(signature=problem.signature))
        self.objective = code_objective(problem, engine, self.sandbox, timeout_s, memory_mb, instruction,
                                        draws=resamples > 0, limits=self.given_limits, limit_later=limit_later)
        shown = [c.format(signature=problem.signature) for c in prompts.CODE_CONSTRAINTS]
        self.optimizer = code_optimizer([self.code], entry_point=problem.entry_point, engine=engine,
                                 constraints=[COMPILES, *shown], momentum=momentum)
        self.loop = Optimization({"code": self.code}, self.objective, self.optimizer, steps=steps,
                                 candidates=candidates, resamples=resamples, patience=patience, engine=engine,
                                 run=run)

    @property
    def limits(self) -> tuple[str, ...]:
        """The limit tests: those given, or the one written later (none until then)."""
        return self.limit_later.tests if self.limit_later is not None else self.given_limits

    @property
    def track(self) -> Track:
        return self.loop.tracks[0]

    def run(self) -> Optimization:
        """Every step still to do (after the run's last checkpoint); the code ends as the best found."""
        return self.loop.run_all()

    def test(self, code: str, which: str) -> SandboxResult:
        """``code`` on the problem's ``which`` tests, outside the graph (for the report)."""
        return CodeTests(self.problem, which, self.sandbox, self.timeout_s, self.memory_mb)(code)

    def limit_statuses(self, code: str) -> list[str]:
        """The status of ``code`` on each limit test, outside the graph (for the report)."""
        if not self.limits:
            return []
        result = self.sandbox.run(code, self.limits, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                                  setup=self.problem.setup, entry_point=self.problem.entry_point)
        return [t.status for t in result.tests]
