"""``tg run molecule``: optimize molecules toward docking and drug-likeness goals by text.

Each step evaluates every current molecule against the goal set (filters
first, then docking on every target, through the chosen executor), an LLM
judges each report, whose goals table the program computed, the judgement
flows back to the SMILES, and TGD (with momentum) proposes the next
molecules. A molecule that cannot be evaluated or is refused yields an
ERROR or REJECTED report that the judge turns into feedback, so a bad
proposal costs one step and no docking, never the run.

With ``--target all`` (or several ``--target`` and ``--per-target``) the same
optimization runs once per target, one after the other in one run folder,
the docking processes of a target released when it is done; the report
ends with a table across targets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from typing import Any

import tg_core

from . import prompts, report
from .candidates import Candidate
from .executors import EXECUTOR_KINDS, make_executor
from .functions import molecule_loss, molecule_simulator, smiles_constraint
from .goals import GoalSet
from .settings import DEFAULT_MAX_ROTATABLE_BONDS, DockingSettings

DEFAULT_SMILES = "CC(=O)Oc1ccccc1C(=O)O"
DEFAULT_TARGET = "DRD2"
ALL_TARGETS = "all"
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
                        help="docking workers (default: one per starting molecule, at most one per CPU)")
    parser.add_argument("--dask-address", default=None,
                        help="scheduler of an existing Dask cluster (default: start a local one)")
    parser.add_argument("--momentum", type=int, default=3, help="past molecules shown to the optimizer (default 3)")
    parser.add_argument("--constraint", action="append", default=[], help="an extra constraint on new molecules (repeatable)")


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
    starts = tuple(args.smiles or [DEFAULT_SMILES])
    workers = args.workers if args.workers is not None else min(len(starts), os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    cpu = args.cpu if args.cpu is not None else max(1, (os.cpu_count() or 1) // workers)
    try:
        settings = DockingSettings(exhaustiveness=args.exhaustiveness, seed=args.seed, cpu=cpu,
                                   timeout_s=args.timeout, max_rotatable_bonds=args.max_rotatable_bonds)
    except ValueError as exc:
        field = str(exc).split()[0]
        raise ValueError(f"{SETTING_OPTIONS.get(field, field)}: {exc}") from None
    for smiles in starts:
        try:
            parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds)
        except MoleculeError as exc:
            raise ValueError(f"--smiles {smiles!r}: {exc}") from None
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
    chosen = plan(args)
    steps = args.steps
    rows: list[dict[str, Any]] = []
    variables: list[tg_core.Variable] = []
    variables_saved: list[str] = []
    optimizer_state = None
    last = run.latest_checkpoint()
    if last:
        rows = last["state"]["rows"]
        variables_saved = [last["variables"][f"smiles_{i}"] for i in range(len(chosen.starts))]
        optimizer_state = last["state"]["optimizer"]
    with make_executor(args.executor, chosen.workers, args.dask_address) as executor:
        current = None  # (index of the target set, its simulators, loss and optimizer)
        for step in run.steps(steps * len(chosen.target_sets)):
            index, local = divmod(step - 1, steps)
            goals = chosen.target_sets[index]
            if current is None or current[0] != index:
                resumed = last is not None and local > 0 and current is None
                values = variables_saved if resumed else list(chosen.starts)
                variables = [tg_core.Variable(v, role_description=prompts.SMILES_ROLE.format(
                    targets=", ".join(goals.targets))) for v in values]
                current = (index, *_build(goals, chosen, args, run, variables, executor))
                if resumed:
                    current[3].load_state(optimizer_state)
            _, simulators, loss_fn, optimizer = current
            reports = _evaluate(simulators, variables)
            rows.extend(report.row(goals, local, i, _candidate(r)) for i, r in enumerate(reports))
            _descend(reports, loss_fn, optimizer, run, step)
            if local + 1 == steps:  # this target set is done: its final molecules, then free its processes
                final = _evaluate(simulators, variables)
                rows.extend(report.row(goals, steps, i, _candidate(r)) for i, r in enumerate(final))
                if len(chosen.target_sets) > 1:
                    from .docking_client import release_targets

                    release_targets(*goals.targets)
            report.write_csv(run.path / "molecules.csv", rows)
            run.checkpoint(step, {f"smiles_{i}": v.value for i, v in enumerate(variables)},
                           {"rows": rows, "optimizer": optimizer.state()})
    return _finish(run, rows, chosen)


def _build(goals: GoalSet, chosen: _Plan, args: argparse.Namespace, run: tg_core.Run,
           variables: list[tg_core.Variable], executor: Any) -> tuple[list[Any], Any, tg_core.TGD]:
    """The simulators (one per trajectory: similarity is to its own start), judge and optimizer."""
    settings = chosen.settings.as_dict()
    simulators = [molecule_simulator(goals=goals, reference=start, exempt=chosen.starts, executor=executor, **settings)
                  for start in chosen.starts]
    loss_fn = molecule_loss(run.engine, goals)
    optimizer = tg_core.TGD(variables, engine=run.engine, momentum=args.momentum,
                            constraints=[smiles_constraint(chosen.settings), *args.constraint])
    return simulators, loss_fn, optimizer


def _evaluate(simulators: list[Any], variables: list[tg_core.Variable]) -> list[tg_core.Variable]:
    return tg_core.map(lambda pair: pair[0].aforward(pair[1]), list(zip(simulators, variables, strict=True)))


def _candidate(report_variable: tg_core.Variable) -> Candidate:
    """The candidate behind a report; an exception the simulator caught becomes its error."""
    if isinstance(report_variable.data, Candidate):
        return report_variable.data
    return Candidate(input_smiles=report_variable.predecessors[0].value, error=report_variable.value)


def _descend(reports: list[tg_core.Variable], loss_fn: tg_core.TextLoss, optimizer: tg_core.TGD,
             run: tg_core.Run, step: int) -> None:
    """Judge every report, send the judgements back to the SMILES, let TGD rewrite them."""
    losses = tg_core.map(loss_fn, reports)
    tg_core.run_sync(_backward(losses, run.engine))
    try:
        optimizer.step()
    except tg_core.OptimizerError as exc:  # the molecules it could not rewrite keep their value
        run.log("optimizer_error", step=step, error=str(exc))
    optimizer.zero_grad()


async def _backward(losses: list[tg_core.Variable], engine: Any) -> None:
    await asyncio.gather(*(loss.abackward(engine=engine) for loss in losses))


def _finish(run: tg_core.Run, rows: list[dict[str, Any]], chosen: _Plan) -> dict[str, Any]:
    from .candidates import evaluate_candidates

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
    top = report.best(rows)
    summary = {
        "targets": list(chosen.goals.targets),
        "per_target": len(chosen.target_sets) > 1,
        "settings": chosen.settings.as_dict(),
        "goals": chosen.goals.as_dict(),
        "evaluated": len(rows),
        "distinct_molecules": len({r["smiles"] for r in rows if r["smiles"]}),
        "invalid": sum(1 for r in rows if r["error"] and not r["rejection_kinds"]),
        "rejected": sum(1 for r in rows if r["rejection_kinds"]),
        "rejections": report.rejections(rows),
        "best": top,
        "across_targets": targets,
        "pareto_front": [{"targets": r["targets"], "smiles": r["smiles"], "vina": r["vina"], "qed": r["qed"]}
                         for r in front],
        "goals_met_by": sorted({r["smiles"] for r in rows if r["all_goals_met"]}),
        "poses": poses,
    }
    run.finish(summary, report.markdown(chosen.goals, rows, targets, best_candidates, poses, files))
    return summary
