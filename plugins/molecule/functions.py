"""The graph nodes of tg_molecule: the docking simulator and the LLM-judged loss (factories).

``molecule_simulator`` (contributed as ``molecule.docking``) turns a SMILES
variable into the report of a ``Candidate``: checks, filters, docking on
every target of the goal set, and the goals table computed by the program.
``molecule_loss`` (``molecule.goals``) is the judge that reads that report.
Both build with no argument (DRD2, the default goals).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tg_core import SimulatorFunction, TextLoss

from . import prompts
from .candidates import CandidateEvaluator
from .goals import GoalSet
from .settings import DockingSettings

if TYPE_CHECKING:
    from tg_core import Engine

# A molecule that passes the default filters (PAINS, Brenk) and docks in seconds.
EXAMPLE_SMILES = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"  # caffeine


def molecule_simulator(
    target: str = "DRD2",
    executor: cf.Executor | None = None,
    goals: GoalSet | None = None,
    reference: str | None = None,
    exempt: Sequence[str] = (),
    **settings: Any,
) -> SimulatorFunction:
    """A ``SimulatorFunction`` from a SMILES variable to its report (``.data`` is the ``Candidate``).

    ``goals`` (default: the default goals on ``target``) says what is docked
    and judged; ``reference`` is the molecule similarity is measured to;
    ``exempt`` SMILES are docked even when the filters would refuse them;
    ``settings`` are those of ``DockingSettings``. Goals and settings are
    checked here, so that a wrong one fails now rather than on each call.
    With an ``executor``, each evaluation runs in it (a process pool, a Dask
    cluster); the docking itself happens in that worker's docking process.
    """
    goals = goals if goals is not None else GoalSet(targets=(target,))
    chosen = DockingSettings(**settings)
    evaluator = CandidateEvaluator(goals, chosen, reference=reference, exempt=exempt)
    targets = ", ".join(goals.targets)
    anti = prompts.SIMULATOR_ANTI_TARGET.format(anti=goals.anti_target) if goals.anti_target else ""
    return SimulatorFunction(
        evaluator,
        purpose=prompts.SIMULATOR_PURPOSE.format(targets=targets, anti_target=anti),
        name=f"dock_{'_'.join(goals.docking_targets)}",
        output_role=prompts.REPORT_ROLE,
        executor=executor,
        examples=[(EXAMPLE_SMILES,)],
    )


def molecule_loss(engine: Engine | None = None, goals: GoalSet | None = None, target: str = "DRD2") -> TextLoss:
    """An LLM judge of a molecule report against ``goals`` (TextGrad's molecule objective)."""
    goals = goals if goals is not None else GoalSet(targets=(target,))
    instruction = prompts.LOSS_INSTRUCTION.format(targets=", ".join(goals.targets), goals=goals.describe())
    return TextLoss(instruction, engine=engine)


def smiles_constraint(settings: DockingSettings) -> str:
    """The optimizer constraint (text) that keeps proposals dockable."""
    from .chemistry import ALLOWED_ELEMENTS

    return prompts.SMILES_CONSTRAINT.format(
        elements=" ".join(ALLOWED_ELEMENTS),
        max_heavy_atoms=settings.max_heavy_atoms,
        max_rotatable_bonds=settings.max_rotatable_bonds,
    )
