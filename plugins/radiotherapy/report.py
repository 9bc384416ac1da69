"""The run report of ``tg run radiotherapy``: per-step records, tables and plots, report.md and the summary.

What the LLMs read about a plan is in ``plan_text.py``; the figures are drawn
by ``plots.py`` (a module of its own, as the one place that imports
matplotlib).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plan_text import goal_line, plan_report, protocol_text

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


def run_report(
    protocol: Protocol,
    history: list[dict[str, Any]],
    final_plan: Plan | None,
    final_error: str | None,
) -> str:
    """report.md: the protocol, every step, the best step, the final plan and each review."""
    lines = [
        "# tg run radiotherapy\n",
        f"Protocol: {protocol.name}, prescription {protocol.prescription_gy:g} Gy\n",
        protocol_text(protocol) + "\n",
        "## Steps\n",
        *_steps_table(history),
    ]
    best = best_step(history)
    if best is not None:
        lines.append(f"\nBest plan: step {best['step']} ({best['goals_met']} of {best['goals_total']} goals met): {best['weights']}\n")
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
) -> dict[str, Any]:
    """summary.json: the final and the best plan in numbers."""
    best = best_step(history)
    return {
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
