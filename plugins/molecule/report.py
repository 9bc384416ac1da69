"""What a molecule run leaves behind: every candidate (CSV), the best ones' poses, pictures, report.md.

Rows are plain dicts (JSON-able, so they go into checkpoints as they are);
the same rows feed the CSV, the Pareto front of Vina against QED, the grid
image, the plot of the objectives per step, the count of rejections per
reason and, for a run over several targets, the summary table across them.
"""

from __future__ import annotations

import collections
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .candidates import Candidate
from .goals import GoalSet, goals_table

COLUMNS = (
    "targets", "iteration", "trajectory", "input_smiles", "smiles", "vina", "vina_by_target", "qed", "sa",
    "similarity", "mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "goals_met",
    "goals_total", "all_goals_met", "score_met", "score_objective", "cached", "rejection_kinds", "error",
)
PROPERTY_COLUMNS = ("mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms")
TARGET_COLUMNS = ("targets", "best_smiles", "vina", "qed", "sa", "goals_met", "goals_total", "evaluated",
                  "distinct_molecules", "invalid", "rejected")
GRID_MAX_MOLECULES = 48
POSES_PER_RUN = 5  # best molecules per target set whose poses are written


def label(goals: GoalSet) -> str:
    """The name of a target set in files and tables: DRD2, or DRD2+DRD3."""
    return "+".join(goals.targets)


def row(goals: GoalSet, iteration: int, trajectory: int, candidate: Candidate) -> dict[str, Any]:
    """One evaluated candidate: ``iteration`` k is the molecule after k optimizer steps."""
    primary = goals.targets[0]
    cached = [r.cached for r in candidate.results.values()]
    return {
        "targets": label(goals), "iteration": iteration, "trajectory": trajectory,
        "input_smiles": candidate.input_smiles, "smiles": candidate.smiles,
        "vina": candidate.vina(primary) if candidate.docked else None,
        "vina_by_target": "; ".join(f"{t} {r.vina:.2f}" for t, r in candidate.results.items() if r.vina is not None),
        "qed": candidate.qed, "sa": candidate.sa, "similarity": candidate.similarity,
        **{k: candidate.properties.get(k) for k in PROPERTY_COLUMNS},
        "goals_met": sum(g.met for g in candidate.goals), "goals_total": len(candidate.goals),
        "all_goals_met": candidate.goals_met, "score_met": candidate.score[0], "score_objective": candidate.score[1],
        "cached": bool(cached) and all(cached), "rejection_kinds": "; ".join(candidate.rejection_kinds),
        "error": candidate.error or candidate.rejected or _docking_error(candidate),
    }


def _docking_error(candidate: Candidate) -> str | None:
    failed = [f"{t}: {r.error}" for t, r in candidate.results.items() if r.error]
    return "; ".join(failed) or None


