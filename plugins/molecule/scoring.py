"""Evaluate molecules: 2D checks and properties here, docking in a child process, cache on disk.

The cheap work (parsing, caps, QED, SA, cache look-ups) happens in the
calling process so that a batch sends only real docking work to its
executor, and each distinct molecule only once.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import os
from collections.abc import Iterable
from typing import Any

from . import cache
from .errors import DockingError, MoleculeError
from .executors import make_executor
from .receptors import check_target
from .result import MoleculeResult
from .settings import DockingSettings

log = logging.getLogger(__name__)


def evaluate(
    smiles: str,
    target: str = "DRD2",
    exhaustiveness: int = 8,
    seed: int = 0,
    *,
    use_cache: bool = True,
    **settings: Any,
) -> MoleculeResult:
    """Score one molecule on one DOCKSTRING target.

    A bad molecule or a failed docking is reported in ``result.error``, never
    raised; bad settings (unknown target, exhaustiveness < 1) raise ValueError.
    Further settings (``cpu``, ``timeout_s``, ``memory_mb``, ``max_heavy_atoms``,
    ``max_rotatable_bonds``) are those of ``DockingSettings``; the time and
    memory limits a docking ran with are in ``result.settings``.
    """
    chosen = DockingSettings(exhaustiveness=exhaustiveness, seed=seed, **settings)
    target = check_target(target)
    result = describe(smiles, target, chosen)
    if result.error is not None:
        return result
    found = cache.lookup(target, result.smiles, chosen.cache_fields()) if use_cache else None
    if found is not None:
        return _with_outcome(result, found, cached=True)
    outcome = dock_outcome(result.smiles, target, _sized(result, chosen))
    if use_cache and not outcome["retryable"]:
        cache.store(target, result.smiles, chosen.cache_fields(), outcome)
    return _with_outcome(result, outcome, cached=False)


def dock_many(
    smiles_list: Iterable[str],
    target: str = "DRD2",
    executor: cf.Executor | None = None,
    *,
    workers: int | None = None,
    exhaustiveness: int = 8,
    seed: int = 0,
    **settings: Any,
) -> list[MoleculeResult]:
    """Score a batch, in input order, docking through ``executor``.

    Any ``concurrent.futures.Executor`` works (a Dask cluster's
    ``client.get_executor()`` included); without one, a pool of ``workers``
    local processes (default: one per CPU, at most one per molecule to dock)
    is started and stopped here.
    """
    chosen = DockingSettings(exhaustiveness=exhaustiveness, seed=seed, **settings)
    target = check_target(target)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    results = [describe(s, target, chosen) for s in smiles_list]
    todo: dict[str, list[int]] = {}
    for i, result in enumerate(results):
        if result.error is not None:
            continue
        found = cache.lookup(target, result.smiles, chosen.cache_fields())
        if found is not None:
            results[i] = _with_outcome(result, found, cached=True)
        else:
            todo.setdefault(result.smiles, []).append(i)
    if not todo:
        return results
    with contextlib.ExitStack() as stack:
        if executor is None:
            count = workers or min(len(todo), os.cpu_count() or 1)
            executor = stack.enter_context(make_executor("process", count))
        futures = {}
        for smiles, indices in todo.items():
            sized = _sized(results[indices[0]], chosen)
            for i in indices:
                results[i].settings = sized.as_dict()
            futures[executor.submit(dock_outcome, smiles, target, sized)] = smiles
        for future in cf.as_completed(futures):
            smiles = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # a lost worker, a broken pool, a Dask failure
                outcome = _failure(f"the docking worker failed: {type(exc).__name__}: {exc}", retryable=True)
            if not outcome["retryable"]:
                cache.store(target, smiles, chosen.cache_fields(), outcome)
            for i in todo[smiles]:
                results[i] = _with_outcome(results[i], outcome, cached=False)
    return results


def describe(smiles: str, target: str, settings: DockingSettings) -> MoleculeResult:
    """Checks and properties without docking: a result with ``error`` set, or ready to dock."""
    from .chemistry import parse_molecule, properties

    result = MoleculeResult(input_smiles=smiles, target=target, settings=settings.as_dict())
    try:
        parsed = parse_molecule(smiles, settings.max_heavy_atoms, settings.max_rotatable_bonds)
    except MoleculeError as exc:
        result.error = str(exc)
        return result
    values = properties(parsed.mol)
    result.smiles = parsed.smiles
    result.qed = values.pop("qed")
    result.sa = values.pop("sa")
    result.properties = values
    result.notes = list(parsed.notes)
    return result


def dock_outcome(smiles: str, target: str, settings: DockingSettings) -> dict[str, Any]:
    """Dock a checked, canonical SMILES in this process's docking child for the target.

    The outcome is ``retryable`` when the process failed (timeout, death) rather
    than the molecule; such outcomes are not cached.
    """
    from .docking_client import ChildSpec, children

    spec = ChildSpec(target, settings.seed, settings.cpu, settings.memory_mb)
    try:
        with children.child(spec) as child:
            reply = child.dock(smiles, settings.exhaustiveness, settings.timeout_s)
    except DockingError as exc:
        log.warning("docking %s on %s failed: %s", smiles, target, exc)
        return _failure(str(exc), retryable=True)
    details = {
        "protonated_smiles": reply.get("protonated_smiles"),
        "dock_seconds": reply["seconds"],
        "dock_cpu_seconds": reply["cpu_seconds"],
        "child_peak_rss_mb": reply["peak_rss_mb"],
    }
    if "error" in reply:
        return {"vina": None, "error": f"docking failed: {reply['error']}", "retryable": False, **details}
    return {"vina": reply["vina"], "error": None, "retryable": False, "pose": reply["pose"], **details}


def _sized(result: MoleculeResult, settings: DockingSettings) -> DockingSettings:
    """The settings with time and memory limits for this molecule, recorded on its result."""
    sized = settings.for_molecule(result.properties["heavy_atoms"], result.properties["rotatable_bonds"])
    result.settings = sized.as_dict()
    return sized


def _failure(message: str, retryable: bool) -> dict[str, Any]:
    return {"vina": None, "error": f"docking failed: {message}", "retryable": retryable}


def _with_outcome(result: MoleculeResult, outcome: dict[str, Any], cached: bool) -> MoleculeResult:
    result.vina = outcome["vina"]
    result.error = outcome["error"]
    result.pose = outcome.get("pose")
    result.cached = cached
    result.details = {k: v for k, v in outcome.items() if k not in ("vina", "error", "pose")}
    return result
