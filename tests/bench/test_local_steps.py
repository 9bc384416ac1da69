"""bench/local_steps.py's own pieces: counting a run's calls from its events, and its options."""

from __future__ import annotations

import json

import local_steps
import pytest


def _events(folder, calls):
    (folder / "events.jsonl").write_text("".join(json.dumps({"kind": "llm_call", **c}) + "\n" for c in calls)
                    + json.dumps({"kind": "step", "step": 1}) + "\n")
    return folder


def test_counts_sent_cached_and_evaluated_prompt_tokens(tmp_path):
    events = _events(tmp_path, [
        {"prompt_tokens": 1000, "cached_prompt_tokens": 0, "completion_tokens": 50, "latency_s": 12.5},
        {"prompt_tokens": 1000, "cached_prompt_tokens": 990, "completion_tokens": 30, "latency_s": 1.5},
    ])
    counts = local_steps.call_counts(events)
    assert counts["calls"] == 2 and counts["prompt_tokens"] == 2000 and counts["cached_prompt_tokens"] == 990
    assert counts["evaluated_prompt_tokens"] == 1010 and counts["evaluated_fraction"] == 0.505
    assert counts["completion_tokens"] == 80 and counts["model_seconds"] == 14.0


def test_an_older_run_without_cached_counts_leaves_them_unknown(tmp_path):
    events = _events(tmp_path, [{"prompt_tokens": 700, "completion_tokens": 9, "latency_s": 3.0}])
    counts = local_steps.call_counts(events)
    assert counts["prompt_tokens"] == 700
    assert counts["cached_prompt_tokens"] is None and counts["evaluated_fraction"] is None


@pytest.mark.parametrize(("args", "message"), [
    (["--tasks", "code"], "--tasks takes some of molecule, radiotherapy"),
    (["--threads", "0"], "--threads must be at least 1"),
    ([], "not a tg-core checkout"),
])
def test_bad_options_are_refused_before_any_run(args, message, tmp_path, refused):
    assert message in refused(local_steps.main, ["--before-checkout", str(tmp_path), *args])


@pytest.mark.parametrize(("args", "message"), [
    (["--sides", "after,sideways"], "--sides takes some of before, no reuse, after, k=1, after"),
    (["--sides", "before,after"], "--sides 'before' needs --before-checkout"),
])
def test_bad_sides_are_refused_before_any_run(args, message, refused):
    assert message in refused(local_steps.main, args)