def scored(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Docked rows, each molecule once per target set (its first evaluation)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:
        key = (r["targets"], r["smiles"])
        if r["vina"] is not None and r["qed"] is not None and key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def pareto_front(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Molecules no other molecule beats on both lower Vina and higher QED, best Vina first."""
    candidates = scored(rows)
    front = [
        r for r in candidates
        if not any(o["vina"] <= r["vina"] and o["qed"] >= r["qed"]
                   and (o["vina"] < r["vina"] or o["qed"] > r["qed"]) for o in candidates)
    ]
    return sorted(front, key=lambda r: (r["vina"], -r["qed"]))


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Docked molecules from best to worst by score (goals met, then the weighted objective)."""
    return sorted(scored(rows), key=lambda r: (-r["score_met"], -r["score_objective"]))


def best(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    top = ranked(rows)
    return top[0] if top else None


def rejections(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many proposals each reason refused before docking, most frequent first."""
    counts = collections.Counter(kind for r in rows for kind in filter(None, (r["rejection_kinds"] or "").split("; ")))
    return dict(counts.most_common())


def target_summary(goals: GoalSet, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One line of the table across target sets."""
    own = [r for r in rows if r["targets"] == label(goals)]
    top = best(own)
    return {
        "targets": label(goals), "best_smiles": top["smiles"] if top else None,
        "vina": top["vina"] if top else None, "qed": top["qed"] if top else None, "sa": top["sa"] if top else None,
        "goals_met": top["goals_met"] if top else 0, "goals_total": top["goals_total"] if top else None,
        "evaluated": len(own), "distinct_molecules": len({r["smiles"] for r in own if r["smiles"]}),
        "invalid": sum(1 for r in own if r["error"] and not r["rejection_kinds"]),
        "rejected": sum(1 for r in own if r["rejection_kinds"]),
    }


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] = COLUMNS) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def write_poses(folder: Path, best_candidates: Sequence[tuple[str, Candidate, dict[str, Any]]]) -> dict[str, Any]:
    """``poses.sdf`` (one record per molecule and target, scores as SD properties) and
    ``poses/<set>-NN-<target>.pdbqt`` (NN: the record's number in the SDF)."""
    from .poses import write_pose_pdbqt, write_poses_sdf

    results, extra = [], []
    for set_label, candidate, row_ in best_candidates:
        for target, result in candidate.results.items():
            if result.pose is not None:
                results.append(result)
                extra.append({"target_set": set_label, "score_met": row_["score_met"],
                              "score_objective": row_["score_objective"], "goals_met": row_["goals_met"],
                              "goals_total": row_["goals_total"], "similarity": row_["similarity"],
                              "role": "anti-target" if target == candidate.anti_target else "target"})
    if not results:
        return {"sdf": None, "pdbqt": []}
    written = write_poses_sdf(folder / "poses.sdf", results, extra)
    pdbqt = write_pose_pdbqt(folder / "poses", results)
    return {"sdf": "poses.sdf", "records": written, "pdbqt": [str(p.relative_to(folder)) for p in pdbqt]}


def draw_grid(path: Path, rows: Sequence[dict[str, Any]]) -> bool:
    """A PNG of the docked molecules with their scores; False when there is nothing to draw."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    shown = scored(rows)[:GRID_MAX_MOLECULES]
    if not shown:
        return False
    mols = [Chem.MolFromSmiles(r["smiles"]) for r in shown]
    legends = [f"{r['targets']} it {r['iteration']}.{r['trajectory']}: Vina {r['vina']:.2f}, QED {r['qed']:.2f}"
               for r in shown]
    image = Draw.MolsToGridImage(mols, molsPerRow=min(4, len(mols)), subImgSize=(300, 260), legends=legends)
    image.save(str(path))
    return True


def plot_objectives(path: Path, rows: Sequence[dict[str, Any]], goals: GoalSet) -> None:
    """Vina score (first target) and QED per step, one line per target set and trajectory, goals dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4), tight_layout=True)
    FigureCanvasAgg(figure)
    vina_axes, qed_axes = figure.subplots(1, 2)
    for key in sorted({(r["targets"], r["trajectory"]) for r in rows}):
        own = sorted((r for r in rows if (r["targets"], r["trajectory"]) == key), key=lambda r: r["iteration"])
        steps = [r["iteration"] for r in own]
        name = f"{key[0]} molecule {key[1]}"
        vina_axes.plot(steps, [_nan(r["vina"]) for r in own], marker="o", label=name)
        qed_axes.plot(steps, [_nan(r["qed"]) for r in own], marker="o", label=name)
    if goals.vina is not None:
        vina_axes.axhline(goals.vina, linestyle="--", color="grey", label="goal")
    if goals.qed is not None:
        qed_axes.axhline(goals.qed, linestyle="--", color="grey", label="goal")
    vina_axes.set(xlabel="step", ylabel="Vina score (kcal/mol, lower is better)", title="Docking")
    qed_axes.set(xlabel="step", ylabel="QED (higher is better)", title="Drug-likeness", ylim=(0, 1))
    for axes in (vina_axes, qed_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize="small")
    figure.savefig(str(path), dpi=100)


