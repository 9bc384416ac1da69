"""The report of a code run: summary.json and report.md.

Progress (score per step, candidates, stalls, the verdict) comes from the
shared loop's records, as in every task; what is the code domain's own is the
start and the best code side by side on the visible and the hidden tests, and
each step's judgement and kept change. Hidden tests appear here only.
"""

from __future__ import annotations

from typing import Any

from tg_core import progress
from tg_core.loop import Optimization

from .limits import LimitTest
from .problems import Problem
from .refinement import code_diff
from .results import SandboxResult

EVALUATION_CHARS = 2000

Results = dict[str, dict[str, SandboxResult]]  # {"start"|"best": {"visible"|"hidden": result}}
LimitStatuses = dict[str, list[str]]  # {"start"|"best": the status on each limit test}


def _fence(text: str, language: str = "") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{language}\n{text.rstrip()}\n{ticks}"


def _rate(result: SandboxResult) -> str:
    return f"{sum(t.passed for t in result.tests)}/{len(result.tests)}" if result.tests else "-"


def _tests(result: SandboxResult) -> dict[str, Any]:
    return {"passed": sum(t.passed for t in result.tests), "total": len(result.tests), "pass_rate": result.pass_rate,
            "all_passed": result.passed}


def _visible_rate(metrics: dict[str, Any]) -> float:
    """Visible pass rate of the code entering a step, from the loop's record of it."""
    return metrics.get("visible_passed", 0) / max(1, metrics.get("visible_total", 0))


def verdict(loop: Optimization, limited: bool = False) -> str:
    """The loop's verdict, except for code that passed every visible test (and the limit test, when
    ``limited``) from the start: nothing to do."""
    track = loop.tracks[0]
    if track.history and track.history[0].get("done"):
        return (f"the start code already passes every visible test{' and the limit test' if limited else ''} "
                f"({progress.fmt_score(track.history[0]['score'], track.objective.score_names)}): nothing to optimize")
    return progress.verdict(track)


def verdict_line(loop: Optimization, results: Results, limited: bool = False) -> str:
    hidden = results["best"]["hidden"]
    return (f"code: {verdict(loop, limited)}; hidden tests {_rate(results['start']['hidden'])} "
            f"at the start, {_rate(hidden)} for the best code")


def limit_line(limit: LimitTest, statuses: LimitStatuses) -> str:
    """What the limit test was and how the start and the best code did on it."""
    if not limit.call:
        return f"No limit test: {limit.why}."
    return (f"Limit test (one call at the largest inputs the problem allows, written by the model; it passes when "
            f"the code returns within the time and memory limits): `{limit.call}`: "
            f"{', '.join(statuses['start'])} for the start, {', '.join(statuses['best'])} for the best code.")


def run_summary(problem: Problem, loop: Optimization, start_code: str, results: Results, limit: LimitTest,
                limit_statuses: LimitStatuses) -> dict[str, Any]:
    """What the run achieved, as the CLI prints it and summary.json keeps it."""
    track = loop.tracks[0]
    visible, hidden = results["best"]["visible"], results["best"]["hidden"]
    return {
        "problem": problem.id,
        "isolation": visible.isolation,
        "iterations": len(track.history),
        "stopped_early": bool(loop.stopped),
        **progress.summary(loop)["parameters"]["code"],
        "stopped": loop.stopped or "ran every step",
        "visible_passed": visible.passed,
        "visible_pass_rate": visible.pass_rate,
        "hidden_passed": hidden.passed,
        "hidden_pass_rate": hidden.pass_rate,
        "start_visible_pass_rate": results["start"]["visible"].pass_rate,
        "start_hidden_pass_rate": results["start"]["hidden"].pass_rate,
        "hidden": {name: _tests(found["hidden"]) for name, found in results.items()},
        "pass_rates": [{"step": r["step"], "visible": _visible_rate(r["metrics"])} for r in track.history],
        "limit_test": {"call": limit.call, "why": limit.why, **limit_statuses},
        "initial_code": start_code,
        "final_code": track.best_value,
        "table": verdict_line(loop, results, bool(limit.call)),
    }


def render_report(problem: Problem, loop: Optimization, start_code: str, results: Results, plot: str,
                  limit: LimitTest, limit_statuses: LimitStatuses) -> str:
    track = loop.tracks[0]
    start, best = results["start"], results["best"]
    lines = [
        f"# tg run code: {problem.id}",
        "",
        f"{problem.title}. Sandbox isolation: {best['visible'].isolation} ({best['visible'].python}).",
        "",
        "Candidates are ranked by the visible tests only; the hidden tests are never shown to a model "
        "and never rank a candidate: they are run here, on the start and the best code.",
        "",
        "| code | visible tests | hidden tests |",
        "|---|---|---|",
        f"| start | {_rate(start['visible'])} | {_rate(start['hidden'])} |",
        f"| best ({f'step {track.best_step}' if track.best_step else 'the start'}) | {_rate(best['visible'])} | "
        f"{_rate(best['hidden'])} |",
        "",
        limit_line(limit, limit_statuses),
        "",
        f"Verdict: {verdict(loop, bool(limit.call))}.",
        "",
        progress.markdown(loop),
        f"Score plot: [{plot}]({plot})",
        "",
        "## Initial code",
        "",
        _fence(start_code, "python"),
        "",
    ]
    for name, found in (("initial", start), ("best", best)):
        lines += [f"## Hidden tests on the {name} code", "", _fence(found["hidden"].to_text()), ""]
    lines += ["## Steps", ""]
    for record in track.history:
        lines += [f"### Step {record['step']}", ""]
        if record.get("done"):
            lines += [("Every visible test and the limit test pass" if limit.call else "Every visible test passes")
                      + ": no update.", ""]
            continue
        evaluation = record.get("judgement", "")
        if len(evaluation) > EVALUATION_CHARS:
            evaluation = evaluation[:EVALUATION_CHARS] + " ..."
        lines += ["Evaluation (the loss):", "", _fence(evaluation), ""]
        for rejection in record.get("rejections", []):
            lines.append(f"- rejected answer ({rejection['kind']}): {rejection['reason'].splitlines()[0]}")
        kept = [c for c in record.get("candidates", []) if c["accepted"]]
        if kept:
            lines += ["", "Kept change:", "", _fence(code_diff(record["value"], kept[0]["value"], record["step"]),
                                                    "diff"), ""]
        elif record.get("stalled"):
            lines += ["", "**Stalled**: no usable new code; the best code is kept.", ""]
        else:
            lines += ["", "No candidate scored at least as well as the best code; it is kept.", ""]
    return "\n".join(lines)
