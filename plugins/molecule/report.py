"""What a molecule run leaves behind: every candidate (CSV), the best ones' poses, pictures, report.md.

Rows are plain dicts (JSON-able: the loop keeps them as each evaluation's
metrics in its checkpointed history, and ``loop_rows`` reads them back);
the same rows feed the CSV, the Pareto front over every goal, the grid
image, the plot of the objectives per step, the count of rejections per
reason and, for a run over several targets, the summary table across them.
The loop's own progress (score per step, counts, verdict) comes from
``tg_core.progress``; ``run_metrics`` adds what chemists quote about a
generative run: validity, uniqueness, novelty and internal diversity.
"""

from __future__ import annotations

import collections
import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .candidates import Candidate
from .goals import GoalSet, goals_table

if TYPE_CHECKING:
    from tg_core.loop import Optimization

    from .settings import DockingSettings

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


def _objectives(r: dict[str, Any]) -> tuple[float, ...]:
    """Every goal of a row, higher is better: the goals' margins, or -Vina and QED without them."""
    margins = r.get("margins")
    return tuple(margins) if margins else (-r["vina"], r["qed"])


def pareto_front(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Molecules no other molecule of their target set beats on every goal at once, best score first.

    The goals are those of the goal set (Vina on each target, selectivity,
    QED, SA, similarity, windows), compared by their margins beyond the
    thresholds, which order the molecules as the values do.
    """
    candidates = scored(rows)

    def dominated(r: dict[str, Any]) -> bool:
        own = _objectives(r)
        for o in candidates:
            other = _objectives(o)
            if o["targets"] == r["targets"] and len(other) == len(own) \
                    and all(a >= b for a, b in zip(other, own, strict=True)) and other != own:
                return True
        return False

    return sorted((r for r in candidates if not dominated(r)), key=lambda r: (-r["score_met"], -r["score_objective"]))


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


def loop_rows(goals: GoalSet, settings: DockingSettings, loop: Optimization) -> list[dict[str, Any]]:
    """Rows of every molecule a loop evaluated (the start, then each step's candidates) and of every
    proposal the filters refused before docking, from the loop's history."""
    rows = []
    for trajectory, track in enumerate(loop.tracks):
        for record in track.history:
            if record["step"] == 1 and record.get("metrics"):
                rows.append({**record["metrics"], "iteration": 0, "trajectory": trajectory, "accepted": True})
            for c in record.get("candidates", []):
                rows.append({**c["metrics"], "iteration": record["step"], "trajectory": trajectory,
                             "accepted": c["accepted"]})
            for r in record.get("rejections", []):
                if r["kind"] == "constraint" and r.get("value"):
                    rows.append(refused_row(goals, settings, record["step"], trajectory, r["value"], r["reason"]))
    return rows


def refused_row(goals: GoalSet, settings: DockingSettings, iteration: int, trajectory: int, smiles: str,
                reason: str) -> dict[str, Any]:
    """A proposal refused by a checked constraint: invalid (RDKit's reason) or filtered (the filters' kinds)."""
    from .chemistry import parse_molecule, properties
    from .errors import MoleculeError

    candidate = Candidate(input_smiles=smiles)
    try:
        parsed = parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds)
    except MoleculeError as exc:
        candidate.error = str(exc)
    else:
        values = properties(parsed.mol)
        candidate.smiles = parsed.smiles
        candidate.qed, candidate.sa = values.pop("qed"), values.pop("sa")
        candidate.properties = values
        kinds = goals.filters(settings.max_heavy_atoms, settings.max_rotatable_bonds).reasons(parsed.mol, values)
        candidate.rejected = reason
        candidate.rejection_kinds = [kind for kind, _ in kinds]
    return {**row(goals, iteration, trajectory, candidate), "score_met": None, "score_objective": None,
            "accepted": False}


def _answers(loop: Optimization) -> tuple[int, list[str]]:
    """How many answers the optimizer gave, and the SMILES of those that were molecules."""
    count, values = 0, []
    for track in loop.tracks:
        for record in track.history:
            for c in record.get("candidates", []):
                count += 1
                values.append(c["value"])
            for r in record.get("rejections", []):
                count += 1
                if r.get("value"):
                    values.append(r["value"])
    return count, values


def run_metrics(loops: Sequence[Optimization], starts: Sequence[str]) -> dict[str, Any]:
    """Validity, uniqueness, novelty and internal diversity of every answer of the optimizer (MOSES' terms).

    Validity: answers that are a molecule RDKit accepts (within the size caps),
    out of all answers; uniqueness: distinct molecules among the valid ones;
    novelty: distinct molecules that are not a starting molecule; internal
    diversity: 1 - mean Tanimoto similarity (Morgan, radius 2) over pairs of
    distinct molecules.
    """
    from .chemistry import parse_molecule, similarity
    from .errors import MoleculeError

    answers, values = 0, []
    for loop in loops:
        count, found = _answers(loop)
        answers += count
        values += found
    valid, mols = [], {}
    for value in values:
        try:
            parsed = parse_molecule(value)
        except (MoleculeError, TypeError):
            continue
        valid.append(parsed.smiles)
        mols.setdefault(parsed.smiles, parsed.mol)
    distinct = list(mols)
    pairs = [(a, b) for i, a in enumerate(distinct) for b in distinct[i + 1:]]
    diversity = (1 - sum(similarity(mols[a], mols[b]) for a, b in pairs) / len(pairs)) if pairs else None
    return {
        "answers": answers,
        "valid": len(valid),
        "validity": len(valid) / answers if answers else None,
        "uniqueness": len(distinct) / len(valid) if valid else None,
        "novelty": sum(s not in set(starts) for s in distinct) / len(distinct) if distinct else None,
        "internal_diversity": diversity,
    }


def set_names(target_sets: Sequence[GoalSet], loops: Sequence[Optimization]) -> list[tuple[str, GoalSet, Any]]:
    return [(label(g), g, loop) for g, loop in zip(target_sets, loops, strict=True)]


def progress_summary(target_sets: Sequence[GoalSet], loops: Sequence[Optimization]) -> dict[str, Any]:
    """``tg_core.progress.summary`` of every loop; tracks named by target set when there are several."""
    from tg_core import progress

    stopped, parameters = [], {}
    for name, _, loop in set_names(target_sets, loops):
        part = progress.summary(loop)
        stopped.append(part["stopped"] if len(loops) == 1 else f"{name}: {part['stopped']}")
        for track, data in part["parameters"].items():
            parameters[track if len(loops) == 1 else f"{name} {track}"] = data
    return {"stopped": "; ".join(stopped), "parameters": parameters}


def best_per_start(target_sets: Sequence[GoalSet], loops: Sequence[Optimization]) -> list[dict[str, Any]]:
    """The best molecule of every track: its start, the step it came from and its numbers."""
    out = []
    for name, _, loop in set_names(target_sets, loops):
        for trajectory, track in enumerate(loop.tracks):
            history = track.history
            start = history[0]["metrics"] if history else {}
            best_metrics = start
            for record in history:
                for c in record.get("candidates", []):
                    if c["value"] == track.best_value and c["metrics"]:
                        best_metrics = c["metrics"]
            out.append({"targets": name, "trajectory": trajectory, "start": history[0]["value"] if history else
                        track.best_value, "start_vina": start.get("vina"), "start_qed": start.get("qed"),
                        "best": track.best_value, "best_step": track.best_step,
                        "score": list(track.best_score) if track.best_score else None,
                        **{k: best_metrics.get(k) for k in ("vina", "qed", "sa", "similarity", "goals_met",
                                                             "goals_total")}})
    return out


def progress_sections(target_sets: Sequence[GoalSet], loops: Sequence[Optimization], plots: Sequence[str]) -> str:
    """Each loop's ``tg_core.progress.markdown`` with a link to its score plot."""
    from tg_core import progress

    parts = []
    for (name, _, loop), plot in zip(set_names(target_sets, loops), plots, strict=True):
        text = progress.markdown(loop)
        if len(loops) > 1:
            text = text.replace("## Progress", f"## Progress on {name}", 1)
        parts.append(f"{text}\nScore per step: [{plot}]({plot})\n")
    return "\n".join(parts)


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
             files: Sequence[str], progress_sections: str = "", metrics: dict[str, Any] | None = None,
             per_start: Sequence[dict[str, Any]] = ()) -> str:
    """report.md: goals, the best molecule of each target set with its goals table, the loop's progress,
    the best per start, run metrics, the table across target sets, the Pareto front, rejections per
    reason, every molecule, links to the files."""
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
    if progress_sections:
        lines.append(progress_sections)
    if per_start:
        lines.append("## Best molecule per start\n\n| targets | start | start Vina | start QED | best | step | Vina | "
                     "QED | SA | similarity | goals met |\n|---|---|---|---|---|---|---|---|---|---|---|")
        for p in per_start:
            lines.append(f"| {p['targets']} | `{p['start']}` | {_fmt(p['start_vina'])} | {_fmt(p['start_qed'], 3)} | "
                         f"`{p['best']}` | {p['best_step']} | {_fmt(p['vina'])} | {_fmt(p['qed'], 3)} | "
                         f"{_fmt(p['sa'])} | {_fmt(p['similarity'])} | {p['goals_met']}/{p['goals_total']} |")
        lines.append("")
    if metrics:
        lines.append("## Run metrics\n\nOver every answer of the optimizer: validity (a molecule RDKit accepts) "
                     f"{_fmt(metrics['validity'])} ({metrics['valid']} of {metrics['answers']}), uniqueness "
                     f"{_fmt(metrics['uniqueness'])}, novelty against the starts {_fmt(metrics['novelty'])}, "
                     f"internal diversity {_fmt(metrics['internal_diversity'])}.\n")
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
    lines.append("## Pareto front over every goal\n\nNo other molecule of the target set is at least as good on "
                 "every goal and better on one.\n\n| targets | SMILES | Vina | QED | SA | similarity | goals met |\n"
                 "|---|---|---|---|---|---|---|")
    lines.extend(f"| {r['targets']} | `{r['smiles']}` | {r['vina']:.2f} | {r['qed']:.3f} | {r['sa']:.2f} | "
                 f"{_fmt(r['similarity'])} | {r['goals_met']}/{r['goals_total']} |" for r in front)
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


def _fmt(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
