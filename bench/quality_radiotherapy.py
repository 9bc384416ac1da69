"""Quality benchmark, radiotherapy domain: planning weights of the prostate phantom, as the paper's table.

Every arm starts from the default weights (all 100) and tunes them for
``--steps`` steps against tg_radiotherapy's planner and protocol. The bench
plans every step's weights of every arm itself and reports the goals met per
step, and for the final plan the paper's numbers: PTV mean offset from
70.2 Gy, PTV D95/D98/D2, bladder and rectum mean and D50.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from quality_common import Context, Domain, read_checkpoints

PRESCRIPTION_GY = 70.2
PLAN_PURPOSE = "plans the treatment for these weights and reports its dose-volume results and clinical goals"


class RadiotherapyDomain(Domain):
    name = "radiotherapy"
    task = "radiotherapy"
    metric = "goals met (PTV mean offset Gy, rectum mean Gy)"
    default_steps = 5
    reconstructed = (
        "textgrad: never released its radiotherapy code; the program is the paper's description written with "
        "textgrad primitives: weights Variable -> the bench's planner report as a StringBasedFunction -> "
        "TextLoss with tg_radiotherapy's protocol review prompt (itself a reconstruction of the paper's judge) "
        "-> backward -> TGD with the same format constraints and clinician example plans; no momentum, because "
        "textgrad 0.1.8's momentum optimizer cannot run."
    )

    def __init__(self) -> None:
        self._planners: dict[float, Any] = {}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("radiotherapy domain")
        group.add_argument("--rt-grid-mm", type=float, default=5.0, help="phantom voxel size in mm (default 5)")

    def check(self, options: argparse.Namespace) -> None:
        if not 1.0 <= options.rt_grid_mm <= 10.0:
            raise ValueError(f"--rt-grid-mm must be between 1 and 10, got {options.rt_grid_mm:g}")

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {"grid_mm": options.rt_grid_mm, "protocol": "tg_radiotherapy's built-in prostate protocol"}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        from tg_radiotherapy.task import DEFAULT_WEIGHTS_TEXT

        return [{"id": "prostate-phantom", "weights": DEFAULT_WEIGHTS_TEXT, "grid_mm": options.rt_grid_mm}]

    def planner(self, case: dict[str, Any]) -> Any:
        from tg_radiotherapy.planning import Planner

        if case["grid_mm"] not in self._planners:
            self._planners[case["grid_mm"]] = Planner(grid_mm=case["grid_mm"])
        return self._planners[case["grid_mm"]]

    def plan(self, case: dict[str, Any], weights: str) -> Any:
        """The plan of ``weights``, or the error text when they cannot be read."""
        from tg_radiotherapy.weights import WeightsError

        try:
            return self.planner(case).plan(weights)
        except WeightsError as exc:
            return f"ERROR: {exc}"

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        return {"value": case["weights"]}

    # -------------------------------------------------------------- arms

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        return ["--weights", start["value"], "--grid-mm", f"{case['grid_mm']:g}", "--steps", str(ctx.steps)]

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        summary = json.loads((run_dir / "summary.json").read_text())
        return {"value": summary["final_weights"], "trajectory": [case["weights"], *read_checkpoints(run_dir, "weights")]}

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        from tg_radiotherapy import prompts
        from tg_radiotherapy.plan_text import clinician_example, protocol_text

        planner = self.planner(case)
        planner.prepare()
        protocol = planner.protocol
        loss = prompts.LOSS_SYSTEM.format(protocol=protocol.name, prescription=protocol.prescription_gy,
                                          goals=protocol_text(protocol))
        return {"program": "radiotherapy", "start": start["value"], "role": prompts.WEIGHTS_ROLE, "loss": loss,
                "constraints": list(prompts.CONSTRAINTS), "plan_purpose": PLAN_PURPOSE,
                "examples": [clinician_example(planner.plan(w)) for w in prompts.CLINICIAN_WEIGHTS]}

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        from tg_radiotherapy import prompts

        return {"candidate": {"weights": start["value"]}, "component": "weights", "train": [case["id"]],
                "objective": f"The {prompts.WEIGHTS_ROLE}, such that the plan meets every clinical goal.",
                "background": prompts.SIMULATOR_PURPOSE, "perfect_score": 1.0}

    # -------------------------------------------------------------- evaluation

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        if name == "plan":
            plan = self.plan(case, payload["value"])
            return {"report": plan if isinstance(plan, str) else plan.to_text()}
        if name == "gepa":
            weights = payload["candidate"]["weights"]
            plan = self.plan(case, weights)
            if isinstance(plan, str):
                return {"scores": [0.0], "outputs": [weights], "inputs": ["prostate IMRT plan"], "feedback": [plan]}
            return {"scores": [plan.goals_met / len(plan.goals)], "outputs": [weights],
                    "inputs": ["prostate IMRT plan"], "feedback": [plan.to_text()]}
        raise KeyError(f"radiotherapy domain: no evaluator {name!r}")

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        per_step = []
        for weights in outcome.get("trajectory") or [outcome["value"]]:
            plan = self.plan(case, weights)
            per_step.append(None if isinstance(plan, str) else plan.goals_met)
        final = self.plan(case, outcome["value"])
        if isinstance(final, str):
            return {"goals_met_per_step": per_step, "final_error": final, "goals_met": 0}
        m = final.metrics
        return {
            "goals_met_per_step": per_step, "goals_met": final.goals_met, "goals_total": len(final.goals),
            "ptv_mean_offset": m["PTV"]["Dmean"] - PRESCRIPTION_GY, "ptv_d95": m["PTV"]["D95"],
            "ptv_d98": m["PTV"]["D98"], "ptv_d2": m["PTV"]["D2"],
            "bladder_mean": m["bladder"]["Dmean"], "bladder_d50": m["bladder"]["D50"],
            "rectum_mean": m["rectum"]["Dmean"], "rectum_d50": m["rectum"]["D50"],
        }

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        (only,) = measured
        return {k: v for k, v in only.items() if k != "goals_met_per_step"}

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        if "rectum_mean" not in summary:
            return (summary["goals_met"], float("-inf"))
        return (summary["goals_met"], -abs(summary["ptv_mean_offset"]))

    def cell(self, summary: dict[str, Any]) -> str:
        if "rectum_mean" not in summary:
            return f"{summary['goals_met']:.1f} (final weights unplannable)"
        return (f"{summary['goals_met']:.1f}/{summary['goals_total']:.0f} "
                f"(PTV {summary['ptv_mean_offset']:+.2f} Gy, rectum {summary['rectum_mean']:.1f} Gy)")


DOMAIN = RadiotherapyDomain()
