"""Radiotherapy planning: speed of the exact solver against voxel-space L-BFGS-B, and how hard the problem is.

On the 5 mm prostate phantom, in one process:

* time to build the dose-influence matrix (no disk cache; wall and CPU
  seconds, the goal is under 10 s) and the per-case Gram matrices;
* one inner optimisation from scratch (all weights 100): ours against a plain
  L-BFGS-B over the fluences whose objective and gradient are computed on
  the voxels (scipy defaults, and tightly converged as the reference optimum);
* the inner optimisations of a TextGrad-like run (a sequence of weight
  updates): ours warm-started from the previous weights' solution, as the
  task does, against the plain baseline from zero;
* the peak memory of a whole 5 mm plan (matrix, solve, metrics), in a child
  process;
* the planning problem itself: the equal-weights plan (organ mean doses in
  the clinical ranges, which goals it misses, whether raising the rectum
  weight fixes a rectum goal) and a search over a grid of weights for sets
  that meet every goal of the built-in protocol (the problem is feasible but
  not trivial when some do and equal weights do not).

Both methods use one BLAS thread (set before numpy loads): the baseline's
sparse products are single-threaded anyway, and on a shared 2-core machine a
second BLAS thread only adds contention.

    .venv/bin/python bench/radiotherapy_planning.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import datetime as dt  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402

from tg_radiotherapy.dose import DoseEngine  # noqa: E402
from tg_radiotherapy.fluence import FluenceProblem  # noqa: E402
from tg_radiotherapy.goals import load_protocol  # noqa: E402
from tg_radiotherapy.phantom import STRUCTURES, prostate_phantom  # noqa: E402
from tg_radiotherapy.planning import Planner  # noqa: E402

GRID_MM = 5.0
RESULTS = Path(__file__).parent / "results" / "radiotherapy_planning.json"
RUN_WEIGHTS = [  # a run as the optimizer tends to move: the PTV weight up, organs nudged
    (100, 100, 100, 100, 100),
    (150, 100, 100, 100, 100),
    (300, 100, 120, 100, 80),
    (600, 80, 150, 100, 80),
    (1200, 80, 150, 100, 60),
    (2000, 80, 200, 100, 60),
    (3000, 60, 200, 80, 60),
    (5000, 60, 250, 80, 60),
]
PLAN_IN_CHILD = """
import os, resource, sys
os.environ["TG_CACHE_DIR"] = sys.argv[1]
import tg_radiotherapy
p = tg_radiotherapy.plan("weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
                         "weight for femoral heads: 100, weight for body: 100", grid_mm=5)
