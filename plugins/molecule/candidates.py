"""Candidates against a goal set: checked, filtered, docked on every target, goals computed.

``evaluate_candidates`` is the one entry point for a list of proposals (from
one trajectory or a population): every SMILES is parsed and filtered here, in
milliseconds, and only the ones that pass go to docking, through the
executor, each distinct molecule once per target (``dock_many`` also reads
and fills the cache). An invalid or refused proposal therefore costs no
docking; its reason is the text the optimizer reads.

Starting molecules are exempt from the filters (they are given, not
proposed): they are docked, and their alerts are listed as notes.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from . import prompts
from .errors import MoleculeError
from .goals import GoalSet, GoalStatus, goals_table
from .result import MoleculeResult
from .settings import DockingSettings

NOT_RANKED = (-1, 0.0)  # the score of a candidate that could not be evaluated or was refused


@dataclass
class Candidate:
    """One proposed molecule under a goal set. ``score`` ranks candidates (higher is better)."""

    input_smiles: str
    smiles: str | None = None
    error: str | None = None
    rejected: str | None = None
    rejection_kinds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    qed: float | None = None
    sa: float | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    similarity: float | None = None
    results: dict[str, MoleculeResult] = field(default_factory=dict)
    goals: list[GoalStatus] = field(default_factory=list)
    score: tuple[int, float] = NOT_RANKED
    anti_target: str | None = None

    @property
    def docked(self) -> bool:
        """Checked, admitted, and docked on every target with a score."""
        return self.error is None and self.rejected is None and bool(self.results) \
            and all(r.ok for r in self.results.values())

    @property
    def goals_met(self) -> bool:
        return self.docked and all(g.met for g in self.goals)

    def vina(self, target: str) -> float | None:
        result = self.results.get(target)
        return result.vina if result else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["goals"] = [g.as_dict() for g in self.goals]
        data["score"] = list(self.score)
        return data

    def to_text(self) -> str:
        """The report the judge reads: the numbers, then the goals table the program computed."""
        lines = [prompts.CANDIDATE_MOLECULE.format(smiles=self.smiles or self.input_smiles)]
        if self.error:
            lines.append(prompts.CANDIDATE_ERROR.format(error=self.error))
            return "\n".join(lines)
        if self.rejected:
            lines.append(prompts.CANDIDATE_REJECTED.format(reason=self.rejected))
        for target, result in self.results.items():
            role = prompts.ANTI_TARGET_ROLE if target == self.anti_target else ""
            if result.vina is not None:
                lines.append(prompts.CANDIDATE_VINA.format(target=target, role=role, vina=result.vina))
            else:
                lines.append(prompts.CANDIDATE_DOCKING_FAILED.format(target=target, role=role, error=result.error))
        lines.append(prompts.CANDIDATE_DRUG_LIKENESS.format(qed=self.qed, sa=self.sa))
        lines.append(prompts.CANDIDATE_PROPERTIES.format(**self.properties))
        if self.similarity is not None:
            lines.append(prompts.CANDIDATE_SIMILARITY.format(similarity=self.similarity))
        lines.extend(prompts.CANDIDATE_NOTE.format(note=note) for note in self.notes)
        if self.goals and not self.rejected:
            lines.append(goals_table(self.goals))
        return "\n".join(lines)


def evaluate_candidates(
    smiles_list: Iterable[str],
    goals: GoalSet | None = None,
    settings: DockingSettings | None = None,
    executor: cf.Executor | None = None,
    *,
    reference: str | None = None,
    exempt: Sequence[str] = (),
) -> list[Candidate]:
    """Evaluate proposals in input order; only those passing the checks and filters are docked.

    ``reference`` is the starting molecule similarity is measured to;
    ``exempt`` lists SMILES docked even when the filters would refuse them
    (the starting molecules). Without an executor, docking runs in this
    process's own docking children, one molecule at a time.
    """
    from .chemistry import parse_molecule, properties, similarity

    goals = goals or GoalSet()
    settings = settings or DockingSettings()
    filters = goals.filters(settings.max_heavy_atoms, settings.max_rotatable_bonds)
    reference_mol = _reference(reference, settings)
    exempt_smiles = {_canonical(s, settings) for s in exempt} - {None}
    candidates = []
    for smiles in smiles_list:
        candidate = Candidate(input_smiles=smiles, anti_target=goals.anti_target)
        candidates.append(candidate)
        try:
            parsed = parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds)
        except MoleculeError as exc:
            candidate.error = str(exc)
            continue
        values = properties(parsed.mol)
        candidate.smiles, candidate.notes = parsed.smiles, list(parsed.notes)
        candidate.qed, candidate.sa = values.pop("qed"), values.pop("sa")
        candidate.properties = values
        if reference_mol is not None:
            candidate.similarity = similarity(parsed.mol, reference_mol)
        reasons = filters.reasons(parsed.mol, values)
        if reasons and parsed.smiles in exempt_smiles:
            candidate.notes.append(prompts.EXEMPT_NOTE.format(reasons="; ".join(m for _, m in reasons)))
        elif reasons:
            from .filters import refusal

            candidate.rejected = refusal(parsed.smiles, reasons)
            candidate.rejection_kinds = [kind for kind, _ in reasons]
    admitted = [c for c in candidates if c.smiles is not None and c.rejected is None and c.error is None]
    for target in goals.docking_targets:
        for candidate, result in zip(admitted, _dock([c.smiles for c in admitted], target, settings, executor),
                                     strict=True):
            candidate.results[target] = result
    for candidate in admitted:
        vina = {t: r.vina for t, r in candidate.results.items()}
        candidate.goals = goals.statuses(vina, {**candidate.properties, "qed": candidate.qed, "sa": candidate.sa},
                                         candidate.similarity)
        candidate.score = goals.score(candidate.goals)
    return candidates


def _dock(smiles: list[str], target: str, settings: DockingSettings,
          executor: cf.Executor | None) -> list[MoleculeResult]:
    from .scoring import dock_many, evaluate

    if not smiles:
        return []
    options = settings.as_dict()
    if executor is None:
        return [evaluate(s, target, **options) for s in smiles]
    return dock_many(smiles, target, executor, **options)


def _canonical(smiles: str, settings: DockingSettings) -> str | None:
    from .chemistry import parse_molecule

    try:
        return parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds).smiles
    except MoleculeError:
        return None


def _reference(smiles: str | None, settings: DockingSettings) -> Any:
    from .chemistry import parse_molecule

    if smiles is None:
        return None
    try:
        return parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds).mol
    except MoleculeError as exc:
        raise ValueError(f"the reference molecule {smiles!r} is invalid: {exc}") from None


class CandidateEvaluator:
    """SMILES -> ``Candidate`` under fixed goals and settings: what the docking simulator runs.

    With an executor, docking goes through it (a process pool, a Dask cluster);
    without, through this process's own docking children.
    """

    def __init__(self, goals: GoalSet, settings: DockingSettings, executor: cf.Executor | None = None,
                 reference: str | None = None, exempt: Sequence[str] = ()) -> None:
        self.goals = goals
        self.settings = settings
        self.executor = executor
        self.reference = reference
        self.exempt = tuple(exempt)

    def __getstate__(self) -> dict[str, Any]:
        """A copy sent to a worker leaves the executor (not picklable) behind."""
        return {**self.__dict__, "executor": None}

    def __call__(self, smiles: str) -> Candidate:
        return evaluate_candidates([smiles], self.goals, self.settings, self.executor,
                                   reference=self.reference, exempt=self.exempt)[0]
