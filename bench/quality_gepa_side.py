"""GEPA 0.1.4's arm of bench/quality.py; runs under the gepa venv's interpreter (bench/gepa_env.py).

``gepa.optimize`` with an adapter whose ``evaluate`` asks the bench for the
same simulator, sandbox, judge or answer check every arm is scored by (POST
``eval_url/gepa``: per example a score, higher is better, the output and the
feedback text GEPA reflects on). The reflection model is the same server as
every other arm's, called with no sampling settings of GEPA's own (its
``LM`` sets none either). GEPA counts its budget in evaluations; the bench
counts LLM calls, so a stopper asks the bench proxy how many calls this run
has made and stops GEPA once it reaches ``budget_calls`` (checked between
iterations, so the last iteration may overrun; the bench records the calls
actually made), or once a candidate scores perfectly on the validation set. Evaluation caching (GEPA's own option) is on: it only saves
repeated evaluations of the same candidate.

Usage: python quality_gepa_side.py SPEC.json   (the result is the last stdout line, JSON)
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import gepa
from gepa import EvaluationBatch, ScoreThresholdStopper


def call(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())


class BenchAdapter:
    """Evaluation and feedback come from the bench; GEPA proposes with its default reflection."""

    propose_new_texts = None

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.evaluated: list[dict[str, Any]] = []

    def evaluate(self, batch: list[Any], candidate: dict[str, str], capture_traces: bool = False) -> EvaluationBatch:
        answer = call(self.spec["eval_url"] + "/gepa", {"candidate": candidate, "batch": batch})
        self.evaluated.append({"candidate": candidate, "batch": batch, "scores": answer["scores"]})
        traces = [{"input": i, "output": o, "feedback": f}
                  for i, o, f in zip(answer["inputs"], answer["outputs"], answer["feedback"], strict=True)]
        return EvaluationBatch(outputs=answer["outputs"], scores=answer["scores"],
                               trajectories=traces if capture_traces else None)

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: EvaluationBatch,
                                components_to_update: list[str]) -> dict[str, list[dict[str, Any]]]:
        records = [{"Inputs": t["input"], "Generated Outputs": t["output"], "Feedback": t["feedback"]}
                   for t in eval_batch.trajectories or []]
        return {name: records for name in components_to_update}


class CallBudget:
    """Stop once the bench has counted ``budget`` LLM calls for this run.

    Also stop after ``idle`` iterations in a row that made no call at all:
    GEPA skips reflection on a minibatch it already scores perfectly, and
    where evaluation needs no model (tests, docking, planning) it would
    otherwise loop without spending anything.
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


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    adapter = BenchAdapter(spec)
    budget = CallBudget(spec["usage_url"], spec["budget_calls"])
    perfect = spec.get("perfect_score", 1.0)
    result = gepa.optimize(
        seed_candidate=spec["candidate"],
        trainset=spec["train"],
        valset=spec.get("val") or None,
        adapter=adapter,
        reflection_lm=reflection_lm(spec),
        reflection_minibatch_size=spec.get("minibatch_size", 3),
        perfect_score=perfect,
        stop_callbacks=[budget, ScoreThresholdStopper(perfect)],
        cache_evaluation=True,
        seed=spec["seed"],
        run_dir=str(Path(spec_path).parent / "gepa-run"),
        raise_on_exception=False,
    )
    best = result.best_candidate
    component = spec["component"]
    value = best[component] if isinstance(best, dict) else best
    trajectory = [c[component] for c in result.candidates]
    json.dump({"value": value, "trajectory": trajectory, "val_scores": result.val_aggregate_scores,
               "best_index": result.best_idx, "evaluations": len(adapter.evaluated),
               "budget_calls": spec["budget_calls"], "stopped": budget.reason or "perfect validation score"},
              sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
