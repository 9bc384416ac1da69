"""``tg run molecule``: optimize molecules toward docking and drug-likeness goals by text.

Each step docks every current molecule (through the chosen executor), an LLM
judges each report against the goals, the judgement flows back to the
SMILES, and TGD (with momentum) proposes the next molecules. A molecule that
cannot be evaluated yields an ERROR report that the judge turns into
feedback, so a bad proposal costs one step, never the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from typing import Any

import tg_core

from . import artifacts, prompts
from .executors import EXECUTOR_KINDS, make_executor
from .objective import Goals, molecule_loss, molecule_simulator, smiles_constraint
from .result import MoleculeResult
from .settings import DockingSettings

DEFAULT_SMILES = "CC(=O)Oc1ccccc1C(=O)O"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="DRD2", help="DOCKSTRING target to dock into (default DRD2)")
    parser.add_argument("--smiles", action="append", default=None,
                        help=f"starting molecule (repeat for several, optimized side by side; default {DEFAULT_SMILES})")
    parser.add_argument("--exhaustiveness", type=int, default=8, help="Vina exhaustiveness (default 8)")
    parser.add_argument("--seed", type=int, default=0, help="seed of embedding and docking (default 0)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="Vina threads per docking process (default: CPUs shared among the workers)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds allowed per docking (default: scaled with the molecule, at least 300)")
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, default="process",
                        help="what drives the docking processes: a local process pool, threads, or a Dask cluster (default process)")
    parser.add_argument("--workers", type=int, default=None,
                        help="docking workers (default: one per starting molecule, at most one per CPU)")
    parser.add_argument("--dask-address", default=None,
                        help="scheduler of an existing Dask cluster (default: start a local one)")
    parser.add_argument("--vina-goal", type=float, default=-10.0, help="goal: Vina score at most this (default -10)")
    parser.add_argument("--qed-goal", type=float, default=0.6, help="goal: QED at least this (default 0.6)")
    parser.add_argument("--sa-goal", type=float, default=None, help="goal: SA score at most this (default: none)")
    parser.add_argument("--momentum", type=int, default=3, help="past molecules shown to the optimizer (default 3)")
    parser.add_argument("--constraint", action="append", default=[], help="an extra constraint on new molecules (repeatable)")


@dataclass(frozen=True)
class _Plan:
    """The checked options of a run: everything is validated before any docking."""

    target: str
    starts: list[str]
    workers: int
    settings: DockingSettings
    goals: Goals


def _plan(args: argparse.Namespace) -> _Plan:
    from .chemistry import parse_molecule
    from .errors import MoleculeError
    from .receptors import check_target

    target = check_target(args.target)
    starts = args.smiles or [DEFAULT_SMILES]
    workers = args.workers if args.workers is not None else min(len(starts), os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    cpu = args.cpu if args.cpu is not None else max(1, (os.cpu_count() or 1) // workers)
    settings = DockingSettings(exhaustiveness=args.exhaustiveness, seed=args.seed, cpu=cpu,
                               timeout_s=args.timeout)
    goals = Goals(vina=args.vina_goal, qed=args.qed_goal, sa=args.sa_goal)
    for smiles in starts:
        try:
            parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds)
        except MoleculeError as exc:
            raise ValueError(f"--smiles {smiles!r}: {exc}") from None
    return _Plan(target, starts, workers, settings, goals)


def run_molecule(args: argparse.Namespace, run: tg_core.Run) -> dict[str, Any]:
    plan = _plan(args)
    role = prompts.SMILES_ROLE.format(target=plan.target)
    variables = [tg_core.Variable(s, role_description=role) for s in plan.starts]
    rows: list[dict[str, Any]] = []
    last = run.latest_checkpoint()
    if last:
        for i, v in enumerate(variables):
            v.set_value(last["variables"][f"smiles_{i}"])
        rows = last["state"]["rows"]
    with make_executor(args.executor, plan.workers, args.dask_address) as executor:
        simulator = molecule_simulator(plan.target, executor=executor, **plan.settings.as_dict())
        loss_fn = molecule_loss(plan.goals, plan.target, engine=run.engine)
        optimizer = tg_core.TGD(variables, engine=run.engine, momentum=args.momentum,
                                constraints=[smiles_constraint(plan.settings), *args.constraint])
        if last:
            optimizer.load_state(last["state"]["optimizer"])
        for step in run.steps(args.steps):
            reports = tg_core.map(simulator, variables)
            rows.extend(artifacts.row(step - 1, i, _result(r, plan.target), plan.goals)
                        for i, r in enumerate(reports))
            _descend(reports, loss_fn, optimizer, run, step)
            artifacts.write_csv(run.path / "molecules.csv", rows)
            run.checkpoint(step, {f"smiles_{i}": v.value for i, v in enumerate(variables)},
                           {"rows": rows, "optimizer": optimizer.state()})
        final = tg_core.map(simulator, variables)
    rows.extend(artifacts.row(args.steps, i, _result(r, plan.target), plan.goals) for i, r in enumerate(final))
    return _finish(run, rows, plan)


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


def _result(report: tg_core.Variable, target: str) -> MoleculeResult:
    """The structured result behind a report; an exception the simulator caught becomes an error."""
    if isinstance(report.data, MoleculeResult):
        return report.data
    smiles = report.predecessors[0].value
    return MoleculeResult(input_smiles=smiles, target=target, error=report.value)


async def _backward(losses: list[tg_core.Variable], engine: Any) -> None:
    await asyncio.gather(*(loss.abackward(engine=engine) for loss in losses))


def _finish(run: tg_core.Run, rows: list[dict[str, Any]], plan: _Plan) -> dict[str, Any]:
    target, goals, settings = plan.target, plan.goals, plan.settings
    artifacts.write_csv(run.path / "molecules.csv", rows)
    front = artifacts.pareto_front(rows)
    artifacts.write_csv(run.path / "pareto.csv", front)
    has_grid = artifacts.draw_grid(run.path / "molecules.png", rows)
    artifacts.plot_objectives(run.path / "objectives.png", rows, goals)
    top = artifacts.best(rows)
    summary = {
        "target": target,
        "settings": settings.as_dict(),
        "goals": {"vina": goals.vina, "qed": goals.qed, "sa": goals.sa},
        "evaluated": len(rows),
        "distinct_molecules": len({r["smiles"] for r in rows if r["smiles"]}),
        "invalid": sum(1 for r in rows if r["error"]),
        "best": top,
        "pareto_front": [{"smiles": r["smiles"], "vina": r["vina"], "qed": r["qed"]} for r in front],
        "goals_met_by": sorted({r["smiles"] for r in rows if r["goals_met"]}),
    }
    run.finish(summary, _report(rows, front, top, target, goals, has_grid))
    return summary


def _report(rows: list[dict[str, Any]], front: list[dict[str, Any]], top: dict[str, Any] | None,
            target: str, goals: Goals, has_grid: bool) -> str:
    lines = [f"# tg run molecule: {target}\n", f"Goals:\n{goals.describe(target)}\n"]
    if top:
        met = "meets every goal" if top["goals_met"] else "does not meet every goal"
        lines.append(f"**Best molecule:** `{top['smiles']}` (Vina {top['vina']:.2f} kcal/mol, "
                     f"QED {top['qed']:.3f}, SA {top['sa']:.2f}); it {met}.\n")
    else:
        lines.append("No molecule could be scored.\n")
    lines.append("## Pareto front (Vina against QED)\n\n| SMILES | Vina | QED | SA |\n|---|---|---|---|")
    lines.extend(f"| `{r['smiles']}` | {r['vina']:.2f} | {r['qed']:.3f} | {r['sa']:.2f} |" for r in front)
    lines.append("\n## Every molecule evaluated\n\n| iteration | molecule | SMILES | Vina | QED | error |\n"
                 "|---|---|---|---|---|---|")
    for r in rows:
        vina = f"{r['vina']:.2f}" if r["vina"] is not None else ""
        qed = f"{r['qed']:.3f}" if r["qed"] is not None else ""
        error = (r["error"] or "").replace("|", "/")
        lines.append(f"| {r['iteration']} | {r['trajectory']} | `{r['smiles'] or r['input_smiles']}` | "
                     f"{vina} | {qed} | {error} |")
    lines.append("\nFiles: molecules.csv, pareto.csv, objectives.png"
                 + (", molecules.png" if has_grid else "") + "\n")
    return "\n".join(lines)
