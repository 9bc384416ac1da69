"""The core's own plugin: ``tg run text``, optimizing any text toward a stated goal.

It is registered through the same entry-point group as every other plugin and
runs the shared loop: the program checks the constraints it can count (words,
sentences) and shows the judge a table of them, the judge scores the rest, and
a candidate is kept only if it scores at least as well as the best so far.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import progress, prompts
from .calls import ask
from .config import resolve_engine
from .constraints import count_sentences, count_words, max_sentences, max_words
from .hookspecs import hookimpl
from .loop import Objective, Optimization, add_loop_arguments, check_loop_arguments
from .losses import TextLoss
from .optimizer import TGD, Constraint
from .pacing import call_budget
from .runs import Run
from .simulator import SimulatorFunction
from .tasks import Task
from .variable import Variable

log = logging.getLogger(__name__)

DEFAULT_TEXT = "Drink water. It is good."
DEFAULT_GOAL = (
    "You judge a short public-health tip. It must name one concrete daily habit, give the "
    "reason in plain words, and stay under 30 words. List what is missing or wrong; be brief."
)
_SCORE = re.compile(r"SCORE:\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
# One greedy judgement of a small model is noisy: in the quality benchmark the
# embedded model gave "Drink water. It is good." 3 of 10 on a fresh server and
# 10 of 10 (so the run stopped as done) after other calls had filled its cache.
# The mean of the greedy judgement and two sampled ones is the score. Each
# judgement without a score line is asked for it: left out, they biased the mean
# to the lenient ones (the start scored 10 from the two that gave a line, while
# the third said the reason was missing, and the run stopped as done).
JUDGE_SAMPLES = 3
JUDGE_SAMPLE_TEMPERATURE = 0.7
JUDGE_SAMPLE_MAX_TOKENS = 384
# A step is two feedback calls (judge -> checked text -> text), one proposal
# and the candidate's judgements, each possibly followed by a request for its
# score line. Under a call budget too small for the default samples in every
# step, fewer judgements per value let the run take its steps (tg_core.pacing).
STEP_CALLS_BESIDE_JUDGING = 3
CALLS_PER_JUDGEMENT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the text to improve")
    parser.add_argument("--role", default="a short public-health tip", help="what the text is")
    parser.add_argument("--goal", default=DEFAULT_GOAL, help="instruction for the judge (the loss)")
    parser.add_argument("--max-words", type=int, help="checked constraint: at most this many words")
    parser.add_argument("--max-sentences", type=int, help="checked constraint: at most this many sentences")
    parser.add_argument("--constraint", action="append", default=[],
                        help="a constraint in words, shown to the optimizer (repeatable; not checked)")
    parser.add_argument("--momentum", type=int, default=2, help="past values shown to the optimizer (default 2)")
    parser.add_argument("--judge-samples", type=int,
                        help=f"judgements averaged into each score: the greedy one and sampled ones "
                             f"(default {JUDGE_SAMPLES}, fewer when --max-calls could not pay for them every step)")
    parser.add_argument("--seed", type=int, default=0, help="0: greedy, reproducible proposals (default); another seed samples them, so runs differ")
    add_loop_arguments(parser)


def validate(args: argparse.Namespace) -> None:
    if not args.text.strip():
        raise ValueError("--text must not be empty")
    if not args.goal.strip():
        raise ValueError("--goal must not be empty")
    for option in ("max_words", "max_sentences"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise ValueError(f"--{option.replace('_', '-')} must be at least 1, got {value}")
    if args.momentum < 0:
        raise ValueError(f"--momentum must be >= 0, got {args.momentum}")
    if args.judge_samples is not None and args.judge_samples < 1:
        raise ValueError(f"--judge-samples must be at least 1, got {args.judge_samples}")
    check_loop_arguments(args)


def checked_constraints(args: argparse.Namespace) -> list[Constraint]:
    found = []
    if args.max_words is not None:
        found.append(max_words(args.max_words))
    if args.max_sentences is not None:
        found.append(max_sentences(args.max_sentences))
    return found


@dataclass(frozen=True)
class CheckedText:
    """A text with every limit the program checks: value, limit, met."""

    text: str
    checks: dict[str, dict[str, Any]]

    def to_text(self) -> str:
        rows = [f"- {name}: {c['value']} (limit {c['limit']}): {'met' if c['met'] else 'MISSED'}"
                for name, c in self.checks.items()]
        return prompts.TEXT_REPORT.format(text=self.text, checks="\n".join(rows) or prompts.TEXT_CHECKS_NONE)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "checks": self.checks}


def check_text(text: str, limits: dict[str, int]) -> CheckedText:
    values = {"words": count_words(text), "sentences": count_sentences(text)}
    return CheckedText(text, {name: {"value": values[name], "limit": limit, "met": values[name] <= limit}
                              for name, limit in limits.items()})


def judge_score(judgement: str) -> float | None:
    """The judge's 0-10 score from its last 'SCORE: N' line, or ``None`` when it gave none."""
    found = _SCORE.findall(judgement)
    return min(10.0, float(found[-1])) if found else None


