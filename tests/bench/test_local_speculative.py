"""bench/local_speculative.py: the requests it builds, its options, and a real side-by-side run."""

from __future__ import annotations

import json

import local_speculative
import pytest
from quality_code import HARD_PROBLEMS

from tg_code.problems import get_problem


def test_requests_are_tg_cores_update_prompt_and_a_review_of_the_reference_solution():
    problem = get_problem(HARD_PROBLEMS[0])
    requests = local_speculative.requests_for(problem)
    system, user = requests["update"]
    assert system["role"] == "system" and "<IMPROVED_VARIABLE>" in user["content"]
    assert problem.reference.strip() in user["content"] and local_speculative.EXPLAIN in user["content"]
    [review] = requests["feedback"]
    assert problem.reference in review["content"] and problem.statement in review["content"]


def test_compare_puts_the_speed_ratio_first_as_answers_may_differ_in_length():
    def call(kind, mode, n, ms, answer, drafted=0, accepted=0):
        return {"kind": kind, "mode": mode, "predicted_n": n, "predicted_ms": ms, "wall_s": ms / 1000 + 1,
                "draft_n": drafted, "draft_n_accepted": accepted, "answer": answer}

    calls = [call("update", "off", 100, 10_000, "a"), call("update", "ngram-mod", 100, 5_000, "a", 64, 50),
             call("feedback", "ngram-mod", 50, 5_000, "short"), call("feedback", "off", 200, 20_000, "long")]
    results = local_speculative.compare(calls, "ngram-mod")
    assert results["ratios"]["update"] == {"generation_speed": 2.0, "generation_time": 2.0, "wall_time": 1.83}
    # the same speed per token; only the drafting server's answer was shorter
    assert results["ratios"]["feedback"]["generation_speed"] == 1.0
    assert results["ratios"]["feedback"]["generation_time"] == 4.0
    assert results["summary"]["all"]["ngram-mod"] == {
        "calls": 2, "generated_tokens": 150, "generation_s": 10.0, "wall_s": 12.0, "generated_tokens_per_s": 15.0,
        "drafted": 64, "accepted": 50}
    assert (results["identical_answers"], results["pairs"]) == (1, 2)


@pytest.mark.parametrize(("args", "message"), [
    (["--problems", "0"], "--problems must be between 1 and 10, got 0"),
    (["--problems", "11"], "--problems must be between 1 and 10, got 11"),
    (["--threads", "0"], "--threads must be between 1 and 64"),
    (["--max-tokens", "0"], "--max-tokens must be between 1 and"),
    (["--mode", "off"], "argument --mode: invalid choice: 'off'"),
])
def test_bad_options_are_refused_before_any_server_starts(args, message, refused):
    assert message in refused(local_speculative.main, args)


@pytest.mark.slow
def test_one_problem_with_and_without_drafting_on_the_light_model(real_cache, tmp_path, monkeypatch):
    """Two real tg serve of the light model, one drafting: the drafting one accepts drafts, the other has none."""
    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    output = tmp_path / "speculative.json"
    assert local_speculative.main(["--model", "light", "--problems", "1", "--threads", "1", "--max-tokens", "300",
                                   "--output", str(output)]) == 0
    data = json.loads(output.read_text())
    assert data["complete"] is True
    assert [(c["kind"], c["mode"]) for c in data["calls"]] == [
        ("update", "off"), ("update", "ngram-mod"), ("feedback", "off"), ("feedback", "ngram-mod")]
    off, on = data["summary"]["update"]["off"], data["summary"]["update"]["ngram-mod"]
    assert off["drafted"] == 0 and off["generated_tokens"] > 50
    assert on["accepted"] > 0  # the update copies the program from its prompt
    assert data["pairs"] == 2 and 0 <= data["identical_answers"] <= 2
    assert data["ratios"]["all"]["generation_time"] > 0 and data["model"]["label"]
