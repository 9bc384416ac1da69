"""``tg run radiotherapy``: tune the planning weights by textual gradient descent.

Each step plans the current weights (a SimulatorFunction: weights text ->
DVH table and goal report), asks the judge to review the plan against the
protocol, propagates its feedback back to the weights, and lets TGD rewrite
them, with momentum and clinician-style example plans in context. The run
stops when every goal is met or after ``--steps`` steps, and writes per step
a DVH plot, a dose-slice image with the structure outlines and a metrics
table under ``steps/step-NN/``.

Only light modules are imported at the top: the CLI imports this module to
build its parser on every ``tg`` command.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from tg_core import TGD, OptimizerError, Run, Variable

from . import prompts

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS_TEXT = (
    "weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    "weight for femoral heads: 100, weight for body: 100"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS_TEXT, help="initial weights, in the paper's text format")
    parser.add_argument("--grid-mm", type=float, default=5.0, help="voxel size of the phantom in mm, 1 to 10 (default 5)")
    parser.add_argument("--goals", help="protocol file (TOML or JSON) with the clinical goals (default: built-in prostate protocol)")
    parser.add_argument("--momentum", type=int, default=3, help="past weights and feedback shown to the optimizer (default 3)")
    parser.add_argument("--no-examples", action="store_true", help="do not show clinician-style example plans to the optimizer")


def _check_arguments(args: argparse.Namespace) -> None:
    """Fail before any work on options that cannot work; the messages name the option."""
    from .weights import WeightsError, parse_weights

    if not 1.0 <= args.grid_mm <= 10.0:
        raise ValueError(f"--grid-mm must be between 1 and 10 mm, got {args.grid_mm:g}")
    if args.momentum < 0:
        raise ValueError(f"--momentum must be >= 0, got {args.momentum}")
    try:
        parse_weights(args.weights)
    except WeightsError as exc:
        raise ValueError(f"--weights: {exc}") from None


def _step_record(step: int, weights: str, plan: Any, error: str | None) -> dict[str, Any]:
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


def _write_step_artifacts(run_path: Path, step: int, plan: Any) -> Path:
    from .plots import dose_slices_plot, dvh_plot
    from .report import metrics_markdown

    folder = run_path / "steps" / f"step-{step:02d}"
    dvh_plot(plan, folder / "dvh.png", title=f"step {step}: {plan.goals_met} of {len(plan.goals)} goals met")
    dose_slices_plot(plan, folder / "dose.png", title=f"step {step}: {plan.weights_text}")
    (folder / "metrics.md").write_text(metrics_markdown(plan, step), encoding="utf-8")
    return folder


def _best(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    planned = [h for h in history if "goals_met" in h]
    if not planned:
        return None
    return max(planned, key=lambda h: (h["goals_met"], -h["rectum_mean"]))


def _report_markdown(args, protocol, history, final_plan, final_error, best) -> str:
    from .report import plan_report, protocol_text

    lines = [
        "# tg run radiotherapy\n",
        f"Protocol: {protocol.name}, prescription {protocol.prescription_gy:g} Gy\n",
        protocol_text(protocol) + "\n",
        "## Steps\n",
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


def run_radiotherapy(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    _check_arguments(args)
    from .functions import plan_simulator, protocol_loss
    from .goals import load_protocol
    from .planning import Plan, Planner
    from .report import clinician_example
    from .weights import WeightsError, parse_weights

    protocol = load_protocol(args.goals)
    planner = Planner(grid_mm=args.grid_mm, protocol=protocol)
    simulator = plan_simulator(planner)
    judge = protocol_loss(protocol, engine=run.engine)
    examples = [] if args.no_examples else [clinician_example(planner.plan(w)) for w in prompts.CLINICIAN_WEIGHTS]
    weights = Variable(args.weights, role_description=prompts.WEIGHTS_ROLE)
    optimizer = TGD(
        [weights], engine=run.engine, constraints=list(prompts.CONSTRAINTS), momentum=args.momentum, in_context_examples=examples
    )
    history: list[dict[str, Any]] = []
    last = run.latest_checkpoint()
    if last:
        weights.set_value(last["variables"]["weights"])
        history = last["state"]["history"]
        optimizer.load_state(last["state"]["optimizer"])
    for step in run.steps(args.steps):
        if history and history[-1].get("all_goals_met"):
            break
        report = simulator(weights)
        plan = report.data if isinstance(report.data, Plan) else None
        error = None if plan is not None else str(report.data.get("error") if isinstance(report.data, dict) else report.value)
        record = _step_record(step, weights.value, plan, error)
        if plan is not None:
            record["artifacts"] = str(_write_step_artifacts(run.path, step, plan).relative_to(run.path))
        run.log("plan", **record)
        if plan is not None and plan.all_goals_met:
            history.append(record)
            run.checkpoint(step, {"weights": weights.value}, {"history": history, "optimizer": optimizer.state()})
            break
        loss = judge(report)
        loss.backward(engine=run.engine)
        try:
            optimizer.step()
        except OptimizerError as exc:
            record["optimizer_error"] = str(exc)
            run.log("optimizer_error", step=step, error=str(exc))
        record["evaluation"] = loss.value
        record["new_weights"] = weights.value
        optimizer.zero_grad()
        history.append(record)
        run.checkpoint(step, {"weights": weights.value}, {"history": history, "optimizer": optimizer.state()})

    final_plan, final_error = None, None
    try:
        final_plan = planner.plan(parse_weights(weights.value))
    except WeightsError as exc:
        final_error = str(exc)
    best = _best(history)
    summary = {
        "initial_weights": args.weights,
        "final_weights": weights.value,
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
    run.finish(summary, _report_markdown(args, protocol, history, final_plan, final_error, best))
    return summary

