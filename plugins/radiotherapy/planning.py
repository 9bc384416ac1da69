"""Planning: from weights to a dose distribution, its DVH metrics and the goal verdicts.

``plan(weights, grid_mm=5)`` is the public entry point for scripts. A
``Planner`` keeps one case with its dose-influence matrix and the fluence
problem, and warm-starts each solve from the previous one, which is what an
optimisation loop over weights needs.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import dvh
from .dose import BeamSettings, dose_influence
from .fluence import FluenceProblem
from .goals import GoalResult, Protocol, load_protocol
from .phantom import STRUCTURES, Case, prostate_phantom
from .weights import as_weights, format_weights

DOSE_METRICS = ("Dmean", "Dmax", "D2", "D50", "D95", "D98")
VOLUME_METRICS = ("V30", "V50", "V60", "V65", "V70", "V75", "V80")


@dataclass(eq=False)
class Plan:
    """One optimised plan: the dose on the case's grid, its metrics and the goal verdicts.

    ``metrics[structure][metric]`` is in Gy for dose metrics (Dmean, Dmax,
    D<percent>) and in percent of the structure's volume for V<Gy> metrics;
    the PTV also has HI (ICRU 83) and CI (Paddick).
    """

    case: Case
    protocol: Protocol
    weights: dict[str, float]
    dose: np.ndarray
    fluence: np.ndarray
    metrics: dict[str, dict[str, float]]
    goals: list[GoalResult]
    objective: float
    scale: float
    solver: dict[str, float] = field(default_factory=dict)

    @property
    def weights_text(self) -> str:
        return format_weights(self.weights)

    @property
    def goals_met(self) -> int:
        return sum(g.met for g in self.goals)

    @property
    def all_goals_met(self) -> bool:
        return all(g.met for g in self.goals)

    def doses(self, structure: str) -> np.ndarray:
        """The voxel doses of one structure or evaluation region (Gy)."""
        return self.dose[self.case.region(structure)]

    def to_text(self) -> str:
        from .plan_text import plan_report

        return plan_report(self)

    def as_dict(self) -> dict[str, Any]:
        """Everything but the arrays, JSON-able (for logs and checkpoints)."""
        return {
            "weights": dict(self.weights),
            "metrics": {s: dict(m) for s, m in self.metrics.items()},
            "goals": [g.as_dict() for g in self.goals],
            "goals_met": self.goals_met,
            "goals_total": len(self.goals),
            "objective": self.objective,
            "scale": self.scale,
            "solver": dict(self.solver),
        }


def plan_metrics(case: Case, dose: np.ndarray, protocol: Protocol) -> dict[str, dict[str, float]]:
    """The standard DVH metrics of every structure, and every metric the protocol asks for
    (of structures and of evaluation regions)."""
    needed = protocol.metrics_by_structure()
    metrics: dict[str, dict[str, float]] = {}
    for structure in (*STRUCTURES, *(r for r in needed if r not in STRUCTURES)):
        doses = dose[case.region(structure)]
        names = list(DOSE_METRICS) + (list(VOLUME_METRICS) if structure in STRUCTURES[:-1] else ["V30"])
        names += [m for m in needed.get(structure, []) if m not in names]
        metrics[structure] = {name: dvh.metric(doses, name, case.voxel_cc) for name in names}
    ptv = dose[case.masks["PTV"]]
    metrics["PTV"]["HI"] = dvh.homogeneity_index(ptv)
    metrics["PTV"]["CI"] = dvh.paddick_conformity(ptv, dose[case.masks["body"]], protocol.prescription_gy)
    return metrics


class Planner:
    """A case ready to be planned for many weight settings.

    The dose-influence matrix and the Gram matrices are built on the first
    plan (and the matrix is cached on disk); later plans warm-start from the
    previous solution. The last ``REMEMBERED`` plans are kept by weights: the
    optimization loop plans a proposal, the line search along it visits the
    proposal again, and its best point is then planned as a candidate.
    """

    REMEMBERED = 16

    def __init__(
        self,
        case: Case | None = None,
        grid_mm: float = 5.0,
        beams: BeamSettings | None = None,
        protocol: Protocol | None = None,
        cache: bool = True,
    ) -> None:
        self.case = case
        self.grid_mm = grid_mm
        self.beams = beams
        self.protocol = protocol
        self.cache = cache
        self._problem: FluenceProblem | None = None
        self._last_optimum: np.ndarray | None = None
        self._lock = threading.Lock()
        self._plans: OrderedDict[tuple[tuple[str, float], ...], Plan] = OrderedDict()

    @property
    def beam_settings(self) -> BeamSettings:
        """The beams this planner plans with (the default seven when none were given)."""
        return self.beams or BeamSettings()

    def __getstate__(self) -> dict[str, Any]:
        """Settings and case only: a copy (in another process) rebuilds its matrix from the disk cache."""
        state = dict(self.__dict__)
        del state["_lock"]
        state["_problem"] = None
        state["_last_optimum"] = None
        state["_plans"] = OrderedDict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def prepare(self) -> FluenceProblem:
        """Build (once) the case, its dose-influence matrix and the fluence problem."""
        with self._lock:
            if self._problem is None:
                if self.case is None:
                    self.case = prostate_phantom(self.grid_mm)
                if self.protocol is None:
                    self.protocol = load_protocol()
                matrix = dose_influence(self.case, self.beams, cache=self.cache)
                self._problem = FluenceProblem(self.case, matrix, prescription=self.protocol.prescription_gy)
            return self._problem

    def plan(self, weights: str | Mapping[str, Any]) -> Plan:
        """Optimise the fluence for these weights (the same weights again: the plan already made);
        the weights are checked before any work."""
        checked = as_weights(weights)
        key = tuple(sorted(checked.items()))
        with self._lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
        made = self._solve(checked)
        with self._lock:
            self._plans[key] = made
            while len(self._plans) > self.REMEMBERED:
                self._plans.popitem(last=False)
        return made

    def _solve(self, checked: dict[str, float]) -> Plan:
        problem = self.prepare()
        started = time.perf_counter()
        result = problem.solve(checked, warm_start=self._last_optimum)
        self._last_optimum = result.optimum
        seconds = time.perf_counter() - started
        dose = (problem.matrix @ result.x).reshape(self.case.shape)
        metrics = plan_metrics(self.case, dose, self.protocol)
        return Plan(
            case=self.case,
            protocol=self.protocol,
            weights=checked,
            dose=dose,
            fluence=result.x,
            metrics=metrics,
            goals=self.protocol.evaluate(metrics),
            objective=result.objective,
            scale=result.scale,
            solver={"outer_iterations": result.outer_iterations, "pivots": result.pivots, "seconds": seconds},
        )


@functools.lru_cache(maxsize=4)
def phantom_planner(grid_mm: float) -> Planner:
    """One shared planner per phantom grid, so repeated ``plan`` calls warm-start."""
    return Planner(grid_mm=grid_mm)


def plan(
    weights: str | Mapping[str, Any],
    grid_mm: float = 5.0,
    case: Case | None = None,
    protocol: Protocol | None = None,
) -> Plan:
    """Plan the synthetic prostate case (or ``case``) for weights given as text or a dict.

    >>> p = plan("weight for PTV: 100, weight for bladder: 100, weight for rectum: 100, "
    ...          "weight for femoral heads: 100, weight for body: 100", grid_mm=8)  # doctest: +SKIP
    >>> p.metrics["PTV"]["D95"]  # doctest: +SKIP
    70.2
    """
    as_weights(weights)  # fail on bad weights before building anything
    if case is not None or protocol is not None:
        return Planner(case=case, grid_mm=grid_mm, protocol=protocol).plan(weights)
    return phantom_planner(float(grid_mm)).plan(weights)
