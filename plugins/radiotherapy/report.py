"""The run report of ``tg run radiotherapy``: per-step records, tables and plots, report.md and the summary.

What the LLMs read about a plan is in ``plan_text.py``; the figures are drawn
by ``plots.py`` (a module of its own, as the one place that imports
matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tg_core import progress

from .plan_text import beams_text, goal_line, plan_report, protocol_text

if TYPE_CHECKING:
    from tg_core.loop import Optimization

    from .goals import Protocol
    from .planning import Plan

STEP_COLUMNS = ("Dmean", "D2", "D50", "D95", "D98", "Dmax", "V50", "V60", "V65", "V70", "V75", "V80")


def metrics_markdown(plan: Plan, step: int) -> str:
    """The per-step metrics table written next to the plots."""
    lines = [
        f"# Step {step}\n",
        f"Weights: {plan.weights_text}\n",
        f"Objective {plan.objective:.6g}; scale to D95 {plan.scale:.4f}; "
        f"solver {plan.solver.get('outer_iterations', 0)} outer iterations, "
        f"{plan.solver.get('seconds', 0.0):.2f} s\n",
        "| structure | " + " | ".join(STEP_COLUMNS) + " |",
        "|---|" + "---:|" * len(STEP_COLUMNS),
    ]
    for structure, values in plan.metrics.items():
        cells = " | ".join(f"{values[c]:.1f}" if c in values else "-" for c in STEP_COLUMNS)
        lines.append(f"| {structure} | {cells} |")
    lines.append(f"\nPTV HI {plan.metrics['PTV']['HI']:.3f}, Paddick CI {plan.metrics['PTV']['CI']:.3f}\n")
    lines.append(f"## Goals: {plan.goals_met} of {len(plan.goals)} met\n")
    lines += [goal_line(g, plan.protocol.prescription_gy) for g in plan.goals]
    return "\n".join(lines) + "\n"


def plan_numbers(plan: Plan) -> dict[str, Any]:
    """The numbers the loop records for every planned candidate (JSON-able), and the tables show."""
    m = plan.metrics
    return {
        "goals_met": plan.goals_met,
        "goals_total": len(plan.goals),
        "shortfall": sum(g.shortfall for g in plan.goals),
        "ptv_d98": m["PTV"]["D98"],
        "ptv_dmax": m["PTV"]["Dmax"],
        "ptv_mean": m["PTV"]["Dmean"],
        "rectum_mean": m["rectum"]["Dmean"],
        "rectum_v70": m["rectum"]["V70"],
        "bladder_mean": m["bladder"]["Dmean"],
        "missed": [f"{g.goal.structure} {g.goal.metric}" for g in plan.goals if not g.met],
    }


def write_step_artifacts(run_path: Path, step: int, plan: Plan) -> Path:
    """DVH plot, dose slices and metrics table of one step under ``steps/step-NN/``."""
    from .plots import dose_slices_plot, dvh_plot

    folder = run_path / "steps" / f"step-{step:02d}"
    dvh_plot(plan, folder / "dvh.png", title=f"step {step}: {plan.goals_met} of {len(plan.goals)} goals met")
    dose_slices_plot(plan, folder / "dose.png", title=f"step {step}: {plan.weights_text}")
    (folder / "metrics.md").write_text(metrics_markdown(plan, step), encoding="utf-8")
    return folder


def kept_after(record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The weights kept after one step of the loop, and their recorded numbers."""
    for candidate in record.get("candidates", []):
        if candidate["accepted"]:
            return candidate["value"], candidate["metrics"]
    return record["value"], record["metrics"]


