"""``tg run radiotherapy``: tune the planning weights with the shared optimization loop.

Each step starts from the best weights so far: the judge explains, from a
goals table the program computed, why goals are missed and how the weights
should change; that feedback flows back to the weights and the optimizer
proposes ``--candidates`` new weight sets (clinician-style example plans and
momentum in context). Every candidate is planned and scored by the program
(goals met, then how far the missed ones are missed, ``objective.py``), and
the best is kept only if it is at least as good as the best so far. Weights
that do not parse are re-asked with the parser's reason, never planned. The
run stops when every goal is met, after ``--patience`` steps with no new
weights, or after ``--steps`` steps; it writes per step the DVH plot, dose
slices and metrics table of the plan kept (``steps/step-NN/``), and the
loop's progress, the start against the final plan and the reviews in
report.md (``report.py``).

Only light modules are imported at the top: the CLI imports this module to
build its parser on every ``tg`` command.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from tg_core import TGD, Run, Variable
from tg_core.loop import add_loop_arguments, check_loop_arguments

from . import prompts

if TYPE_CHECKING:
    from tg_core.loop import Track

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS_TEXT = (
    "weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    "weight for femoral heads: 100, weight for body: 100"
)

DEFAULT_CANDIDATES = 4
"""Weight sets proposed and planned per step. A step's fixed cost is three long LLM calls (the
judge, then feedback to the report and to the weights); each candidate adds one optimizer answer
of about a hundred tokens whose prompt is the same as its siblings' (a prefix-cache hit) and one
plan solve of a second or two. Four samples per step give five steps twenty weight sets, where a
grid search found 8 of 81 meeting every goal, for about twice the calls of one candidate."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS_TEXT, help="initial weights, in the paper's text format")
    parser.add_argument("--grid-mm", type=float, default=5.0, help="voxel size of the phantom in mm, 1 to 10 (default 5)")
    parser.add_argument("--goals", help="protocol file (TOML or JSON) with the clinical goals (default: built-in prostate protocol)")
    parser.add_argument("--momentum", type=int, default=3, help="past weights and feedback shown to the optimizer (default 3)")
    parser.add_argument("--no-examples", action="store_true", help="do not show clinician-style example plans to the optimizer")
    parser.add_argument("--no-line-search", action="store_true",
                        help="plan only the model's proposals, without a line search along each one's direction")
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
    add_loop_arguments(parser, candidates=DEFAULT_CANDIDATES)


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
    check_loop_arguments(args)
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
    """The shared loop over the weights; ``validate`` has checked ``args``."""
    from tg_core import progress
    from tg_core.loop import Optimization

    from .dose import BeamSettings
    from .functions import plan_simulator, protocol_loss
    from .goals import load_protocol
    from .objective import canonical_weights, plan_objective, weights_constraints
    from .plan_text import clinician_example
    from .planning import Plan, Planner
    from .report import (
        run_report,
        run_summary,
        write_comparison,
        write_final_outputs,
        write_step_artifacts,
    )

    protocol = load_protocol(args.goals)
    beams = None if args.angles is None else BeamSettings(gantry_angles=parse_angles(args.angles))
    planner = Planner(case=read_case(args), grid_mm=args.grid_mm, protocol=protocol, beams=beams)
    # Candidates are planned concurrently on threads; the solves themselves take turns on the
    # planner's lock (they share its active-set state), while DVHs and metrics overlap.
    objective = plan_objective(plan_simulator(planner=planner), protocol_loss(engine=run.engine, protocol=protocol),
                               plan=None if args.no_line_search else planner.plan)
    examples = [] if args.no_examples else [clinician_example(planner.plan(w)) for w in prompts.CLINICIAN_WEIGHTS]
    weights = Variable(canonical_weights(args.weights), role_description=prompts.WEIGHTS_ROLE)
    tracks: list[Track] = []  # the loop's, once it exists: the constraints read the values it tried

    start = weights.value

    def planned() -> list[str]:
        return [start, *(tracks[0].tried if tracks else [])]

    optimizer = TGD([weights], engine=run.engine, constraints=weights_constraints(planned), momentum=args.momentum,
                    in_context_examples=examples, canonical=canonical_weights)

    def step_artifacts() -> dict[str, Any]:
        """The checkpoint's task state: the folder of this step's plots, drawn for the plan kept after it."""
        track = tracks[0]
        record = track.history[-1]
        if record.get("done") or track.best is None or not isinstance(track.best.report.data, Plan):
            return {}
        folder = write_step_artifacts(run.path, record["step"], track.best.report.data)
        return {"artifacts": str(folder.relative_to(run.path))}

    loop = Optimization({"weights": weights}, objective, optimizer, steps=args.steps, candidates=args.candidates,
                        patience=args.patience, run=run, extra_state=step_artifacts)
    tracks.extend(loop.tracks)
    loop.run_all()
    track = loop.tracks[0]
    kept = track.best if track.best is not None and track.best.value == track.best_value else None
    final_plan = kept.report.data if kept is not None else planner.plan(track.best_value)  # a finished run resumed
    start_plan = planner.plan(args.weights)
    comparison = write_comparison(run.path, start_plan, final_plan)
    write_final_outputs(run.path, final_plan, dicom=args.dicom is not None)
    score_plot = progress.score_plot_svg(loop, run.path / "score.svg")
    angles = planner.beam_settings.gantry_angles
    summary = run_summary(loop, args.weights, protocol, final_plan, angles)
    run.finish(summary, run_report(loop, run.path, protocol, final_plan, angles, start_plan, comparison, score_plot))
    return summary
