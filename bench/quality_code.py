"""Quality benchmark, code domain: the TextGrad paper's LeetCode-Hard setting on the bundled hard problems.

Per problem the model first writes a zero-shot solution (the start arm, one
call, shared by every arm as its starting code); each arm then refines it
for ``--steps`` iterations (3, as the paper) seeing only the visible tests.
The metric is the paper's: the fraction of problems whose hidden tests all
pass, with the code taken out of the final value the same way for every arm.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from quality_common import Context, Domain, read_checkpoints

# A fixed list of 10 bundled hard problems (the first ten by name), as the paper's fixed LeetCode-Hard list.
HARD_PROBLEMS = (
    "hard/burst-balloons", "hard/candy-distribution", "hard/count-digit-one", "hard/count-smaller-after-self",
    "hard/distinct-subsequences", "hard/dungeon-game", "hard/first-missing-positive", "hard/frog-jump",
    "hard/kth-smallest-in-multiplication-table", "hard/largest-rectangle-in-histogram",
)
# TextGrad's code tutorial (examples/notebooks/Tutorial-Test-Time-Loss-for-Code.ipynb), verbatim.
TEXTGRAD_LOSS_SYSTEM = (
    "You are a smart language model that evaluates code snippets. You do not solve problems or propose "
    "new code snippets, only evaluate existing solutions critically and give very concise feedback."
)
TEXTGRAD_INSTRUCTION = "Think about the problem and the code snippet. Does the code solve the problem? What is the runtime complexity?"
TESTS_PURPOSE = "runs the code on the problem's visible tests and reports which pass, with errors"


class CodeDomain(Domain):
    name = "code"
    task = "code"
    metric = "hidden tests all pass (fraction of problems)"
    reconstructed = (
        "textgrad: its test-time loss for code (the code tutorial's FormattedLLMCall loss, system prompt and "
        "instruction verbatim) with the visible-test report of the bench's sandbox as a StringBasedFunction "
        "added as a 'Test results' field, as the paper's LeetCode-Hard runs used test results; TGD as in the tutorial."
    )

    def __init__(self) -> None:
        self._sandbox: Any = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("code domain")
        group.add_argument("--problems", type=int, default=len(HARD_PROBLEMS),
                           help=f"how many of the fixed hard problems, in order (default {len(HARD_PROBLEMS)})")

    def check(self, options: argparse.Namespace) -> None:
        if not 1 <= options.problems <= len(HARD_PROBLEMS):
            raise ValueError(f"--problems must be between 1 and {len(HARD_PROBLEMS)}, got {options.problems}")

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {"problems": list(HARD_PROBLEMS[: options.problems]),
                "start": "zero-shot code written by the model (tg_code.refinement.initial_solution), shared by every arm"}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        return [{"id": problem} for problem in HARD_PROBLEMS[: options.problems]]

    @property
    def sandbox(self) -> Any:
        if self._sandbox is None:
            from tg_code.sandbox import Sandbox

            self._sandbox = Sandbox()
        return self._sandbox

    @staticmethod
    def problem(case: dict[str, Any]) -> Any:
        from tg_code.problems import get_problem

        return get_problem(case["id"])

    def tests(self, case: dict[str, Any], code: str, which: str) -> Any:
        from tg_code.extract import extract_code
        from tg_code.functions import CodeTests

        problem = self.problem(case)
        return CodeTests(problem, which, self.sandbox)(extract_code(code, problem.entry_point))

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        from tg_code.refinement import initial_solution

        return {"value": initial_solution(self.problem(case), engine)}

    # -------------------------------------------------------------- arms

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        initial = folder / "initial.py"
        initial.write_text(start["value"])
        # before the shared loop (the baseline commit) the code task counted --iterations
        steps = "--steps" if "--steps" in ctx.tg_core.options(self.task) else "--iterations"
        return ["--problem", case["id"], "--code", str(initial), steps, str(ctx.steps)]

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        summary = json.loads((run_dir / "summary.json").read_text())
        return {"value": summary["final_code"], "trajectory": read_checkpoints(run_dir, "code")}

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        return {"program": "code", "start": start["value"], "problem": self.problem(case).description(),
                "loss_system": TEXTGRAD_LOSS_SYSTEM, "instruction": TEXTGRAD_INSTRUCTION,
                "tests_purpose": TESTS_PURPOSE}

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        problem = self.problem(case)
        return {"candidate": {"code": start["value"]}, "component": "code", "train": [case["id"]],
                "objective": f"Python code defining {problem.signature} that solves the problem and passes its "
                             "tests (hidden tests too). The candidate is the code alone.",
                "background": problem.description(), "perfect_score": 1.0}

    # -------------------------------------------------------------- evaluation

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        if name == "tests":
            return {"report": self.tests(case, payload["value"], "visible").to_text()}
        if name == "gepa":
            code = payload["candidate"]["code"]
            result = self.tests(case, code, "visible")
            return {"scores": [result.pass_rate], "outputs": [code], "inputs": [self.problem(case).description()],
                    "feedback": [result.to_text()]}
        raise KeyError(f"code domain: no evaluator {name!r}")

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        hidden = self.tests(case, outcome["value"], "hidden")
        visible = self.tests(case, outcome["value"], "visible")
        return {"solved": hidden.passed, "hidden_pass_rate": hidden.pass_rate, "visible_pass_rate": visible.pass_rate}

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(measured)
        return {"solved": sum(m["solved"] for m in measured) / n,
                "hidden_pass_rate": sum(m["hidden_pass_rate"] for m in measured) / n,
                "visible_pass_rate": sum(m["visible_pass_rate"] for m in measured) / n, "problems": n}

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        return (summary["solved"], summary["hidden_pass_rate"])

    def cell(self, summary: dict[str, Any]) -> str:
        return f"{summary['solved']:.2f} (hidden tests {summary['hidden_pass_rate']:.0%})"


DOMAIN = CodeDomain()
