"""The limit test: one call at the largest inputs the problem's constraints allow, checked for time and memory.

Visible tests are small, so code that passes all of them can still be far too
slow or too big for the inputs the statement allows, and the loop then calls
it done. On the bundled hard problems that is what the hidden tests found: at
textgrad's calls, count-digit-one's start passed its three visible tests and
timed out on the four hidden ones near n = 10**12, and the code kept for
kth-smallest-in-multiplication-table built the whole table and ran out of
memory on the three at m, n = 3 * 10**4.

So the model reads the constraints and writes one call of the function at
those limits (one LLM call a run), when code first passes every visible test
(``DeferredLimitTest``) or before the loop. The call joins the visible
tests with no expected value: it passes when the code returns within the
time and memory of any test. Its answer is never compared, so a wrong
expectation cannot mislead the loop. The model writes only the call, and the
call is taken only if its arguments are plain data built from literals and a
few builtins, and if a stand-in function that checks their number and
annotated types and returns at once gets them within a quarter of the time
limit: arguments of another shape (the embedded model once nested the
prompt's examples in one list), that cannot be built (``[0] * 10**12``) or
that leave the code little of its time make no limit test. A call beyond
the constraints can still fail right code; the score ranks the problem's
own tests first (``refinement.LimitedScore``), so that costs calls, never a
right answer.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tg_core import LLMCall, Variable, run_sync

from . import prompts
from .extract import FENCE
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Sandbox

if TYPE_CHECKING:
    from tg_core import Engine

    from .problems import Problem

log = logging.getLogger(__name__)

# What the arguments may call: enough to build big plain data, nothing that reaches outside it.
BUILDERS = frozenset({"range", "list", "tuple", "str", "int", "len", "min", "max", "sum", "abs", "sorted",
                      "reversed", "chr", "ord"})
ALLOWED_NODES = (
    ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop,
    ast.Call, ast.Name, ast.Load, ast.Store, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.comprehension, ast.keyword, ast.Subscript, ast.Slice, ast.Starred, ast.Compare, ast.cmpop, ast.BoolOp,
    ast.boolop, ast.IfExp,
)
LIMIT_WHEN = ("passing", "start", "off")  # when a run writes its limit test (tg run code --limit-test)
INLINE = re.compile(r"`([^`\n]+)`")
BUILD_SHARE = 0.25  # of the time limit, at most spent building the arguments (the stand-in's whole run)


@dataclass(frozen=True)
class LimitTest:
    """The call (``count_digit_one(10**12)``) and why there is none when it is empty."""

    call: str | None
    why: str = ""

    @property
    def tests(self) -> tuple[str, ...]:
        return (self.call,) if self.call else ()


def limit_call(answer: str, entry_point: str) -> str | None:
    """The call of ``entry_point`` in the model's answer (fenced lines first, then inline code, then lines),
    or ``None``.

    A call qualifies when it is one expression calling ``entry_point`` by name
    with arguments of literals, operators, comprehensions and ``BUILDERS``.
    """
    fenced = [line for _, body in FENCE.findall(answer) for line in body.splitlines()]
    for line in [*fenced, *INLINE.findall(answer), *answer.splitlines()]:
        text = line.strip().strip("`").strip()
        if text.startswith(">>>"):
            text = text[3:].strip()
        if _is_limit_call(text, entry_point):
            return text
    return None


def _is_limit_call(text: str, entry_point: str) -> bool:
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    call = tree.body
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == entry_point):
        return False
    bound = {n.id for node in ast.walk(tree) if isinstance(node, ast.comprehension)
             for n in ast.walk(node.target) if isinstance(n, ast.Name)}
    for node in (n for arg in [*call.args, *call.keywords] for n in ast.walk(arg)):
        if not isinstance(node, ALLOWED_NODES):
            return False
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in BUILDERS):
            return False
        if isinstance(node, ast.Name) and node.id not in BUILDERS | bound:
            return False
    return True


STAND_IN = """KINDS = {kinds!r}
SHOWN = {shown!r}


def _fits(value, kind):
    if kind is None:
        return True
    if isinstance(kind, list):
        return isinstance(value, list) and all(_fits(item, kind[1]) for item in value)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return type(value).__name__ == kind


def {entry_point}(*args):
    if len(args) != len(KINDS):
        raise TypeError(f"{{len(args)}} arguments given, the signature takes {{len(KINDS)}}")
    for number, (value, kind) in enumerate(zip(args, KINDS), 1):
        if not _fits(value, kind):
            raise TypeError(f"argument {{number}} is not {{SHOWN[number - 1]}}")
    return None
