"""The run reports: text tables, the accuracy plot and the markdown report of both qa tasks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .solution import SolutionResult, accuracy
from .trainer import DEMONSTRATIONS, FEEDBACK, PromptTrainer, PromptVersion, StepRecord


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _decision(record: StepRecord) -> str:
    if record.candidate is None:
        return "no change"
    return "kept" if record.accepted else "reverted"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def results_table(history: Sequence[StepRecord], versions: Sequence[PromptVersion]) -> str:
    """One row per step: batch accuracy, where the validated candidate came from and its validation
    accuracy, the decision, and validation and test accuracy (%) of the prompt kept after the step."""
    first = versions[0]
    rows = [["0", "-", "-", "-", "-", "start", _percent(first.validation), _percent(first.test)]]
    for r in history:
        kept = versions[r.version]
        rows.append([
            str(r.step), str(r.epoch), _percent(r.batch_accuracy), r.source or "-", _percent(r.candidate_validation),
            _decision(r), _percent(kept.validation), _percent(kept.test),
        ])
    return _table(["step", "epoch", "batch", "candidate", "candidate val", "decision", "val", "test"], rows)


def plot_accuracy(history: Sequence[StepRecord], versions: Sequence[PromptVersion], path: str | os.PathLike) -> None:
    """Validation and test accuracy of the kept prompt per step; reverted candidates as crosses."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = [0, *(r.step for r in history)]
    kept = [versions[0], *(versions[r.version] for r in history)]
    figure = Figure(figsize=(7, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(steps, [100 * v.validation for v in kept], marker="o", label="validation")
    if all(v.test is not None for v in kept):
        axes.plot(steps, [100 * v.test for v in kept], marker="s", label="test")
    rejected = [r for r in history if r.candidate is not None and not r.accepted]
    if rejected:
        axes.scatter([r.step for r in rejected], [100 * r.candidate_validation for r in rejected],
                     marker="x", color="tab:red", label="reverted candidate (validation)")
    axes.set_xlabel("step")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(-2, 102)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def training_summary(source: str, trainer: PromptTrainer, plot_name: str) -> dict[str, Any]:
    """summary.json of ``tg run qa``: the data, the decisions, the first and the final prompt with their accuracies."""
    history, versions = trainer.history, trainer.versions
    first, final = versions[0], versions[trainer.current]
    return {
        "data": source,
        "sizes": list(trainer.splits.sizes()),
        "evaluator": trainer.evaluator.name,
        "steps": len(history),
        "stopped": trainer.stopped or "ran every step",
        "kept": sum(r.accepted for r in history),
        "kept_from": {source: sum(r.accepted and r.source == source for r in history)
                      for source in (FEEDBACK, DEMONSTRATIONS)},
        "reverted": sum(r.candidate is not None and not r.accepted for r in history),
        "initial": {"prompt": first.prompt, "validation": first.validation, "test": first.test},
        "final": {"prompt": final.prompt, "validation": final.validation, "test": final.test},
        "plot": plot_name,
    }


def training_verdict(history: Sequence[StepRecord], versions: Sequence[PromptVersion]) -> str:
    """The line a user reads first: was a prompt kept, and with what accuracy; if not, why not."""
    first = versions[0]
    final = versions[history[-1].version] if history else first
    if final is first:
        unchanged = sum(r.candidate is None for r in history)
        return (f"Verdict: no improvement: the final prompt is the starting one (validation {_percent(first.validation)}%); "
                f"{unchanged} step(s) validated no candidate (none new, or none as good on the ranking questions), "
                f"{len(history) - unchanged} candidate(s) scored lower on validation and were reverted.")
    test = f", test {_percent(first.test)}% -> {_percent(final.test)}%" if final.test is not None else ""
    return (f"Verdict: {sum(r.accepted for r in history)} prompt(s) kept; validation {_percent(first.validation)}% -> "
            f"{_percent(final.validation)}%{test}.")


def training_report(
    title: str, history: Sequence[StepRecord], versions: Sequence[PromptVersion], plot_name: str, stopped: str = "",
) -> str:
    final = versions[history[-1].version] if history else versions[0]
    lines = [f"# {title}", "", training_verdict(history, versions), ""]
    if stopped:
        lines += [f"Stopped early: {stopped}.", ""]
    lines += ["```", results_table(history, versions), "```", "", f"![accuracy]({plot_name})", ""]
    lines += ["## Starting prompt", "", versions[0].prompt, "", "## Final prompt", "", final.prompt, ""]
    for r in history:
        lines += [f"## Step {r.step} ({_decision(r)})", ""]
        if r.note:
            lines += [f"_{r.note}_", ""]
        if r.candidates:
            ranked = ", ".join(f"{c.source} {_percent(c.batch_accuracy)}%" for c in r.candidates)
            where = f"validation questions {', '.join(r.ranked_on)}" if r.ranked_on else "the minibatch"
            lines += [f"Candidates on {where}: {ranked}.", ""]
        if r.candidate is not None:
            lines += [f"**Candidate from {r.source}** (validation {_percent(r.candidate_validation)}%):", "",
                      r.candidate, ""]
        lines += ["**Feedback on the prompt:**", "", r.feedback or "(none)", ""]
    return "\n".join(lines)


def solution_table(results: Sequence[SolutionResult]) -> str:
    """One row per question: the correct letter, the letter of each answer, the vote."""
    rows = []
    for r in results:
        letters = " ".join(letter or "?" for letter in r.letters)
        rows.append([r.example.id, r.example.answer, letters, r.vote or "?", "yes" if r.vote_correct else "no"])
    table = _table(["question", "answer", "zero-shot, iterations", "vote", "correct"], rows)
    scores = accuracy(results)
    summary = ", ".join(f"{name.replace('_', ' ')} {_percent(value)}%" for name, value in scores.items())
    return f"{table}\n\naccuracy: {summary}"


def solution_summary(data: str, results: Sequence[SolutionResult], iterations: int) -> dict[str, Any]:
    """summary.json of ``tg run qa-solution``: accuracy of the zero-shot answers, the last iteration and the vote."""
    return {"data": data, "questions": len(results), "iterations": iterations, "accuracy": accuracy(results)}


def solution_report(results: Sequence[SolutionResult]) -> str:
    """The markdown report of ``tg run qa-solution``: the table, then every answer of every question."""
    lines = ["# tg run qa-solution", "", "```", solution_table(results), "```", ""]
    for r in results:
        lines += [f"## {r.example.id} (correct {r.example.answer}, vote {r.vote or '?'})", "", r.example.question, ""]
        for i, (text, letter) in enumerate(zip(r.predictions, r.letters, strict=True)):
            lines += [f"### Answer {i} ({letter or '?'})", "", text, ""]
    return "\n".join(lines)
