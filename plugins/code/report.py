"""The report of a code run: its summary (summary.json) and report.md with pass rates per
iteration, the final code and each step's diff."""

from __future__ import annotations

from typing import Any

from .problems import Problem
from .results import SandboxResult

EVALUATION_CHARS = 2000


def _fence(text: str, language: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total}" if total else "-"


def run_summary(problem: Problem, history: list[dict[str, Any]], stopped: bool, final_code: str,
                visible: SandboxResult, hidden: SandboxResult) -> dict[str, Any]:
    """What the run achieved, as the CLI prints it and summary.json keeps it."""
    return {
        "problem": problem.id,
        "isolation": visible.isolation,
        "iterations": len(history),
        "stopped_early": stopped,
        "visible_passed": visible.passed,
        "visible_pass_rate": visible.pass_rate,
        "hidden_passed": hidden.passed,
        "hidden_pass_rate": hidden.pass_rate,
        "pass_rates": [
            {"step": h["step"], "visible": h["visible_passed"] / max(1, h["visible_total"]),
             "hidden": h["hidden_passed"] / max(1, h["hidden_total"])}
            for h in history
        ],
        "final_code": final_code,
    }


def render_report(problem: Problem, history: list[dict[str, Any]], final_code: str,
                  visible: SandboxResult, hidden: SandboxResult) -> str:
    lines = [
        f"# tg run code: {problem.id}",
        "",
        f"{problem.title}. Sandbox isolation: {visible.isolation} ({visible.python}).",
        "",
        "## Pass rates per iteration",
        "",
        "Each row is the code entering that iteration. Hidden tests are never shown to the optimizer.",
        "",
        "| iteration | visible tests | hidden tests | outcome |",
        "|---|---|---|---|",
    ]
    for h in history:
        if h["stopped"]:
            outcome = "visible tests pass: stopped"
        elif h["error"]:
            outcome = "update failed, code kept"
        else:
            outcome = "rewritten"
        lines.append(f"| {h['step']} | {_rate(h['visible_passed'], h['visible_total'])} | "
                     f"{_rate(h['hidden_passed'], h['hidden_total'])} | {outcome} |")
    lines.append(f"| final | {_rate(*_counts(visible))} | {_rate(*_counts(hidden))} | |")
    lines += ["", "## Final code", "", _fence(final_code, "python"), ""]
    if not hidden.passed:
        lines += ["## Final code on the hidden tests", "", _fence(hidden.to_text()), ""]
    lines += ["## Steps", ""]
    for h in history:
        lines.append(f"### Iteration {h['step']}")
        lines.append("")
        if h["stopped"]:
            lines += ["The visible tests pass: no update.", ""]
            continue
        evaluation = h["evaluation"]
        if len(evaluation) > EVALUATION_CHARS:
            evaluation = evaluation[:EVALUATION_CHARS] + " ..."
        lines += ["Evaluation (the loss):", "", _fence(evaluation), ""]
        if h["error"]:
            lines += [f"The update failed and the code was kept: {h['error']}", ""]
        else:
            lines += ["Change:", "", _fence(h["diff"] or "(no change)", "diff"), ""]
    return "\n".join(lines)


def _counts(result: SandboxResult) -> tuple[int, int]:
    return sum(t.passed for t in result.tests), len(result.tests)