"""


def _kind(annotation: ast.expr | None) -> str | list | None:
    """What the stand-in checks of an argument: a scalar type's name, ["list", item kind], or None (anything)."""
    if isinstance(annotation, ast.Name) and annotation.id in ("int", "float", "str", "bool"):
        return annotation.id
    if (isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name)
            and annotation.value.id in ("list", "List")):
        return ["list", _kind(annotation.slice)]
    return None


def stand_in(problem: Problem) -> str:
    """A function with the problem's signature that checks the arguments' number and annotated types (lists and
    scalars) and returns at once: arguments of another shape would fail right code too, and the stand-in's
    run is what building them costs."""
    function = ast.parse(problem.signature.rstrip().rstrip(":") + ": pass").body[0]
    parameters = [*function.args.posonlyargs, *function.args.args]
    return STAND_IN.format(kinds=[_kind(p.annotation) for p in parameters],
                           shown=[ast.unparse(p.annotation) if p.annotation else "anything" for p in parameters],
                           entry_point=problem.entry_point)


def check_limit_call(call: str, problem: Problem, sandbox: Sandbox, timeout_s: float = DEFAULT_TIMEOUT_S,
                     memory_mb: int = DEFAULT_MEMORY_MB) -> str | None:
    """Why ``call`` cannot be the limit test, or ``None``: its arguments must reach a stand-in in time."""
    result = sandbox.run(stand_in(problem), [call], timeout_s=timeout_s, memory_mb=memory_mb,
                         setup=problem.setup, entry_point=problem.entry_point)
    (test,) = result.tests
    if not test.passed:
        return f"building its arguments ended in {test.status}" + (f": {test.message}" if test.message else "")
    if test.runtime_s > BUILD_SHARE * timeout_s:
        return f"building its arguments took {test.runtime_s:.1f} s of the {timeout_s:g} s a test has"
    return None


async def alimit_test(problem: Problem, engine: Engine, sandbox: Sandbox, timeout_s: float = DEFAULT_TIMEOUT_S,
                      memory_mb: int = DEFAULT_MEMORY_MB) -> LimitTest:
    """Ask ``engine`` (one call, greedy) for the call at the problem's limits and check it."""
    ask = LLMCall(engine, system_prompt=prompts.LIMIT_SYSTEM)
    request = Variable(prompts.LIMIT_REQUEST.format(description=problem.description(), entry_point=problem.entry_point),
                       role_description=prompts.LIMIT_REQUEST_ROLE, requires_grad=False)
    answer = (await ask.aforward(request, response_role_description=prompts.LIMIT_ANSWER_ROLE)).value
    call = limit_call(answer, problem.entry_point)
    if call is None:
        why = f"the answer holds no call of {problem.entry_point} built from literals"
        log.warning("no limit test for %s: %s", problem.id, why)
        return LimitTest(None, why)
    why = await asyncio.to_thread(check_limit_call, call, problem, sandbox, timeout_s, memory_mb)
    if why is not None:
        log.warning("no limit test for %s: %s: %s", problem.id, call, why)
        return LimitTest(None, f"{call}: {why}")
    return LimitTest(call)


def limit_test(problem: Problem, engine: Engine, sandbox: Sandbox, timeout_s: float = DEFAULT_TIMEOUT_S,
               memory_mb: int = DEFAULT_MEMORY_MB) -> LimitTest:
    """``alimit_test`` from synchronous code."""
    return run_sync(alimit_test(problem, engine, sandbox, timeout_s, memory_mb))


class DeferredLimitTest:
    """The limit test, written when code first passes every visible test (``tg run code --limit-test passing``).

    Until then nothing could be called done, so the call would buy nothing:
    written up front, it cost each problem a call at textgrad's budgets (5 to 15
    a problem) that the search needed on the problems still failing their
    visible tests. Deferred, those never pay for it, and code that passes its
    visible tests pays one call to learn whether it is fast enough. ``write``
    asks for it (and saves it); concurrent candidates wait for the one
    answer, so it is asked once.
    """

    def __init__(self, write: Callable[[], Awaitable[LimitTest]], found: LimitTest | None = None) -> None:
        self.found = found
        self._write = write
        self._lock: asyncio.Lock | None = None

    @property
    def tests(self) -> tuple[str, ...]:
        return self.found.tests if self.found is not None else ()

    async def awrite(self) -> LimitTest:
        """The limit test, asked for on the first call."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.found is None:
                self.found = await self._write()
        return self.found
