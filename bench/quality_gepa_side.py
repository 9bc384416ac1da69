"""GEPA 0.1.4's arm of bench/quality.py; runs under the gepa venv's interpreter (bench/gepa_env.py).

``gepa.optimize_anything``, GEPA's entry point for any text artifact: single-
task search where the candidate is the solution (a text, a program, a SMILES,
a weights line), or, with a dataset and a validation set, generalization (a
system prompt). Its evaluator asks the bench for the same simulator, sandbox,
judge or answer check every arm is scored by (POST ``eval_url/gepa``: a score,
higher is better, the output and the feedback text GEPA reflects on); GEPA
wraps it in its own adapter. The reflection model is the same server as every
other arm's, called with no sampling settings (GEPA's ``LM`` sets none
either). GEPA counts its budget in evaluations; the bench counts LLM calls, so
a stopper asks the bench proxy how many calls this run has made and stops
GEPA once it reaches ``budget_calls`` (checked between iterations, so the last
iteration may overrun; the bench records the calls actually made), or once a
candidate scores perfectly. Evaluation caching (GEPA's own option) is on: it
only saves repeated evaluations of the same candidate.

Usage: python quality_gepa_side.py SPEC.json   (the result is the last stdout line, JSON)
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from gepa import ScoreThresholdStopper
from gepa.optimize_anything import EngineConfig, GEPAConfig, ReflectionConfig, optimize_anything


def call(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())


class CallBudget:
    """Stop once the bench has counted ``budget`` LLM calls for this run.

    Also stop after ``idle`` iterations in a row that made no call at all:
    where evaluation needs no model (tests, docking, planning) and GEPA
    proposes nothing, it would otherwise loop without spending anything.
    """

    def __init__(self, usage_url: str, budget: int, idle: int = 20) -> None:
        self.usage_url = usage_url
        self.budget = budget
        self.idle = idle
        self.last_calls = -1
        self.idle_checks = 0
        self.reason = ""

    def __call__(self, gepa_state: Any) -> bool:
        calls = call(self.usage_url)["calls"]
        self.idle_checks = self.idle_checks + 1 if calls == self.last_calls else 0
        self.last_calls = calls
        if calls >= self.budget:
            self.reason = f"budget of {self.budget} LLM calls reached"
        elif self.idle_checks >= self.idle:
            self.reason = f"{self.idle} iterations in a row without an LLM call"
        return bool(self.reason)


def reflection_lm(spec: dict[str, Any]):
    def ask(prompt: str | list[dict[str, str]]) -> str:
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        answer = call(spec["base_url"] + "/chat/completions", {"model": spec["model"], "messages": messages})
        return answer["choices"][0]["message"]["content"] or ""

    return ask


def evaluator(spec: dict[str, Any]):
    """The bench's evaluation of one candidate on one example (or on the single task)."""
    evaluated: list[dict[str, Any]] = []

    def evaluate(candidate: str, example: Any = None) -> tuple[float, dict[str, Any]]:
        item = spec["train"][0] if example is None else example
        answer = call(spec["eval_url"] + "/gepa", {"candidate": {spec["component"]: candidate}, "batch": [item]})
        evaluated.append({"candidate": candidate, "item": item, "score": answer["scores"][0]})
        side_info = {"Input": answer["inputs"][0], "Output": answer["outputs"][0], "Feedback": answer["feedback"][0]}
        return answer["scores"][0], side_info

    return evaluate, evaluated


def unwrap(candidate: Any) -> str:
    return candidate if isinstance(candidate, str) else next(iter(candidate.values()))


def stop_reason(scores: list[float], perfect: float) -> str:
    return "perfect validation score" if scores and max(scores) >= perfect else "gepa ended on its own"


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    budget = CallBudget(spec["usage_url"], spec["budget_calls"])
    perfect = spec.get("perfect_score", 1.0)
    evaluate, evaluated = evaluator(spec)
    generalize = bool(spec.get("val"))
    config = GEPAConfig(
        engine=EngineConfig(run_dir=str(Path(spec_path).parent / "gepa-run"), seed=spec["seed"],
                            raise_on_exception=False, cache_evaluation=True, parallel=False),
        reflection=ReflectionConfig(reflection_lm=reflection_lm(spec), perfect_score=perfect,
                                    reflection_minibatch_size=spec.get("minibatch_size")),
        stop_callbacks=[budget, ScoreThresholdStopper(perfect)],
    )
    result = optimize_anything(
        spec["candidate"][spec["component"]],
        evaluator=evaluate,
        dataset=spec["train"] if generalize else None,
        valset=spec["val"] if generalize else None,
        objective=spec["objective"],
        background=spec.get("background"),
        config=config,
    )
    json.dump({"value": unwrap(result.best_candidate), "trajectory": [unwrap(c) for c in result.candidates],
               "val_scores": result.val_aggregate_scores, "best_index": result.best_idx,
               "evaluations": len(evaluated), "budget_calls": spec["budget_calls"],
               "stopped": budget.reason or stop_reason(result.val_aggregate_scores, perfect)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
