"""``tg run molecule``: optimize molecules toward docking and drug-likeness goals on the shared loop.

Each starting molecule is a track of the shared optimization loop
(``search``): every step starts from the track's best molecule so far, the
judge reads its report (the goals table computed by the program) and says
why and what to change, and the optimizer proposes ``--candidates``
molecules, choosing from a menu of RDKit-checked edits. Invalid or filtered
proposals are asked again with the reason and never docked; the admitted
ones are docked in parallel through the executor and the best is kept only
if it ranks at least as high as the best so far (goals met, then the
weighted objective). The run stops early when every goal is met or after
``--patience`` steps with no new molecule.

With ``--target all`` (or several ``--target`` and ``--per-target``) the same
optimization runs once per target, one after the other in one run folder,
the docking processes of a target released when it is done; the report
ends with a table across targets.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tg_core
from tg_core import progress
from tg_core.loop import Optimization, add_loop_arguments, check_loop_arguments

from . import prompts, report
from .edits import MENU_SIZE
from .executors import EXECUTOR_KINDS, make_executor
from .goals import GoalSet
from .settings import DEFAULT_MAX_ROTATABLE_BONDS, DockingSettings

DEFAULT_SMILES = "CC(=O)Oc1ccccc1C(=O)O"
DEFAULT_TARGET = "DRD2"
ALL_TARGETS = "all"
# k = 4 (issue 16): four docked candidates per step cost about twice one on two workers, and the
# menu of edits gives the model four distinct choices to make instead of one guess.
DEFAULT_CANDIDATES = 4
# DockingSettings fields and the options that set them, for error messages.
SETTING_OPTIONS = {"exhaustiveness": "--exhaustiveness", "seed": "--seed", "cpu": "--cpu",
                   "timeout_s": "--timeout", "max_rotatable_bonds": "--max-rotatable-bonds"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", action="append", default=None,
                        help=f"DOCKSTRING target to dock into (default {DEFAULT_TARGET}); repeat to require "
                             f"binding to several at once; '{ALL_TARGETS}' runs the optimization once per target")
    parser.add_argument("--per-target", action="store_true",
                        help="run the optimization once per --target instead of once for all of them")
    parser.add_argument("--anti-target", default=None,
                        help="target the molecule should bind weakly: selectivity = Vina on the target minus "
                             "Vina on this one")
    parser.add_argument("--smiles", action="append", default=None,
                        help=f"starting molecule (repeat for several, optimized side by side; default {DEFAULT_SMILES})")
    parser.add_argument("--goals", default=None, metavar="FILE",
                        help="TOML goal file (targets, anti_target, vina, selectivity, qed, sa, similarity_min, "
                             "alerts, [windows], [weights]); the options below override it")
    parser.add_argument("--vina-goal", type=float, default=None, help="goal: Vina score at most this (default -10)")
    parser.add_argument("--selectivity", type=float, default=None,
                        help="goal: Vina on the target minus Vina on the anti-target at most this (default -1)")
    parser.add_argument("--qed-goal", type=float, default=None, help="goal: QED at least this (default 0.6)")
    parser.add_argument("--sa-goal", type=float, default=None, help="goal: SA score at most this (default: none)")
    parser.add_argument("--similarity-min", type=float, default=None,
                        help="goal: Tanimoto similarity (Morgan) to the starting molecule at least this")
    parser.add_argument("--mw", default=None, metavar="MIN:MAX",
                        help="molecular weight window, enforced before docking (e.g. 200:500, or 200: or :500)")
    parser.add_argument("--logp", default=None, metavar="MIN:MAX", help="logP window, enforced before docking")
    parser.add_argument("--exhaustiveness", type=int, default=8, help="Vina exhaustiveness (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of embedding and docking (default 0)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="Vina threads per docking process (default: CPUs shared among the workers)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per docking (default: scaled with the molecule, at least 300)")
    parser.add_argument("--max-rotatable-bonds", type=int, default=DEFAULT_MAX_ROTATABLE_BONDS,
                        help=f"more flexible molecules are refused (default {DEFAULT_MAX_ROTATABLE_BONDS})")
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, default="process",
                        help="what drives the docking processes: a local process pool, threads, or a Dask cluster (default process)")
    parser.add_argument("--workers", type=int, default=None,
                        help="docking workers (default: one per candidate of every starting molecule, at most "
                             "one per CPU)")
    parser.add_argument("--dask-address", default=None,
                        help="scheduler of an existing Dask cluster (default: start a local one)")
    parser.add_argument("--momentum", type=int, default=3, help="past molecules shown to the optimizer (default 3)")
    parser.add_argument("--constraint", action="append", default=[], help="an extra constraint on new molecules (repeatable)")
    parser.add_argument("--edits", type=int, default=MENU_SIZE,
                        help=f"size of the menu of RDKit-checked edits of the best molecule shown to the optimizer "
                             f"(default {MENU_SIZE}; 0: no menu)")
    parser.add_argument("--examples", action="store_true",
                        help="show valid SMILES of approved drugs to the optimizer as examples")
    add_loop_arguments(parser, candidates=DEFAULT_CANDIDATES)


@dataclass(frozen=True)
class _Plan:
    """The checked options of a run: everything is validated before any run folder or docking."""

    goals: GoalSet
    target_sets: tuple[GoalSet, ...]  # one per optimization: the whole goal set, or one per target
    starts: tuple[str, ...]
    workers: int
    settings: DockingSettings


def validate(args: argparse.Namespace) -> None:
    """Raise ValueError naming the option for any input that is wrong (called before the run folder)."""
    check_loop_arguments(args)
    for option, value in (("--momentum", args.momentum), ("--edits", args.edits)):
        if value < 0:
            raise ValueError(f"{option} must be at least 0, got {value}")
    plan(args)


def plan(args: argparse.Namespace) -> _Plan:
    """The checked options of a run, or ValueError naming the option at fault."""
    from .chemistry import parse_molecule
    from .errors import MoleculeError

    options = _goal_file(args.goals)
    per_target = args.per_target
    if args.anti_target is not None:
        options["anti_target"] = _target("--anti-target", args.anti_target)
    if args.target:
        if ALL_TARGETS in (t.strip().lower() for t in args.target):
            if len(args.target) > 1:
                raise ValueError(f"--target {ALL_TARGETS}: give it alone, not with other targets")
            from .receptors import targets

            # every target but the anti-target, one optimization each
            options["targets"] = tuple(t for t in targets() if t != options.get("anti_target"))
            per_target = True
        else:
            options["targets"] = tuple(_target("--target", t) for t in args.target)
    anti = options.get("anti_target")
    if anti is not None and anti in options.get("targets", (DEFAULT_TARGET,)):
        raise ValueError(f"--anti-target {anti}: it is also a target; give another one")
    for option, key, value, low, high in (
        ("--vina-goal", "vina", args.vina_goal, -30, 0),
        ("--selectivity", "selectivity", args.selectivity, -30, 30),
        ("--qed-goal", "qed", args.qed_goal, 0, 1),
        ("--sa-goal", "sa", args.sa_goal, 1, 10),
        ("--similarity-min", "similarity_min", args.similarity_min, 0, 1),
    ):
        if value is not None:
            if not low <= value <= high:
                raise ValueError(f"{option} {value:g}: the goal must be from {low:g} to {high:g}")
            options[key] = value
    windows = dict(options.get("windows", {}))
    for option, key, text in (("--mw", "mw", args.mw), ("--logp", "logp", args.logp)):
        if text is not None:
            from .filters import parse_range

            windows[key] = parse_range(text, option)
    options["windows"] = windows
    try:
        goals = GoalSet(**options)
    except ValueError as exc:
        source = f"--goals {args.goals}" if args.goals else "goals"
        raise ValueError(f"{source}: {exc}") from None
    given = tuple(args.smiles or [DEFAULT_SMILES])
    workers = args.workers if args.workers is not None else min(len(given) * args.candidates, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    cpu = args.cpu if args.cpu is not None else max(1, (os.cpu_count() or 1) // workers)
    try:
        settings = DockingSettings(exhaustiveness=args.exhaustiveness, seed=args.seed, cpu=cpu,
                                   timeout_s=args.timeout, max_rotatable_bonds=args.max_rotatable_bonds)
    except ValueError as exc:
        field = str(exc).split()[0]
        raise ValueError(f"{SETTING_OPTIONS.get(field, field)}: {exc}") from None
    starts = []  # canonical: a proposal writing the start another way is the start, already tried
    for smiles in given:
        try:
            starts.append(parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds).smiles)
        except MoleculeError as exc:
            raise ValueError(f"--smiles {smiles!r}: {exc}") from None
    if len(set(starts)) < len(starts):
        raise ValueError("--smiles: the same molecule is given twice")
    starts = tuple(starts)
    target_sets = tuple(goals.with_target(t) for t in goals.targets) if per_target else (goals,)
    return _Plan(goals, target_sets, starts, workers, settings)


def _goal_file(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    from .goals import read_goal_file

    try:
        return read_goal_file(path)
    except ValueError as exc:
        raise ValueError(f"--goals: {exc}") from None


def _target(option: str, name: str) -> str:
    from .receptors import check_target

    try:
        return check_target(name)
    except ValueError as exc:
        raise ValueError(f"{option} {name!r}: {exc}") from None


def run_molecule(args: argparse.Namespace, run: tg_core.Run) -> dict[str, Any]:
    """One loop per target set, one after the other; every step is checkpointed with every loop's state."""
    from .search import molecule_search

    chosen = plan(args)
    steps = args.steps
    last = run.latest_checkpoint()
    saved = last["state"].get("sets", []) if last else []
    with make_executor(args.executor, chosen.workers, args.dask_address) as executor:
        loops = [molecule_search(goals, chosen.settings, chosen.starts, run.engine, steps=steps,
                                 candidates=args.candidates, patience=args.patience, momentum=args.momentum,
                                 edits=args.edits, examples=prompts.DRUG_EXAMPLES if args.examples else (),
                                 constraints=args.constraint, executor=executor, run=run)
                 for goals in chosen.target_sets]
        for index, loop in enumerate(loops):  # a call budget is paced over every target set's steps
            loop.steps_after = steps * (len(loops) - index - 1)
        for loop, state in zip(loops, saved, strict=False):
            loop.load_state(state["loop"])
            loop.optimizer.load_state(state["optimizer"])
        for step in run.steps(steps * len(loops)):
            index, local = divmod(step - 1, steps)
            loop = loops[index]
            if not loop.stopped:
                tg_core.run_sync(loop.astep(local + 1))
                if not loop.step_dropped:  # a step the budget cut before any candidate is not checkpointed
                    run.checkpoint(step, _values(loops, chosen), {"sets": [_state(o) for o in loops[:index + 1]]})
                if loop.out_of_budget:  # later target sets never start
                    for later in loops[index + 1:]:
                        later.stopped = "not started: the budget ran out before this target set"
                    break
            if local + 1 == steps and len(loops) > 1:  # this target set is done: free its docking processes
                from .docking_client import release_targets

                release_targets(*chosen.target_sets[index].targets)
        for loop in loops:
            for track in loop.tracks:
                track.parameter.set_value(track.best_value)
        return _finish(run, loops, chosen)