print(p.metrics["rectum"]["Dmean"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


SEARCH = {  # the grid searched for weight sets that meet every goal
    "PTV": (30000, 100000, 300000),
    "bladder": (50, 100, 300),
    "rectum": (100, 300, 1000),
    "femoral heads": (100,),
    "body": (100, 300, 1000),
}
EQUAL = dict.fromkeys(STRUCTURES, 100.0)


def plan_summary(plan) -> dict:
    m = plan.metrics
    return {
        "weights": dict(plan.weights), "goals_met": plan.goals_met, "goals_total": len(plan.goals),
        "missed": [f"{g.goal.structure} {g.goal.metric}" for g in plan.goals if not g.met],
        "rectum_mean_gy": m["rectum"]["Dmean"], "bladder_mean_gy": m["bladder"]["Dmean"],
        "ptv_d98_gy": m["PTV"]["D98"], "ptv_dmax_gy": m["PTV"]["Dmax"],
    }


def planning_problem(case, matrix) -> dict:
    """Equal weights, the rectum weight raised, and a grid search for weight sets meeting every goal."""
    from tg_radiotherapy.phantom import case_from_arrays

    with_matrix = case_from_arrays(case.masks, case.voxel_mm, case.isocenter_mm, dose_influence=matrix,
                                   density=case.density_grid)
    planner = Planner(case=with_matrix, protocol=load_protocol())
    equal = plan_summary(planner.plan(EQUAL))
    raised = plan_summary(planner.plan(dict(EQUAL, rectum=1000.0)))
    feasible, started = [], time.perf_counter()
    grid = [dict(zip(SEARCH, values, strict=True)) for values in itertools.product(*SEARCH.values())]
    for weights in grid:
        result = plan_summary(planner.plan(weights))
        if not result["missed"]:
            feasible.append(result)
    fixed_by_rectum_weight = sorted(set(equal["missed"]) - set(raised["missed"]))
    return {
        "equal_weights": equal,
        "rectum_weight_1000": raised,
        "rectum_goals_fixed_by_raising_its_weight": [g for g in fixed_by_rectum_weight if g.startswith("rectum")],
        "search": {"grid": {k: list(v) for k, v in SEARCH.items()}, "plans": len(grid),
                   "seconds": time.perf_counter() - started, "feasible": feasible},
    }


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def baseline(problem: FluenceProblem, weights: dict[str, float], tight: bool = False):
    """Plain L-BFGS-B over the fluences; f and its gradient on the voxels; from zero fluence."""
    options = {"maxiter": 100000, "maxfun": 100000}
    if tight:
        options.update(ftol=1e-15, gtol=1e-12)
    return minimize(
        problem.objective_and_gradient, np.zeros(problem.n_beamlets), args=(weights,), jac=True,
        method="L-BFGS-B", bounds=[(0.0, None)] * problem.n_beamlets, options=options,
    )


def whole_plan_in_child() -> tuple[float, float]:
    """Rectum mean dose of the all-100 plan and the child's peak RSS in MiB (cold disk cache)."""
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run([sys.executable, "-c", PLAN_IN_CHILD, cache], capture_output=True, text=True, check=True)
    rectum_mean, max_rss_kib = out.stdout.split()
    return float(rectum_mean), int(max_rss_kib) / 1024.0


def main() -> dict:
    case = prostate_phantom(GRID_MM)
    cpu = time.process_time()
    matrix, build_s = timed(DoseEngine(case).build)
    build_cpu_s = time.process_time() - cpu
    problem, gram_s = timed(FluenceProblem, case, matrix)
    weights = [dict(zip(STRUCTURES, map(float, w), strict=True)) for w in RUN_WEIGHTS]

    cold, cold_s = timed(problem.solve, weights[0])
    base, base_s = timed(baseline, problem, weights[0])
    tight, tight_s = timed(baseline, problem, weights[0], tight=True)

    steps = []
    previous = cold.optimum
    for w in weights[1:]:
        ours, ours_s = timed(problem.solve, w, warm_start=previous)
        previous = ours.optimum
        plain, plain_s = timed(baseline, problem, w)
        steps.append({
            "weights": list(w.values()),
            "ours_s": ours_s, "ours_outer_iterations": ours.outer_iterations, "ours_pivots": ours.pivots,
            "baseline_s": plain_s, "baseline_iterations": int(plain.nit),
            "ours_objective": ours.objective, "baseline_objective": float(plain.fun),
            "objective_rel_diff": (ours.objective - plain.fun) / plain.fun,
        })
    warm_ours = sum(s["ours_s"] for s in steps)
    warm_base = sum(s["baseline_s"] for s in steps)
    rectum_mean, peak_mib = whole_plan_in_child()
    worst_diff = max(abs(s["objective_rel_diff"]) for s in steps)
    problem_report = planning_problem(case, matrix)
    equal = problem_report["equal_weights"]

    results = {
        "benchmark": "radiotherapy_planning",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS")},
        "phantom": {"grid_mm": GRID_MM, "voxels": case.n_voxels, "body_voxels": int(case.masks["body"].sum()),
                    "beamlets": int(matrix.shape[1]), "nonzeros": int(matrix.nnz),
                    "matrix_mib": (matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20},
        "dose_matrix_build_s": build_s,
        "dose_matrix_build_cpu_s": build_cpu_s,
        "load_average_1min": os.getloadavg()[0],
        "gram_precompute_s": gram_s,
        "cold": {
            "ours_s": cold_s, "ours_outer_iterations": cold.outer_iterations, "ours_objective": cold.objective,
            "baseline_s": base_s, "baseline_iterations": int(base.nit), "baseline_objective": float(base.fun),
            "tight_baseline_s": tight_s, "tight_baseline_iterations": int(tight.nit), "tight_objective": float(tight.fun),
            "speedup": base_s / cold_s, "speedup_vs_tight": tight_s / cold_s,
            "objective_rel_diff": (cold.objective - base.fun) / base.fun,
        },
        "warm_run": {"steps": steps, "ours_total_s": warm_ours, "baseline_total_s": warm_base,
                     "speedup": warm_base / warm_ours, "worst_objective_rel_diff": worst_diff},
        "whole_plan": {"peak_rss_mib": peak_mib, "rectum_mean_gy_all_weights_100": rectum_mean},
        "planning_problem": problem_report,
        "goals": {
            "dose_matrix_build_under_10s": build_s < 10,
            "equal_weights_rectum_mean_17_25": 17 <= equal["rectum_mean_gy"] <= 25,
            "equal_weights_bladder_mean_15_25": 15 <= equal["bladder_mean_gy"] <= 25,
            "an_oar_goal_missed_at_equal_weights_met_after_raising_its_weight":
                bool(problem_report["rectum_goals_fixed_by_raising_its_weight"]),
            "some_weight_set_meets_every_goal": bool(problem_report["search"]["feasible"]),
            "equal_weights_do_not_meet_every_goal": bool(equal["missed"]),
            "speedup_20x_warm": warm_base / warm_ours >= 20,
            "speedup_20x_cold": base_s / cold_s >= 20,
            "objective_within_0.1pct": worst_diff <= 1e-3 and abs(cold.objective - base.fun) / base.fun <= 1e-3,
            "peak_memory_under_2GB": peak_mib < 2048,
        },
    }
    print(f"5 mm phantom: {results['phantom']['body_voxels']} body voxels, {matrix.shape[1]} beamlets, "
          f"{matrix.nnz} nonzeros ({results['phantom']['matrix_mib']:.1f} MiB)")
    print(f"dose matrix build {build_s:.2f} s ({build_cpu_s:.2f} s CPU, load {os.getloadavg()[0]:.1f}), "
          f"Gram precompute {gram_s:.2f} s (once per case)\n")
    print(f"{'inner optimisation':<44}{'ours s':>9}{'L-BFGS-B s':>12}{'speedup':>9}{'rel. objective':>16}")
    print(f"{'cold, all weights 100':<44}{cold_s:9.3f}{base_s:12.3f}{base_s / cold_s:9.1f}"
          f"{results['cold']['objective_rel_diff']:16.1e}")
    print(f"{'cold vs tightly converged L-BFGS-B':<44}{cold_s:9.3f}{tight_s:12.3f}{tight_s / cold_s:9.1f}"
          f"{(cold.objective - tight.fun) / tight.fun:16.1e}")
    for s in steps:
        label = "warm " + "/".join(f"{v:g}" for v in s["weights"])
        print(f"{label:<44}{s['ours_s']:9.3f}{s['baseline_s']:12.3f}{s['baseline_s'] / s['ours_s']:9.1f}"
              f"{s['objective_rel_diff']:16.1e}")
    print(f"{'warm run, total of ' + str(len(steps)) + ' solves':<44}{warm_ours:9.3f}{warm_base:12.3f}"
          f"{warm_base / warm_ours:9.1f}")
    print(f"\nwhole 5 mm plan: peak RSS {peak_mib:.0f} MiB; rectum mean dose with all weights 100: {rectum_mean:.1f} Gy")
    print(f"equal weights: rectum mean {equal['rectum_mean_gy']:.1f} Gy, bladder mean {equal['bladder_mean_gy']:.1f} Gy, "
          f"missed: {', '.join(equal['missed'])}")
    print(f"rectum weight 1000 fixes: {', '.join(problem_report['rectum_goals_fixed_by_raising_its_weight']) or 'nothing'}")
    search = problem_report["search"]
    print(f"weight search: {len(search['feasible'])} of {search['plans']} sets meet every goal ({search['seconds']:.0f} s)")
    for found in search["feasible"]:
        print("  ", "/".join(f"{v:g}" for v in found["weights"].values()),
              f"rectum mean {found['rectum_mean_gy']:.1f}, bladder mean {found['bladder_mean_gy']:.1f} Gy")
    print("goals:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in results["goals"].items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return results


if __name__ == "__main__":
    main()