def text_objective(limits: dict[str, int], goal: str, engine: Any, samples: int = JUDGE_SAMPLES) -> Objective:
    """Checks counted by the program, then the judge's score: the mean of ``samples`` judgements."""
    simulator = SimulatorFunction(
        functools.partial(check_text, limits=limits), purpose=prompts.TEXT_PURPOSE, name="text.checks",
        output_role="checked text", examples=[("One short sentence.",)],
    )
    instruction = goal + prompts.TEXT_SCORE_REQUEST

    async def score(report: Variable, judgement: Variable | None) -> tuple[float, float] | None:
        if not isinstance(report.data, CheckedText) or judgement is None:
            return None
        met = float(sum(c["met"] for c in report.data.checks.values()))
        judged = [{"role": "system", "content": instruction}, {"role": "user", "content": report.value}]
        chosen = resolve_engine(engine, "tg run text")

        async def scored(text: str) -> float | None:
            found = judge_score(text)
            if found is None:  # small models often forget the line: ask for it alone, same conversation
                followup = [*judged, {"role": "assistant", "content": text},
                            {"role": "user", "content": prompts.TEXT_SCORE_FOLLOWUP}]
                found = judge_score(await ask(chosen, followup, role="judge:score", max_tokens=16))
            return found

        async def sample(seed: int) -> float | None:
            return await scored(await ask(chosen, judged, role="judge:sample", seed=seed,
                                          temperature=JUDGE_SAMPLE_TEMPERATURE, max_tokens=JUDGE_SAMPLE_MAX_TOKENS))

        found = await asyncio.gather(scored(judgement.value), *(sample(i) for i in range(1, samples)))
        scores = [x for x in found if x is not None]
        return (met, round(sum(scores) / len(scores), 2) if scores else 0.0)

    return Objective(
        forward=simulator,
        judge=TextLoss(instruction, engine=engine),
        score=score,
        judge_scores=True,
        done=lambda evaluation: evaluation.score == (float(len(limits)), 10.0),  # every check met, full marks
        metrics=lambda report: {name: c["value"] for name, c in getattr(report.data, "checks", {}).items()},
        score_names=("checks met", "judge score"),
    )


def judge_samples(chosen: int | None, max_calls: int | None, steps: int) -> int:
    """``chosen``, or the default number of judgements that an equal share of ``max_calls`` pays for.

    The start's evaluation takes a share like a step: a step judging each value
    ``n`` times costs about ``STEP_CALLS_BESIDE_JUDGING + CALLS_PER_JUDGEMENT * n`` calls.
    """
    if chosen is not None:
        return chosen
    if max_calls is None:
        return JUDGE_SAMPLES
    share = max_calls / (steps + 1)
    return max(1, min(JUDGE_SAMPLES, int((share - STEP_CALLS_BESIDE_JUDGING) // CALLS_PER_JUDGEMENT)))


def run_text(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    constraints = checked_constraints(args)
    limits = {name: value for name, value in (("words", args.max_words), ("sentences", args.max_sentences))
              if value is not None}
    variable = Variable(args.text, role_description=args.role)
    optimizer = TGD([variable], engine=run.engine, constraints=[*constraints, *args.constraint],
                    momentum=args.momentum)
    samples = judge_samples(args.judge_samples, call_budget(run.engine), args.steps)
    if samples != JUDGE_SAMPLES and args.judge_samples is None:
        log.info("judging each text %d time(s), not %d, so --max-calls lasts %d steps", samples, JUDGE_SAMPLES,
                 args.steps)
    loop = Optimization({"text": variable}, text_objective(limits, args.goal, run.engine, samples),
                        optimizer,
                        steps=args.steps, candidates=args.candidates, patience=args.patience, run=run,
                        seed=args.seed)
    loop.run_all()
    track = loop.tracks[0]
    plot = progress.score_plot_svg(loop, Path(run.path) / "score.svg")
    lines = [f"# tg run text\n\nRole: {args.role}\n\nGoal: {args.goal}\n",
             f"Checked constraints: {', '.join(c.description for c in constraints) or 'none'}\n",
             f"Judgements averaged per value: {samples}\n",
             progress.markdown(loop), f"Score plot: [{plot.name}]({plot.name})\n", "## Judgements\n"]
    for record in track.history:
        if record.get("judgement"):
            lines.append(f"### Step {record['step']}\n\n**Value:** {record['value']}\n\n{record['judgement']}\n")
    result = progress.summary(loop)["parameters"]["text"]
    summary = {"initial": args.text, "final": track.best_value, "steps": len(track.history),
               "stopped": loop.stopped or "ran every step", **result,
               "table": f"text: {progress.verdict(track)}\nfinal: {track.best_value}"}
    run.finish(summary, "\n".join(lines))
    return summary


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {"name": "core", "description": "built-in tasks of tg-core", "requires": []}


@hookimpl
def tg_tasks() -> list[Task]:
    return [Task("text", "optimize any text toward a goal judged by an LLM", add_arguments, run_text,
                 validate=validate, default_steps=3)]
