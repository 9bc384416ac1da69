"""The embedded model with and without draftless speculative decoding, on the calls an optimization makes.

Two ``tg serve`` of the same model, loaded side by side, one with
``--speculative off`` and one with ``--speculative MODE`` (ngram-mod, the
default). Both get the same requests, built with tg-core's own prompts from
the bundled hard code problems, one call at a time and in alternating order,
so a slow spell of the machine slows both alike:

- **update**: TGD's update request for the problem's reference solution with
  feedback asking for comments (the answer copies most of its variable);
- **feedback**: a review of the problem's reference solution (prose that
  quotes some code).

Each problem is a new text for both servers, so a draft can only come from
what the request itself holds or from earlier, different requests, as in a
run. Prompts are evaluated whole (``cache_prompt`` off), so a call's wall time
compares; speeds are llama.cpp's own timings.

    python bench/local_speculative.py [--mode ngram-mod] [--problems 4] [--model default] [--threads 2]
        [--max-tokens 600] [--output FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save, table  # noqa: E402
from quality_common import SIDE_CALL_TIMEOUT_S, model_record, served_models, tg_serve  # noqa: E402
from quality_server import model_timings  # noqa: E402

from tg_core import Feedback, Variable  # noqa: E402
from tg_core.engines.defaults import LOCAL_N_CTX, SPECULATIVE_TYPES  # noqa: E402
from tg_core.optimizer import TGD  # noqa: E402

KINDS = ("update", "feedback")
EXPLAIN = ("The solution passes every test, but a reader cannot follow it: add a docstring that explains the "
           "approach and a short comment above each loop. Change nothing else.")
REVIEW = ("You review solutions to programming problems. Problem:\n{statement}\n\nSolution:\n{code}\n\n"
          "Say where this solution could fail or be slow, quoting the lines concerned.")


def requests_for(problem: Any) -> dict[str, list[dict[str, Any]]]:
    """The two requests of one bundled problem, as messages."""
    program = Variable(problem.reference, role_description="code solution to optimize")
    program.add_feedback(Feedback(EXPLAIN))
    update = TGD([program], engine=None).prompt_for(program)
    review = [{"role": "user", "content": REVIEW.format(statement=problem.statement, code=problem.reference)}]
    return {"update": update, "feedback": review}


def ask(base_url: str, model_id: str, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    """One call; llama.cpp's timings with the wall time and the answer."""
    body = {"model": model_id, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "seed": 0,
            "cache_prompt": False}
    request = urllib.request.Request(base_url + "/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=SIDE_CALL_TIMEOUT_S) as response:
        reply = json.loads(response.read())
    timings = model_timings(reply)
    if not timings:
        raise RuntimeError(f"{base_url} answered without llama.cpp's timings")
    return {"wall_s": round(time.perf_counter() - began, 2), **timings,
            "answer": reply["choices"][0]["message"]["content"]}


def summarize(calls: list[dict[str, Any]]) -> dict[str, Any]:
    generated = sum(c["predicted_n"] for c in calls)
    drafted = sum(c["draft_n"] for c in calls)
    return {"calls": len(calls), "generated_tokens": generated,
            "generation_s": round(sum(c["predicted_ms"] for c in calls) / 1000, 1),
            "wall_s": round(sum(c["wall_s"] for c in calls), 1),
            "generated_tokens_per_s": round(1000 * generated / max(1, sum(c["predicted_ms"] for c in calls)), 2),
            "drafted": drafted, "accepted": sum(c["draft_n_accepted"] for c in calls)}


def compare(calls: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """Each kind's totals per server, ``mode`` against off, and how many answers came out the same."""
    summary = {kind: {m: summarize([c for c in calls if kind in (c["kind"], "all") and c["mode"] == m])
                      for m in ("off", mode)} for kind in (*KINDS, "all")}
    pairs = list(zip(calls[::2], calls[1::2], strict=True))  # each request's two calls, one per server
    # Answers may differ in length (batched checking rounds differently), so the speed ratio is the headline
    # and the time ratios say what the same requests cost.
    ratios = {kind: {"generation_speed": round(s[mode]["generated_tokens_per_s"]
                                               / max(0.001, s["off"]["generated_tokens_per_s"]), 2),
                     "generation_time": round(s["off"]["generation_s"] / max(0.001, s[mode]["generation_s"]), 2),
                     "wall_time": round(s["off"]["wall_s"] / max(0.001, s[mode]["wall_s"]), 2)}
              for kind, s in summary.items()}
    return {"summary": summary, "ratios": ratios, "identical_answers": sum(a["answer"] == b["answer"] for a, b in pairs),
            "pairs": len(pairs), "calls": calls}


def main(argv: list[str] | None = None) -> int:
    from quality_code import HARD_PROBLEMS

    from tg_code.problems import get_problem

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="ngram-mod", choices=[t for t in SPECULATIVE_TYPES if t != "off"])
    parser.add_argument("--problems", type=int, default=4, help="the quality bench's hard problems, in order")
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=600)
    parser.add_argument("--output", type=Path, default=None,
                        help="result file (default bench/results/local_speculative.json)")
    args = parser.parse_args(argv)
    hard = [get_problem(name) for name in HARD_PROBLEMS]
    for option, low, high in (("problems", 1, len(hard)), ("threads", 1, 64), ("max_tokens", 1, LOCAL_N_CTX)):
        if not low <= getattr(args, option) <= high:
            parser.error(f"--{option.replace('_', '-')} must be between {low} and {high}, got {getattr(args, option)}")
    modes = ("off", args.mode)
    calls: list[dict[str, Any]] = []

    model = model_record(args.model)

    def save_as(results: dict[str, Any], complete: bool) -> Path:
        return save("local_speculative", {
            "model": model, "threads": args.threads, "max_tokens": args.max_tokens,
            "mode": args.mode, "problems": [p.id for p in hard[: args.problems]], "complete": complete, **results},
            args.output)

    with tempfile.TemporaryDirectory(prefix="local-speculative-") as work, contextlib.ExitStack() as stack:
        servers = {}
        for mode in modes:
            upstream = stack.enter_context(tg_serve(args.model, args.threads, LOCAL_N_CTX,
                                                    Path(work) / f"{mode}.log", speculative=mode))
            servers[mode] = (upstream, served_models(upstream)[0])
        for index, problem in enumerate(hard[: args.problems]):
            for kind, messages in requests_for(problem).items():
                order = modes if index % 2 == 0 else modes[::-1]
                for mode in order:
                    upstream, model_id = servers[mode]
                    call = {"problem": problem.id, "kind": kind, "mode": mode,
                            **ask(upstream, model_id, messages, args.max_tokens)}
                    calls.append(call)
                    save_as({"calls": calls}, complete=False)  # a run cut short keeps its calls
                    print(f"{problem.id} {kind} {mode}: {call['predicted_n']} tokens in {call['predicted_ms']} ms, "
                          f"{call['draft_n_accepted']}/{call['draft_n']} drafted accepted", flush=True)
    results = compare(calls, args.mode)
    summary, ratios = results["summary"], results["ratios"]
    rows = [[kind, mode, s["calls"], s["generated_tokens"], s["generation_s"], s["generated_tokens_per_s"],
             f"{s['accepted']}/{s['drafted']}", s["wall_s"]]
            for kind, by_mode in summary.items() for mode, s in by_mode.items()]
    print(table(["calls", "speculative", "n", "generated", "generation s", "tok/s", "accepted/drafted", "wall s"],
                rows))
    print(f"{args.mode} against off, generation speed / generation time / wall time: "
          + "; ".join(f"{k} {r['generation_speed']:.2f}x / {r['generation_time']:.2f}x / {r['wall_time']:.2f}x"
                      for k, r in ratios.items())
          + f"; identical answers {results['identical_answers']} of {results['pairs']}")
    path = save_as(results, complete=True)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