def markdown(goals: GoalSet, rows: Sequence[dict[str, Any]], targets: Sequence[dict[str, Any]],
             best_candidates: Sequence[tuple[str, Candidate, dict[str, Any]]], poses: dict[str, Any],
             files: Sequence[str]) -> str:
    """report.md: goals, the best molecule of each target set with its goals table, the table across
    target sets, the Pareto front, rejections per reason, every molecule, links to the files."""
    lines = [f"# tg run molecule: {', '.join(t['targets'] for t in targets)}\n", f"Goals:\n{goals.describe()}\n"]
    firsts = {}
    for set_label, candidate, row_ in best_candidates:
        firsts.setdefault(set_label, (candidate, row_))
    for set_label, (candidate, row_) in firsts.items():
        met = "meets every goal" if candidate.goals_met else f"meets {row_['goals_met']} of {row_['goals_total']} goals"
        lines.append(f"**Best molecule on {set_label}:** `{candidate.smiles}` (Vina {row_['vina']:.2f} kcal/mol, "
                     f"QED {row_['qed']:.3f}, SA {row_['sa']:.2f}); it {met}.\n")
        lines.append(goals_table(candidate.goals) + "\n")
    if not firsts:
        lines.append("No molecule could be docked.\n")
    if len(targets) > 1:
        lines.append("## Across targets\n\n| targets | best SMILES | Vina | QED | goals met | evaluated | "
                     "rejected |\n|---|---|---|---|---|---|---|")
        for t in targets:
            vina = f"{t['vina']:.2f}" if t["vina"] is not None else ""
            qed = f"{t['qed']:.3f}" if t["qed"] is not None else ""
            met = f"{t['goals_met']}/{t['goals_total']}" if t["goals_total"] is not None else ""
            lines.append(f"| {t['targets']} | `{t['best_smiles'] or ''}` | {vina} | {qed} | {met} | "
                         f"{t['evaluated']} | {t['rejected']} |")
        lines.append("")
    if poses.get("sdf"):
        links = ", ".join(f"[{Path(p).name}]({p})" for p in poses["pdbqt"])
        lines.append(f"## Poses\n\nBest docked poses with their scores as SD properties: [poses.sdf](poses.sdf) "
                     f"({poses['records']} records); one PDBQT per record, numbered as in the SDF: {links}\n")
    counts = rejections(rows)
    if counts:
        lines.append("## Refused before docking, per reason\n\n| reason | proposals |\n|---|---|")
        lines.extend(f"| {kind} | {n} |" for kind, n in counts.items())
        lines.append("")
    front = pareto_front(rows)
    lines.append("## Pareto front (Vina on the first target against QED)\n\n| targets | SMILES | Vina | QED | SA |\n"
                 "|---|---|---|---|---|")
    lines.extend(f"| {r['targets']} | `{r['smiles']}` | {r['vina']:.2f} | {r['qed']:.3f} | {r['sa']:.2f} |"
                 for r in front)
    lines.append("\n## Every molecule evaluated\n\n| targets | step | molecule | SMILES | Vina | QED | goals met | "
                 "error |\n|---|---|---|---|---|---|---|---|")
    for r in rows:
        vina = f"{r['vina']:.2f}" if r["vina"] is not None else ""
        qed = f"{r['qed']:.3f}" if r["qed"] is not None else ""
        met = f"{r['goals_met']}/{r['goals_total']}" if r["goals_total"] else ""
        error = (r["error"] or "").replace("|", "/")
        lines.append(f"| {r['targets']} | {r['iteration']} | {r['trajectory']} | `{r['smiles'] or r['input_smiles']}` "
                     f"| {vina} | {qed} | {met} | {error} |")
    lines.append("\nFiles: " + ", ".join(f"[{f}]({f})" for f in files) + "\n")
    return "\n".join(lines)


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
