"""Population search for molecules on the shared optimization loop (issues 11 and 16).

One loop per target set, one track per starting molecule. Each step starts
from the best molecule of a track so far: its report (filters, docking on
every target, the goals table the program computed) is judged, the
judgement flows back to the SMILES, and the optimizer proposes ``k``
candidates. Every candidate must be a valid SMILES that passes the filters
and the property windows (checked constraints: a failing answer is asked
again with RDKit's or the filter's reason and never docked); the admitted
ones are docked in parallel through the executor, and the best is kept
only if it ranks at least as high as the best so far by the goal set's
score (goals met, then the weighted objective). The optimizer is shown a
menu of RDKit-checked edits of the best molecule to choose from (see
``edits``), since the embedded model rarely writes a valid SMILES unaided.
An answer that hands back a molecule already tried is not asked again (the
embedded model, asked again, hands it back again): a seeded pick from the
same checked edits of the best molecule is docked in its place.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tg_core import Variable
from tg_core.loop import Evaluation, Objective, Optimization

from . import prompts
from .candidates import Candidate
from .edits import MENU_SIZE, EditMenuTGD, canonical_smiles, drawn_edit, edit_menu
from .functions import molecule_loss, molecule_simulator, smiles_constraint
from .goals import GoalSet
from .settings import DockingSettings

if TYPE_CHECKING:
    from tg_core import Engine, Run

SCORE_NAMES = ("goals met", "objective")


def candidate_of(report: Variable) -> Candidate:
    """The candidate behind a report; an exception the simulator caught becomes its error."""
    if isinstance(report.data, Candidate):
        return report.data
    return Candidate(input_smiles=report.predecessors[0].value, error=report.value)


def candidate_score(report: Variable, judgement: Variable | None = None) -> tuple[int, float] | None:
    """The goal set's ranking (goals met, weighted objective); ``None`` for a molecule not docked."""
    candidate = candidate_of(report)
    return candidate.score if candidate.docked else None


def every_goal_met(evaluation: Evaluation) -> bool:
    return candidate_of(evaluation.report).goals_met


def candidate_outcome(evaluation: Evaluation) -> str:
    """Each goal's value and whether it is met: what tells two molecules apart at a glance."""
    candidate = candidate_of(evaluation.report)
    goals = "; ".join(prompts.OUTCOME_GOAL.format(name=g.name, value=g.value_text(), status=g.status_text())
                      for g in candidate.goals)
    met = sum(g.met for g in candidate.goals)
    return prompts.OUTCOME.format(met=met, total=len(candidate.goals), goals=goals)


def molecule_objective(goals: GoalSet, settings: DockingSettings, start: str, starts: Sequence[str],
                       engine: Engine | None, executor: cf.Executor | None = None,
                       resample: Callable[[int, str, Sequence[str]], str | None] | None = None) -> Objective:
    """The docking simulator forward (similarity to ``start``), the goals judge, the goal set's score;
    ``resample`` draws a molecule where the optimizer handed back one already tried."""
    from . import report

    def metrics(report_variable: Variable) -> dict[str, Any]:
        candidate = candidate_of(report_variable)
        return {**report.row(goals, 0, 0, candidate), "margins": [g.margin for g in candidate.goals]}

    return Objective(
        forward=molecule_simulator(goals=goals, reference=start, exempt=starts, executor=executor,
                                   **settings.as_dict()),
        judge=molecule_loss(engine, goals),
        score=candidate_score,
        done=every_goal_met,
        metrics=metrics,
        score_names=SCORE_NAMES,
        describe=candidate_outcome,
        resample=resample,
    )


def track_name(index: int) -> str:
    return f"molecule {index + 1}"


def molecule_search(
    goals: GoalSet,
    settings: DockingSettings,
    starts: Sequence[str],
    engine: Engine | None,
    *,
    steps: int,
    candidates: int = 4,
    patience: int = 2,
    momentum: int = 3,
    edits: int = MENU_SIZE,
    examples: Sequence[str] = (),
    constraints: Sequence[str] = (),
    executor: cf.Executor | None = None,
    run: Run | None = None,
) -> Optimization:
    """The loop of one target set: a track per start, the filters as checked constraints.

    ``edits`` is the size of the menu of checked edits shown to the
    optimizer (0: none); ``examples`` are SMILES shown as in-context
    examples; ``constraints`` are extra text constraints.
    """
    role = prompts.SMILES_ROLE.format(targets=", ".join(goals.targets))
    parameters = {track_name(i): Variable(start, role_description=role) for i, start in enumerate(starts)}
    filters = goals.filters(settings.max_heavy_atoms, settings.max_rotatable_bonds)

    def menu(smiles: str, exclude: set[str]) -> list:
        return edit_menu(smiles, filters.check, size=edits, exclude=exclude,
                         max_heavy_atoms=settings.max_heavy_atoms, max_rotatable_bonds=settings.max_rotatable_bonds)

    def draw(seed: int, best: str, avoid: Sequence[str]) -> str | None:
        return drawn_edit(best, seed, filters.check, exclude={canonical_smiles(v) for v in avoid},
                          max_heavy_atoms=settings.max_heavy_atoms, max_rotatable_bonds=settings.max_rotatable_bonds)

    objectives = {track_name(i): molecule_objective(goals, settings, start, starts, engine, executor, draw)
                  for i, start in enumerate(starts)}

    optimizer = EditMenuTGD(list(parameters.values()), engine=engine, menu=menu if edits else None,
                            momentum=momentum, in_context_examples=list(examples),
                            constraints=[smiles_constraint(settings), filters.constraint(), *constraints])
    return Optimization(parameters, objectives, optimizer, steps=steps, candidates=candidates,
                        patience=patience, engine=engine, run=run)
