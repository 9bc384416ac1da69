"""The run report of ``tg run radiotherapy``: per-step records, tables and plots, report.md and the summary.

What the LLMs read about a plan is in ``plan_text.py``; the figures are drawn
by ``plots.py`` (a module of its own, as the one place that imports
matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plan_text import beams_text, goal_line, plan_report, protocol_text

if TYPE_CHECKING:
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


def step_record(step: int, weights: str, plan: Plan | None, error: str | None) -> dict[str, Any]:
    """What the event log, the checkpoints and report.md keep of one step (JSON-able)."""
    record: dict[str, Any] = {"step": step, "weights": weights}
    if plan is None:
        record["error"] = error
        return record
    m = plan.metrics
    record.update(
        goals_met=plan.goals_met,
        goals_total=len(plan.goals),
        all_goals_met=plan.all_goals_met,
        ptv_d98=m["PTV"]["D98"],
        ptv_dmax=m["PTV"]["Dmax"],
        ptv_mean=m["PTV"]["Dmean"],
        rectum_mean=m["rectum"]["Dmean"],
        rectum_v70=m["rectum"]["V70"],
        bladder_mean=m["bladder"]["Dmean"],
        missed=[f"{g.goal.structure} {g.goal.metric}" for g in plan.goals if not g.met],
    )
    return record


def write_step_artifacts(run_path: Path, step: int, plan: Plan) -> Path:
    """DVH plot, dose slices and metrics table of one step under ``steps/step-NN/``."""
    from .plots import dose_slices_plot, dvh_plot

    folder = run_path / "steps" / f"step-{step:02d}"
    dvh_plot(plan, folder / "dvh.png", title=f"step {step}: {plan.goals_met} of {len(plan.goals)} goals met")
    dose_slices_plot(plan, folder / "dose.png", title=f"step {step}: {plan.weights_text}")
    (folder / "metrics.md").write_text(metrics_markdown(plan, step), encoding="utf-8")
    return folder


def best_step(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The planned step with the most goals met (the lower rectum mean on a tie)."""
    planned = [h for h in history if "goals_met" in h]
    if not planned:
        return None
    return max(planned, key=lambda h: (h["goals_met"], -h["rectum_mean"]))


def _steps_table(history: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| step | weights | goals met | PTV D98 | PTV Dmax | rectum mean | rectum V70 | bladder mean | plots |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for h in history:
        if "goals_met" in h:
            folder = f"steps/step-{h['step']:02d}"
            lines.append(
                f"| {h['step']} | {h['weights']} | {h['goals_met']}/{h['goals_total']} | {h['ptv_d98']:.1f} | "
                f"{h['ptv_dmax']:.1f} | {h['rectum_mean']:.1f} | {h['rectum_v70']:.1f} | {h['bladder_mean']:.1f} | "
                f"[DVH]({folder}/dvh.png) [dose]({folder}/dose.png) [metrics]({folder}/metrics.md) |"
            )
        else:
            lines.append(f"| {h['step']} | {h['weights']} | error: {h['error']} | | | | | | |")
    return lines


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
    protocol: Protocol,
    history: list[dict[str, Any]],
    final_plan: Plan | None,
    final_error: str | None,
    angles: tuple[float, ...],
    start_plan: Plan | None = None,
    comparison_plot: Path | None = None,
) -> str:
    """report.md: protocol and beams, every step, the best step, start against final, the final plan, reviews."""
    lines = [
        "# tg run radiotherapy\n",
        f"Protocol: {protocol.name}, prescription {protocol.prescription_gy:g} Gy\n",
        f"Beams: {beams_text(angles)}\n",
        protocol_text(protocol) + "\n",
        "## Steps\n",
        *_steps_table(history),
    ]
    best = best_step(history)
    if best is not None:
        lines.append(f"\nBest plan: step {best['step']} ({best['goals_met']} of {best['goals_total']} goals met): {best['weights']}\n")
    if start_plan is not None and final_plan is not None:
        lines.append("## Starting plan against final plan\n")
        if comparison_plot is not None:
            lines.append(f"![DVH of the starting (dashed) and final (solid) plan]({comparison_plot.name})\n")
        lines.append(comparison_markdown(start_plan, final_plan))
    lines.append("## Final weights\n")
    if final_plan is not None:
        lines.append("```\n" + plan_report(final_plan) + "\n```\n")
    else:
        lines.append(f"The final weights could not be planned: {final_error}\n")
    for h in history:
        if h.get("evaluation"):
            lines.append(f"## Review at step {h['step']}\n\n{h['evaluation']}\n")
    return "\n".join(lines)


def run_summary(
    initial_weights: str,
    final_weights: str,
    protocol: Protocol,
    history: list[dict[str, Any]],
    final_plan: Plan | None,
    final_error: str | None,
    angles: tuple[float, ...],
) -> dict[str, Any]:
    """summary.json: the final and the best plan in numbers."""
    best = best_step(history)
    return {
        "beams": len(angles),
        "gantry_angles": list(angles),
        "initial_weights": initial_weights,
        "final_weights": final_weights,
        "steps": len(history),
        "all_goals_met": bool(final_plan is not None and final_plan.all_goals_met),
        "final_goals_met": final_plan.goals_met if final_plan is not None else None,
        "goals_total": len(protocol.goals),
        "final_metrics": final_plan.as_dict()["metrics"] if final_plan is not None else None,
        "final_error": final_error,
        "best_step": best["step"] if best else None,
        "best_weights": best["weights"] if best else None,
        "best_goals_met": best["goals_met"] if best else None,
    }
