"""Quality benchmark, text domain: the demo of ``tg run text`` (a public-health tip).

Every arm starts from the demo's text and goal with two checked limits (at
most 30 words, at most 2 sentences). The metric, as the issue asks: whether
the final text meets both limits (counted by the program) and a judge score
0-10 from the same model under a fixed judging prompt (the goal plus a SCORE
line), identical for every arm and counted apart from the arms' calls.
GEPA's evaluator returns the same two numbers as one score in [0, 1] with the
check table and the judge's reasons as feedback.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from quality_common import Context, Domain, read_checkpoints

DEFAULT_TEXT = "Drink water. It is good."
DEFAULT_ROLE = "a short public-health tip"
DEFAULT_GOAL = (
    "You judge a short public-health tip. It must name one concrete daily habit, give the "
    "reason in plain words, and stay under 30 words. List what is missing or wrong; be brief."
)
SCORE_REQUEST = (
    "\n\nEnd with one line 'SCORE: N', N an integer from 0 (misses the goal) to 10 (meets it fully)."
)
TEXT_MESSAGE = "The text:\n<TEXT> {text} </TEXT>"
CHECKS_PURPOSE = (
    "shows the text with every limit the program checks (value, limit, met or missed); "
    "a better text meets every limit and the goal"
)
REPORT_ROLE = "the text with its checked word and sentence counts"
_SCORE = re.compile(r"SCORE:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def judge_score(text: str) -> float:
    """The last 'SCORE: N' of a judgement, capped at 10; 0 when there is none."""
    found = _SCORE.findall(text)
    return min(10.0, float(found[-1])) if found else 0.0


def checks(text: str, limits: dict[str, int]) -> Any:
    from tg_core.builtin import check_text

    return check_text(text, limits)


class TextDomain(Domain):
    name = "text"
    task = "text"
    metric = "judge 0-10 / limits met"
    default_seeds = (0, 1, 2, 3, 4)
    default_steps = 3  # the demo's
    reconstructed = (
        "textgrad: its generic instance optimization (Variable -> TextLoss(goal) -> backward -> TGD) "
        "with the bench's word/sentence checker as a StringBasedFunction in front of the loss and the "
        "limits as TGD constraints; nothing of textgrad's is replaced."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("text domain")
        group.add_argument("--text-max-words", type=int, default=30, help="checked limit (default 30)")
        group.add_argument("--text-max-sentences", type=int, default=2, help="checked limit (default 2)")

    def check(self, options: argparse.Namespace) -> None:
        for name in ("text_max_words", "text_max_sentences"):
            if getattr(options, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(options, name)}")

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {"text": DEFAULT_TEXT, "goal": DEFAULT_GOAL, "limits": self._limits(options),
                "metric_judge": "system: goal + SCORE_REQUEST; user: TEXT_MESSAGE; temperature 0"}

    @staticmethod
    def _limits(options: argparse.Namespace) -> dict[str, int]:
        return {"words": options.text_max_words, "sentences": options.text_max_sentences}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        return [{"id": "demo-tip", "text": DEFAULT_TEXT, "role": DEFAULT_ROLE, "goal": DEFAULT_GOAL,
                 "limits": self._limits(options)}]

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        return {"value": case["text"]}

    # -------------------------------------------------------------- arms

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        limits = case["limits"]
        args = ["--text", start["value"], "--role", case["role"], "--goal", case["goal"], "--steps", str(ctx.steps)]
        if "--max-words" in ctx.tg_core.options(self.task):
            return [*args, "--max-words", str(limits["words"]), "--max-sentences", str(limits["sentences"])]
        # an older tg-core has no checked limits: it gets them as constraints in words
        return [*args, "--constraint", f"at most {limits['words']} words",
                "--constraint", f"at most {limits['sentences']} sentences"]

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        summary = json.loads((run_dir / "summary.json").read_text())
        return {"value": summary["final"], "trajectory": [case["text"], *read_checkpoints(run_dir, "text")]}

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        limits = case["limits"]
        return {"program": "text", "start": start["value"], "role": case["role"], "goal": case["goal"],
                "checks_purpose": CHECKS_PURPOSE, "report_role": REPORT_ROLE,
                "constraints": [f"at most {limits['words']} words", f"at most {limits['sentences']} sentences"]}

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        limits = case["limits"]
        objective = (f"Improve {case['role']}: {case['goal']} The program checks at most {limits['words']} words "
                     f"and at most {limits['sentences']} sentences. The candidate is the text alone.")
        return {"candidate": {"text": start["value"]}, "component": "text", "train": [case["id"]],
                "objective": objective, "perfect_score": 1.0}

    # -------------------------------------------------------------- evaluation

    def _judge(self, case: dict[str, Any], text: str, engine: Any) -> tuple[float, str]:
        judgement = engine.generate([{"role": "system", "content": case["goal"] + SCORE_REQUEST},
                                     {"role": "user", "content": TEXT_MESSAGE.format(text=text)}])
        return judge_score(judgement), judgement

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        if name == "checks":
            return {"report": checks(payload["value"], case["limits"]).to_text()}
        if name == "gepa":
            text = payload["candidate"]["text"]
            checked = checks(text, case["limits"])
            met = sum(c["met"] for c in checked.checks.values()) / len(checked.checks)
            score, judgement = self._judge(case, text, engine)
            feedback = f"{checked.to_text()}\n\nJudge (score {score:g}/10):\n{judgement}"
            return {"scores": [(met + score / 10) / 2], "outputs": [text], "inputs": [case["goal"]],
                    "feedback": [feedback]}
        raise KeyError(f"text domain: no evaluator {name!r}")

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        text = outcome["value"]
        checked = checks(text, case["limits"])
        score, judgement = self._judge(case, text, engine)
        return {"limits_met": all(c["met"] for c in checked.checks.values()),
                "words": checked.checks["words"]["value"], "sentences": checked.checks["sentences"]["value"],
                "judge_score": score, "judgement": judgement}

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        (only,) = measured
        return {"judge_score": only["judge_score"], "limits_met": float(only["limits_met"]),
                "words": only["words"], "sentences": only["sentences"]}

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        return (summary["limits_met"], summary["judge_score"])

    def cell(self, summary: dict[str, Any]) -> str:
        return f"{summary['judge_score']:.1f} / {summary['limits_met']:.0%}"


DOMAIN = TextDomain()
