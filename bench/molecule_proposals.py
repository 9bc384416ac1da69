"""Which prompt gets the embedded model to propose valid, new, better molecules (issue 11 item 8)?

From phenol on DRD2 with the real judge's feedback (computed once, shared),
the default local model is asked for N candidates (distinct seeds, sampling
temperature, as the loop asks) by three optimizers that differ only in what
the prompt holds:

- ``reask``: the SMILES and filter constraints, checked; an invalid answer is
  asked again with RDKit's reason (up to 2 times);
- ``examples``: the same plus valid drug SMILES as in-context examples;
- ``menu``: the same plus a menu of RDKit-checked edits of the molecule.

For each: answers valid at the first attempt (asked again with no re-ask,
from the response cache), new valid molecules after re-asks, and how many
of those improve the start's score (goals met, then the objective) when
docked; model calls made. Run:

    .venv/bin/python bench/molecule_proposals.py [N [APPROACH ...]]

(a subset of approaches writes results/molecule_proposals-APPROACH.json).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import tg_core
from tg_core import Variable
from tg_molecule import prompts
from tg_molecule.candidates import evaluate_candidates
from tg_molecule.edits import EditMenuTGD, edit_menu
from tg_molecule.functions import molecule_loss, molecule_simulator, smiles_constraint
from tg_molecule.goals import GoalSet
from tg_molecule.settings import DockingSettings

START = "Oc1ccccc1"  # phenol
TARGET = "DRD2"
EXHAUSTIVENESS = 4
RESULTS = Path(__file__).parent / "results" / "molecule_proposals.json"


def optimizer(variable: Variable, engine: tg_core.Engine, approach: str, retries: int,
              goals: GoalSet, settings: DockingSettings) -> EditMenuTGD:
    filters = goals.filters(settings.max_heavy_atoms, settings.max_rotatable_bonds)
    menu = None
    if approach == "menu":
        def menu(smiles: str, exclude: set[str]) -> list:
            return edit_menu(smiles, filters.check, exclude=exclude)
    examples = list(prompts.DRUG_EXAMPLES) if approach == "examples" else []
    return EditMenuTGD([variable], engine=engine, menu=menu, max_retries=retries, in_context_examples=examples,
                       constraints=[smiles_constraint(settings), filters.constraint()])


APPROACHES = ("reask", "examples", "menu")


async def main(n: int, approaches: tuple[str, ...] = APPROACHES) -> dict:
    engine = tg_core.get_engine("local")
    goals = GoalSet(targets=(TARGET,))
    settings = DockingSettings(exhaustiveness=EXHAUSTIVENESS)
    start = evaluate_candidates([START], goals, settings, reference=START, exempt=[START])[0]
    variable = Variable(START, role_description=prompts.SMILES_ROLE.format(targets=TARGET))
    simulator = molecule_simulator(goals=goals, reference=START, exempt=[START], **settings.as_dict())
    report = await simulator.aforward(variable)
    judgement = await molecule_loss(engine, goals).aforward(report)
    await judgement.abackward(engine=engine)
    feedback = list(variable.gradients)
    out = {"start": START, "target": TARGET, "n": n, "start_score": list(start.score),
           "start_vina": start.vina(TARGET), "start_qed": start.qed, "judgement": judgement.value, "approaches": {}}
    for approach in approaches:
        row: dict = {}
        for retries in (2, 0):  # the first answers of the run with re-asks come back from the cache
            variable.zero_grad()
            variable.gradients.extend(feedback)
            calls = engine.usage.calls
            began = time.monotonic()
            proposals = await optimizer(variable, engine, approach, retries, goals, settings).apropose(
                variable, n, avoid=[START], seed=0)
            kinds = [r.kind for r in proposals.rejections]
            if retries == 0:
                row["valid_first"] = len(proposals.values) + kinds.count("tried")
                row["new_first"] = len(proposals.values)
                continue
            row["calls"] = engine.usage.calls - calls
            row["seconds"] = round(time.monotonic() - began, 1)
            row["new_valid"] = len(proposals.values)
            row["rejections"] = {k: kinds.count(k) for k in sorted(set(kinds))}
            docked = evaluate_candidates(proposals.values, goals, settings, reference=START, exempt=[START])
            row["molecules"] = [{"smiles": c.smiles, "vina": c.vina(TARGET) if c.docked else None, "qed": c.qed,
                                 "score": list(c.score)} for c in docked]
            row["improved"] = sum(c.docked and c.score > start.score for c in docked)
        out["approaches"][approach] = row
        print(approach, {k: v for k, v in row.items() if k != "molecules"}, flush=True)
    return out


if __name__ == "__main__":
    chosen = tuple(sys.argv[2:]) or APPROACHES
    result = asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 8, chosen))
    path = RESULTS if chosen == APPROACHES else RESULTS.with_name(f"{RESULTS.stem}-{'-'.join(chosen)}.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "approaches"}, indent=2))