def _state(loop: Optimization) -> dict[str, Any]:
    return {"loop": loop.state(), "optimizer": loop.optimizer.state()}


def _values(loops: list[Optimization], chosen: _Plan) -> dict[str, str]:
    """The best molecule of every track, named by target set when there are several."""
    out = {}
    for goals, loop in zip(chosen.target_sets, loops, strict=True):
        for track in loop.tracks:
            out[track.name if len(loops) == 1 else f"{report.label(goals)} {track.name}"] = track.best_value
    return out


def _finish(run: tg_core.Run, loops: list[Optimization], chosen: _Plan) -> dict[str, Any]:
    from .candidates import evaluate_candidates

    rows = [row for goals, loop in zip(chosen.target_sets, loops, strict=True)
            for row in report.loop_rows(goals, chosen.settings, loop)]
    report.write_csv(run.path / "molecules.csv", rows)
    front = report.pareto_front(rows)
    report.write_csv(run.path / "pareto.csv", front)
    targets = [report.target_summary(g, rows) for g in chosen.target_sets]
    files = ["molecules.csv", "pareto.csv", "objectives.png"]
    if len(chosen.target_sets) > 1:
        report.write_csv(run.path / "targets.csv", targets, report.TARGET_COLUMNS)
        files.append("targets.csv")
    best_candidates = []
    for goals in chosen.target_sets:
        top = report.ranked([r for r in rows if r["targets"] == report.label(goals)])[:report.POSES_PER_RUN]
        for r in top:  # docked before with the same settings: read back from the cache, poses included
            again = evaluate_candidates([r["smiles"]], goals, chosen.settings, exempt=chosen.starts,
                                        reference=chosen.starts[r["trajectory"]])[0]
            if again.docked:
                best_candidates.append((report.label(goals), again, r))
    poses = report.write_poses(run.path, best_candidates)
    if report.draw_grid(run.path / "molecules.png", rows):
        files.append("molecules.png")
    report.plot_objectives(run.path / "objectives.png", rows, chosen.goals)
    plots = []
    for goals, loop in zip(chosen.target_sets, loops, strict=True):
        name = "score.svg" if len(loops) == 1 else f"score-{report.label(goals)}.svg"
        plots.append(progress.score_plot_svg(loop, Path(run.path) / name).name)
    files.extend(plots)
    top = report.best(rows)
    metrics = report.run_metrics(loops, chosen.starts)
    summary = {
        **report.progress_summary(chosen.target_sets, loops),
        "targets": list(chosen.goals.targets),
        "per_target": len(chosen.target_sets) > 1,
        "settings": chosen.settings.as_dict(),
        "goals": chosen.goals.as_dict(),
        "run_metrics": metrics,
        "evaluated": len(rows),
        "distinct_molecules": len({r["smiles"] for r in rows if r["smiles"]}),
        "invalid": sum(1 for r in rows if r["error"] and not r["rejection_kinds"]),
        "rejected": sum(1 for r in rows if r["rejection_kinds"]),
        "rejections": report.rejections(rows),
        "best": top,
        "best_per_start": report.best_per_start(chosen.target_sets, loops),
        "across_targets": targets,
        "pareto_front": [{"targets": r["targets"], "smiles": r["smiles"], "vina": r["vina"], "qed": r["qed"],
                          "sa": r["sa"], "similarity": r["similarity"]} for r in front],
        "goals_met_by": sorted({r["smiles"] for r in rows if r["all_goals_met"]}),
        "poses": poses,
    }
    text = report.markdown(chosen.goals, rows, targets, best_candidates, poses, files,
                           progress_sections=report.progress_sections(chosen.target_sets, loops, plots),
                           metrics=metrics, per_start=summary["best_per_start"])
    run.finish(summary, text)
    return summary
