"""``tg run radiotherapy``: tune the planning weights by textual gradient descent.

Each step plans the current weights (a SimulatorFunction: weights text ->
DVH table and goal report), asks the judge to review the plan against the
protocol, propagates its feedback back to the weights, and lets TGD rewrite
them, with momentum and clinician-style example plans in context. The run
stops when every goal is met or after ``--steps`` steps (the CLI's option,
10 by default as in the paper), and writes per step a DVH plot, a dose-slice
image with the structure outlines and a metrics table under
``steps/step-NN/`` (``report.py``).

Only light modules are imported at the top: the CLI imports this module to
build its parser on every ``tg`` command.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
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
    parser.add_argument(
        "--dicom", metavar="DIR",
        help="plan a patient: a folder with a CT series and an RTSTRUCT (instead of the phantom; --grid-mm is then "
             "the CT's); writes dose.dcm (RTDOSE) next to dvh.csv",
    )
    parser.add_argument(
        "--dicom-roles", metavar="FILE",
        help="TOML table mapping RTSTRUCT names to PTV, bladder, rectum, femoral heads and body "
             "(default: the built-in table, data/dicom_roles.toml)",
    )
    parser.add_argument(
        "--angles",
        help="gantry angles of the coplanar beams in degrees, comma-separated, 0 to <360 (default: seven equispaced, 0, 51.4, ...)",
    )


MAX_BEAMS = 36


def parse_angles(text: str) -> tuple[float, ...]:
    """Gantry angles from '0, 90, 180': finite, in [0, 360), distinct, 1 to ``MAX_BEAMS`` beams."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts:
        raise ValueError(f"--angles {text!r}: give at least one gantry angle in degrees, e.g. '0, 90, 180, 270'")
    angles = []
    for part in parts:
        try:
            angle = float(part)
        except ValueError:
            raise ValueError(f"--angles {text!r}: {part!r} is not a number of degrees") from None
        if not 0.0 <= angle < 360.0:  # also refuses nan and inf
            raise ValueError(f"--angles {text!r}: {part} is outside 0 to 360 degrees (360 is 0)")
        angles.append(angle)
    if len(angles) > MAX_BEAMS:
        raise ValueError(f"--angles {text!r}: {len(angles)} beams, more than {MAX_BEAMS}")
    seen = sorted(round(a, 1) for a in angles)
    repeated = sorted({a for a, b in zip(seen, seen[1:], strict=False) if a == b})
    if repeated:
        raise ValueError(f"--angles {text!r}: {', '.join(f'{a:g}' for a in repeated)} given twice")
    return tuple(angles)


def validate(args: argparse.Namespace) -> None:
    """Every option that can be checked before a run folder exists; the messages name the option."""
    from .goals import ProtocolError, load_protocol
    from .weights import WeightsError, parse_weights

    if not 1.0 <= args.grid_mm <= 10.0:
        raise ValueError(f"--grid-mm must be between 1 and 10 mm, got {args.grid_mm:g}")
    if args.momentum < 0:
        raise ValueError(f"--momentum must be >= 0, got {args.momentum}")
    if args.angles is not None:
        parse_angles(args.angles)
    try:
        parse_weights(args.weights)
    except WeightsError as exc:
        raise ValueError(f"--weights: {exc}") from None
    try:
        load_protocol(args.goals)
    except ProtocolError as exc:
        raise ValueError(f"--goals: {exc}") from None
    if args.dicom_roles is not None and args.dicom is None:
        raise ValueError("--dicom-roles needs --dicom DIR")
    if args.dicom is not None:
        read_case(args)


def read_case(args: argparse.Namespace) -> Any:
    """The --dicom case (ValueError naming the option), or None for the phantom."""
    if args.dicom is None:
        return None
    if importlib.util.find_spec("pydicom") is None:
        raise ValueError("--dicom needs pydicom, which is not installed: pip install pydicom")
    from .dicom_rt import DicomError, load_roles, read_dicom_case

    try:
        roles = load_roles(args.dicom_roles)
    except DicomError as exc:
        raise ValueError(f"--dicom-roles: {exc}") from None
    try:
        return read_dicom_case(args.dicom, roles)
    except DicomError as exc:
        raise ValueError(f"--dicom {args.dicom}: {exc}") from None


def run(args: argparse.Namespace, run: Run) -> dict[str, Any]:
    """The optimisation loop; ``validate`` has checked ``args``."""
    from .dose import BeamSettings
    from .functions import plan_simulator, protocol_loss
    from .goals import load_protocol
    from .plan_text import clinician_example
    from .planning import Plan, Planner
    from .report import (
        run_report,
        run_summary,
        step_record,
        write_comparison,
        write_final_outputs,
        write_step_artifacts,
    )
    from .weights import WeightsError, parse_weights

    protocol = load_protocol(args.goals)
    beams = None if args.angles is None else BeamSettings(gantry_angles=parse_angles(args.angles))
    planner = Planner(case=read_case(args), grid_mm=args.grid_mm, protocol=protocol, beams=beams)
    simulator = plan_simulator(planner=planner)
    judge = protocol_loss(engine=run.engine, protocol=protocol)
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
        record = step_record(step, weights.value, plan, error)
        if plan is not None:
            record["artifacts"] = str(write_step_artifacts(run.path, step, plan).relative_to(run.path))
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
    start_plan = planner.plan(parse_weights(args.weights))
    comparison = write_comparison(run.path, start_plan, final_plan) if final_plan is not None else None
    if final_plan is not None:
        write_final_outputs(run.path, final_plan, dicom=args.dicom is not None)
    angles = planner.beam_settings.gantry_angles
    summary = run_summary(args.weights, weights.value, protocol, history, final_plan, final_error, angles)
    run.finish(summary, run_report(protocol, history, final_plan, final_error, angles, start_plan, comparison))
    return summary
