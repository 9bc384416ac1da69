"""Molecules made differentiable by text: the docking simulator, goals and the LLM-judged loss."""

from __future__ import annotations

import concurrent.futures as cf
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tg_core import SimulatorFunction, TextLoss

from . import prompts
from .receptors import check_target
from .result import MoleculeResult
from .settings import DockingSettings

if TYPE_CHECKING:
    from tg_core import Engine


@dataclass(frozen=True)
class Goals:
    """Targets for a molecule: Vina score at most ``vina``, QED at least ``qed``, SA at most ``sa``."""

    vina: float = -10.0
    qed: float = 0.6
    sa: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.qed <= 1:
            raise ValueError(f"the QED goal must be between 0 and 1, got {self.qed!r}")
        if self.sa is not None and not 1 <= self.sa <= 10:
            raise ValueError(f"the SA goal must be between 1 and 10, got {self.sa!r}")

    def met(self, result: MoleculeResult) -> bool:
        if not result.ok or result.qed is None:
            return False
        return (result.vina <= self.vina and result.qed >= self.qed
                and (self.sa is None or result.sa <= self.sa))

    def describe(self, target: str) -> str:
        lines = [prompts.GOAL_VINA.format(value=self.vina, target=target),
                 prompts.GOAL_QED.format(value=self.qed)]
        if self.sa is not None:
            lines.append(prompts.GOAL_SA.format(value=self.sa))
        return "\n".join(f"- {line}" for line in lines)


class MoleculeEvaluator:
    """SMILES -> ``MoleculeResult`` on a fixed target and settings: what the simulator runs.

    With an executor, docking goes through it (a process pool, a Dask cluster);
    without, through this process's own docking child.
    """

    def __init__(self, target: str, settings: DockingSettings, executor: cf.Executor | None = None) -> None:
        self.target = target
        self.settings = settings
        self.executor = executor

    def __call__(self, smiles: str) -> MoleculeResult:
        from .scoring import dock_many, evaluate

        options = self.settings.as_dict()
        if self.executor is None:
            return evaluate(smiles, self.target, **options)
        return dock_many([smiles], self.target, self.executor, **options)[0]


def molecule_simulator(
    target: str = "DRD2", executor: cf.Executor | None = None, **settings: Any
) -> SimulatorFunction:
    """A ``SimulatorFunction`` from a SMILES variable to its report (``.data`` is the result).

    ``settings`` are those of ``DockingSettings``; they and the target are
    checked here, so that a wrong setting fails now rather than on each call.
    """
    target = check_target(target)
    chosen = DockingSettings(**settings)
    return SimulatorFunction(
        MoleculeEvaluator(target, chosen, executor),
        purpose=prompts.SIMULATOR_PURPOSE.format(target=target),
        name=f"dock_{target}",
        output_role=prompts.REPORT_ROLE,
    )


def molecule_loss(goals: Goals | None = None, target: str = "DRD2", engine: Engine | None = None) -> TextLoss:
    """An LLM judge of a molecule report against ``goals`` (TextGrad's molecule objective)."""
    target = check_target(target)
    goals = goals or Goals()
    instruction = prompts.LOSS_INSTRUCTION.format(target=target, goals=goals.describe(target))
    return TextLoss(instruction, engine=engine)


def smiles_constraint(settings: DockingSettings) -> str:
    """The optimizer constraint that keeps proposals dockable."""
    from .chemistry import ALLOWED_ELEMENTS

    return prompts.SMILES_CONSTRAINT.format(
        elements=" ".join(ALLOWED_ELEMENTS),
        max_heavy_atoms=settings.max_heavy_atoms,
        max_rotatable_bonds=settings.max_rotatable_bonds,
    )
