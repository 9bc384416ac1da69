"""How the runner should execute one test, worked out on the host.

An assert is split into the parts to evaluate separately (for ``assert f(x)
== y``: ``f(x)`` and ``y``), so that a failure can show the input, the
expected and the actual value. Parsing happens here rather than in the
sandbox so that the sandboxed interpreter never has to import ``ast``: its
start-up time is what a run costs.

Most tests are one call with literal arguments compared with a literal
(``assert f([1, 2]) == 3``); ``direct_check`` recognizes them, so that the
host makes the call and compares the result itself, without the judge.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

COMPARISONS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}


def _piece(source: str, node: ast.expr) -> dict[str, Any]:
    """An expression's text, and where it starts, so tracebacks point into the test's own lines."""
    return {
        "text": ast.get_source_segment(source, node, padded=False) or ast.unparse(node),
        "line": node.lineno,
        "col": node.col_offset,
    }


def plan_test(source: str) -> dict[str, Any]:
    """The plan the runner follows: run ``before``, then check the final assert's parts.

    Tests that are not a final assert, or that cannot be parsed (the runner
    then reports the SyntaxError), are run as a whole (``kind: exec``).
    """
    plan: dict[str, Any] = {"source": source, "kind": "exec"}
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return plan
    if not tree.body:
        return plan
    last = tree.body[-1]
    lines = source.splitlines()
    if not isinstance(last, ast.Assert) or last.col_offset != 0:
        return plan
    if len(tree.body) > 1 and tree.body[-2].end_lineno >= last.lineno:
        return plan
    plan["before"] = "\n".join(lines[: last.lineno - 1])
    plan["assertion"] = ast.get_source_segment(source, last.test) or ast.unparse(last.test)
    plan["message"] = _piece(source, last.msg) if last.msg is not None else None
    test = last.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in COMPARISONS:
        plan.update(kind="compare", op=COMPARISONS[type(test.ops[0])],
                    left=_piece(source, test.left), right=_piece(source, test.comparators[0]))
    elif isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        plan.update(kind="falsy", value=_piece(source, test.operand))
    else:
        plan.update(kind="truthy", value=_piece(source, test))
    return plan


@dataclass(frozen=True)
class DirectCheck:
    """A test the host checks itself: one call of the code's function with literal arguments,
    compared (``op``) with a literal, or tested for truth. No test code runs anywhere: the
    solution's interpreter makes the call, the host compares the plain data that came back."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    op: str | None  # None: the value must be true ("truthy") or false ("falsy")
    expected: Any = None
    falsy: bool = False
    message: str | None = None


def _literal(source: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(source)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def direct_check(plan: dict[str, Any], functions: frozenset[str]) -> DirectCheck | None:
    """The DirectCheck for ``plan`` if it is ``assert NAME(literals) OP literal`` (or ``assert
    [not] NAME(literals)``) with NAME one of the code's ``functions``, else None (the judge runs it)."""
    if plan["kind"] == "exec" or plan["before"] or plan.get("op") in ("is", "is not"):
        return None
    message = None
    if plan["message"] is not None:
        ok, value = _literal(plan["message"]["text"])
        if not ok:
            return None
        message = str(value)
    piece = plan["left"] if plan["kind"] == "compare" else plan["value"]
    try:
        call = ast.parse(piece["text"], mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in functions):
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    args, kwargs = [], {}
    for node in call.args:
        ok, value = _literal(ast.unparse(node))
        if not ok:
            return None
        args.append(value)
    for keyword in call.keywords:
        ok, value = _literal(ast.unparse(keyword.value))
        if not ok:
            return None
        kwargs[keyword.arg] = value
    if plan["kind"] != "compare":
        return DirectCheck(call.func.id, tuple(args), kwargs, None, falsy=plan["kind"] == "falsy", message=message)
    ok, expected = _literal(plan["right"]["text"])
    if not ok:
        return None
    return DirectCheck(call.func.id, tuple(args), kwargs, plan["op"], expected, message=message)