def steps_table(run_path: Path, history: list[dict[str, Any]]) -> list[str]:
    """One row per step: the plan kept after it, its key numbers and its plots."""
    lines = [
        "| step | kept weights | goals met | PTV D98 | PTV Dmax | rectum mean | rectum V70 | bladder mean | plots |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    if history:
        lines.append(_steps_row("start", history[0]["value"], history[0]["metrics"], ""))
    for record in history:
        if record.get("done"):
            continue
        weights, numbers = kept_after(record)
        folder = f"steps/step-{record['step']:02d}"
        plots = (f"[DVH]({folder}/dvh.png) [dose]({folder}/dose.png) [metrics]({folder}/metrics.md)"
                 if (run_path / folder).is_dir() else "")
        lines.append(_steps_row(str(record["step"]), weights, numbers, plots))
    return lines


def _steps_row(step: str, weights: str, n: dict[str, Any], plots: str) -> str:
    return (
        f"| {step} | {weights} | {n['goals_met']}/{n['goals_total']} | {n['ptv_d98']:.1f} | {n['ptv_dmax']:.1f} | "
        f"{n['rectum_mean']:.1f} | {n['rectum_v70']:.1f} | {n['bladder_mean']:.1f} | {plots} |"
    )


def _change(start: float, final: float) -> str:
    return f"{final - start:+.1f}"


def comparison_markdown(start: Plan, final: Plan) -> str:
    """The starting and the final plan side by side: every structure's mean dose and every goal."""
    lines = [
        f"Starting weights: {start.weights_text}  \nFinal weights: {final.weights_text}\n",
        f"Goals met: {start.goals_met} -> {final.goals_met} of {len(final.goals)}\n",
        "| structure | metric | start | final | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for structure in final.metrics:
        a, b = start.metrics[structure]["Dmean"], final.metrics[structure]["Dmean"]
        lines.append(f"| {structure} | Dmean (Gy) | {a:.1f} | {b:.1f} | {_change(a, b)} |")
    lines += ["", "| goal | start | final | difference | verdict |", "|---|---:|---:|---:|---|"]
    rx = final.protocol.prescription_gy
    for before, after in zip(start.goals, final.goals, strict=True):
        unit = "%" if after.unit == "%" else " Gy"
        verdict = f"{'met' if before.met else 'MISSED'} -> {'met' if after.met else 'MISSED'}"
        lines.append(
            f"| {after.goal.describe(rx)} | {before.value:.1f}{unit} | {after.value:.1f}{unit} | "
            f"{_change(before.value, after.value)} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def write_comparison(run_path: Path, start: Plan, final: Plan) -> Path:
    """comparison.png: the DVHs of the starting plan (dashed) and of the final plan (solid)."""
    from .plots import dvh_comparison_plot

    return dvh_comparison_plot(start, final, run_path / "comparison.png")


def write_final_outputs(run_path: Path, plan: Plan, dicom: bool) -> list[Path]:
    """dvh.csv of the final plan, and its dose as RTDOSE (dose.dcm) when the case came from DICOM."""
    from .dicom_rt import write_dvh_csv

    written = [write_dvh_csv(plan, run_path / "dvh.csv")]
    if dicom:
        from .dicom_rt import write_rtdose

        written.append(write_rtdose(plan, run_path / "dose.dcm"))
    return written


def run_report(
    loop: Optimization,
    run_path: Path,
    protocol: Protocol,
    final_plan: Plan,
    angles: tuple[float, ...],
    start_plan: Plan,
    comparison_plot: Path,
    score_plot: Path,
) -> str:
    """report.md: protocol and beams, the loop's progress, the plan kept per step, start against final, reviews."""
    history = loop.tracks[0].history
    lines = [
        "# tg run radiotherapy\n",
        f"Protocol: {protocol.name}, prescription {protocol.prescription_gy:g} Gy\n",
        f"Beams: {beams_text(angles)}\n",
        protocol_text(protocol) + "\n",
        progress.markdown(loop),
        f"Score plot: [{score_plot.name}]({score_plot.name})\n",
        "## Plan kept after each step\n",
        *steps_table(run_path, history),
        "",
        "## Starting plan against final plan\n",
        f"![DVH of the starting (dashed) and final (solid) plan]({comparison_plot.name})\n",
        comparison_markdown(start_plan, final_plan),
        "## Final plan\n",
        "```\n" + plan_report(final_plan) + "\n```\n",
    ]
    for record in history:
        if record.get("judgement"):
            lines.append(f"## Review at step {record['step']}\n\nOf: {record['value']}\n\n{record['judgement']}\n")
    return "\n".join(lines)


def run_summary(
    loop: Optimization,
    initial_weights: str,
    protocol: Protocol,
    final_plan: Plan,
    angles: tuple[float, ...],
) -> dict[str, Any]:
    """summary.json: the loop's progress (scores per step, counts, stop reason) and the final plan in numbers."""
    track = loop.tracks[0]
    result = progress.summary(loop)
    return {
        **result["parameters"][track.name],
        "stopped": result["stopped"],
        "beams": len(angles),
        "gantry_angles": list(angles),
        "initial_weights": initial_weights,
        "final_weights": track.best_value,
        "steps": len(track.history),
        "all_goals_met": final_plan.all_goals_met,
        "final_goals_met": final_plan.goals_met,
        "goals_total": len(protocol.goals),
        "final_metrics": final_plan.as_dict()["metrics"],
        "table": f"weights: {progress.verdict(track)}\nfinal: {track.best_value} "
                 f"({final_plan.goals_met} of {len(protocol.goals)} goals met)",
    }
