"""The core's own plugin: ``tg run text``, optimizing any text toward a stated goal.

It is registered through the same entry-point group as every other plugin.
"""

from __future__ import annotations

import argparse
from typing import Any

from .hookspecs import hookimpl
from .losses import TextLoss
from .optimizer import TGD
from .runs import Run
from .tasks import Task
from .variable import Variable

DEFAULT_TEXT = "Drink water. It is good."
DEFAULT_GOAL = (
    "You judge a short public-health tip. It must name one concrete daily habit, give the "
    "reason in plain words, and stay under 30 words. List what is missing or wrong; be brief."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", default=DEFAULT_TEXT, help="the text to improve")
    parser.add_argument("--role", default="a short public-health tip", help="what the text is")
    parser.add_argument("--goal", default=DEFAULT_GOAL, help="instruction for the judge (the loss)")
    parser.add_argument("--constraint", action="append", default=[], help="a constraint on new values (repeatable)")
    parser.add_argument("--momentum", type=int, default=2, help="past values shown to the optimizer (default 2)")


def run_text(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    if not args.text.strip():
        raise ValueError("--text must not be empty")
    variable = Variable(args.text, role_description=args.role)
    loss_fn = TextLoss(args.goal, engine=run.engine)
    optimizer = TGD([variable], engine=run.engine, constraints=args.constraint, momentum=args.momentum)
    history: list[dict[str, str]] = []
    last = run.latest_checkpoint()
    if last:
        variable.set_value(last["variables"]["text"])
        history = last["state"]["history"]
        optimizer.load_state(last["state"]["optimizer"])
    for step in run.steps(args.steps):
        loss = loss_fn(variable)
        loss.backward(engine=run.engine)
        before = variable.value
        optimizer.step()
        history.append({"step": step, "value": before, "evaluation": loss.value, "new_value": variable.value})
        optimizer.zero_grad()
        run.checkpoint(step, {"text": variable.value}, {"history": history, "optimizer": optimizer.state()})
    lines = [f"# tg run text\n\nRole: {args.role}\n\nGoal: {args.goal}\n"]
    for h in history:
        lines.append(f"## Step {h['step']}\n\n**Value:** {h['value']}\n\n**Evaluation:** {h['evaluation']}\n")
    lines.append(f"## Final\n\n{variable.value}\n")
    summary = {"initial": args.text, "final": variable.value, "steps": len(history)}
    run.finish(summary, "\n".join(lines))
    return summary


@hookimpl
def tg_plugin_info() -> dict[str, Any]:
    return {"name": "core", "description": "built-in tasks of tg-core", "requires": []}


@hookimpl
def tg_tasks() -> list[Task]:
    return [Task("text", "optimize any text toward a goal judged by an LLM", add_arguments, run_text)]
