"""Quality benchmark, molecule domain: DRD2 docking from phenol and from aspirin, as the issue asks.

Each arm optimizes one SMILES per case for ``--steps`` steps (5) with AutoDock
Vina at exhaustiveness 4 (docking seed 0 for everyone: the bench seed varies
the model's sampling, not the scores). Every molecule an arm proposed is
docked again by the bench with the same settings (tg_molecule's docking
cache makes a repeat cheap and identical) and the metrics are computed from
those: how many proposals were valid and new, and the best one's Vina, QED
and SA (best = lowest Vina among the valid new molecules free of PAINS and
Brenk alerts, for every arm alike: tg-core refuses alerted molecules, the
other arms may propose them, and a chemist would discard them; an arm that
found none is left with its start). The final molecule's numbers are kept too,
with how many of the goals every arm is given (Vina at most -10 kcal/mol, QED at
least 0.6) the molecule it returns meets: lowest Vina alone ranks a molecule
that gave up drug-likeness for binding above one that met the QED goal.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path
from typing import Any

from quality_common import Context, Domain, read_checkpoints

STARTS = (("phenol", "c1ccccc1O"), ("aspirin", "CC(=O)Oc1ccccc1C(=O)O"))
DOCKING_SEED = 0
GOALS = {"vina": -10.0, "qed": 0.6}  # every arm's target: Vina at most, QED at least
# Reconstructed from the TextGrad paper's description of its molecule loss (its code was never released).
TEXTGRAD_LOSS = (
    "You evaluate a candidate drug molecule for the protein target {target} from its docking and "
    "drug-likeness report. The goal is a molecule with a Vina score of at most {vina} kcal/mol "
    "(lower is stronger binding) and a QED of at least {qed}. Criticise the molecule: say how far it "
    "is from each goal and which structural changes would improve binding affinity and drug-likeness."
)
TEXTGRAD_ROLE = "SMILES string of a candidate drug molecule designed to bind the protein target {target}"
TEXTGRAD_CONSTRAINT = "The new value must be exactly one valid SMILES string, with no other words."
DOCK_PURPOSE = "docks the molecule into the target with AutoDock Vina and computes QED and SA"


def smiles_of(outcome: dict[str, Any]) -> list[str]:
    """Every molecule an arm tried, in order: its evaluation requests, its proposals and its trajectory."""
    found = [e.get("value") or (e.get("candidate") or {}).get("smiles") for e in outcome.get("evaluated", [])]
    found += outcome.get("proposals", []) + outcome.get("trajectory", [])
    return [s for s in dict.fromkeys(f for f in found if isinstance(f, str) and f.strip())]


def goals_met(result: Any) -> int:
    """How many of GOALS a docked molecule meets (none for an invalid one)."""
    if not result.ok or result.qed is None:
        return 0
    return int(result.vina <= GOALS["vina"]) + int(result.qed >= GOALS["qed"])


def alerts(smiles: str) -> list[str]:
    """The PAINS and Brenk alerts of a molecule (tg_molecule's filters, the ones its runs enforce)."""
    from rdkit import Chem

    from tg_molecule.filters import structural_alerts

    return structural_alerts(Chem.MolFromSmiles(smiles))


class MoleculeDomain(Domain):
    name = "molecule"
    task = "molecule"
    metric = "best Vina kcal/mol (QED, SA)"
    default_steps = 5
    reconstructed = (
        "textgrad: never released its molecule code; the program is the paper's description written with "
        "textgrad primitives: SMILES Variable -> the bench's Vina/QED/SA report as a StringBasedFunction -> "
        "TextLoss with the goals (TEXTGRAD_LOSS, written for the bench) -> backward -> TGD with a SMILES-only constraint."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("molecule domain")
        group.add_argument("--molecule-target", default="DRD2", help="DOCKSTRING target (default DRD2)")
        group.add_argument("--molecule-exhaustiveness", type=int, default=4, help="Vina exhaustiveness (default 4)")
        group.add_argument("--molecule-starts", default=",".join(name for name, _ in STARTS),
                           help="which starts: phenol, aspirin or both (default phenol,aspirin)")

    def check(self, options: argparse.Namespace) -> None:
        if not 1 <= options.molecule_exhaustiveness <= 64:
            raise ValueError(f"--molecule-exhaustiveness must be 1 to 64, got {options.molecule_exhaustiveness}")
        names = dict(STARTS)
        chosen = [s.strip() for s in options.molecule_starts.split(",") if s.strip()]
        if not chosen or any(s not in names for s in chosen):
            raise ValueError(f"--molecule-starts takes some of {', '.join(names)}, got {options.molecule_starts!r}")

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {"target": options.molecule_target, "exhaustiveness": options.molecule_exhaustiveness,
                "docking_seed": DOCKING_SEED, "starts": options.molecule_starts,
                "goals": GOALS}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        chosen = [s.strip() for s in options.molecule_starts.split(",")]
        return [{"id": name, "smiles": smiles, "target": options.molecule_target,
                 "exhaustiveness": options.molecule_exhaustiveness} for name, smiles in STARTS if name in chosen]

    @staticmethod
    def dock(case: dict[str, Any], smiles: str) -> Any:
        """tg_molecule's evaluation (checks, QED, SA, Vina), through its docking cache."""
        from tg_molecule.scoring import evaluate

        return evaluate(smiles, case["target"], exhaustiveness=case["exhaustiveness"], seed=DOCKING_SEED,
                        cpu=os.cpu_count() or 1)

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        return {"value": case["smiles"]}

    # -------------------------------------------------------------- arms

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        return ["--target", case["target"], "--smiles", start["value"], "--exhaustiveness",
                str(case["exhaustiveness"]), "--seed", str(DOCKING_SEED), "--steps", str(ctx.steps)]

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        trajectory = [case["smiles"], *read_checkpoints(run_dir)]
        proposals = []
        table = run_dir / "molecules.csv"
        if table.is_file():  # every molecule the run docked, rejected proposals included
            with open(table, newline="") as f:
                proposals = [row["input_smiles"] for row in csv.DictReader(f) if row.get("input_smiles")]
        summary = json.loads((run_dir / "summary.json").read_text())
        final = (summary.get("best") or {}).get("smiles") or trajectory[-1]
        return {"value": final, "trajectory": trajectory, "proposals": proposals}

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        return {"program": "molecule", "start": start["value"], "role": TEXTGRAD_ROLE.format(target=case["target"]),
                "loss": TEXTGRAD_LOSS.format(target=case["target"], **GOALS),
                "constraints": [TEXTGRAD_CONSTRAINT], "dock_purpose": DOCK_PURPOSE}

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        objective = (f"One SMILES string of a drug-like molecule that binds the protein {case['target']}: "
                     f"AutoDock Vina score at most {GOALS['vina']:g} kcal/mol and QED at least {GOALS['qed']:g}. "
                     "The candidate is the SMILES alone.")
        return {"candidate": {"smiles": start["value"]}, "component": "smiles", "train": [case["id"]],
                "objective": objective, "background": DOCK_PURPOSE, "perfect_score": 1.0}

    # -------------------------------------------------------------- evaluation

    @staticmethod
    def score(result: Any) -> float:
        """GEPA's scalar: half binding (Vina -12 kcal/mol or better counts fully), half QED; 0 when invalid."""
        if not result.ok or result.qed is None:
            return 0.0
        return 0.5 * min(1.0, max(0.0, -result.vina / 12.0)) + 0.5 * result.qed

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        if name == "dock":
            return {"report": self.dock(case, payload["value"]).to_text()}
        if name == "gepa":
            smiles = payload["candidate"]["smiles"]
            result = self.dock(case, smiles)
            goals = (f"Goals: Vina score at most {GOALS['vina']:g} kcal/mol, QED at least {GOALS['qed']:g}. "
                     "Answer with one SMILES only.")
            return {"scores": [self.score(result)], "outputs": [smiles], "inputs": [f"target {case['target']}"],
                    "feedback": [f"{result.to_text()}\n{goals}"]}
        raise KeyError(f"molecule domain: no evaluator {name!r}")

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        start = self.dock(case, case["smiles"])
        tried = [s for s in smiles_of(outcome) if s != case["smiles"]]
        results = [self.dock(case, s) for s in tried]
        valid = [r for r in results if r.ok and r.qed is not None]
        new = {r.smiles: r for r in valid if r.smiles != start.smiles}
        clean = [r for r in new.values() if not alerts(r.smiles)]
        best = min(clean, key=lambda r: r.vina, default=start)
        final = self.dock(case, outcome["value"])
        return {"proposals": len(tried), "valid": len(valid), "new": len(new), "alerted": len(new) - len(clean),
                "best_smiles": best.smiles, "best_vina": best.vina, "best_qed": best.qed, "best_sa": best.sa,
                "final_smiles": final.smiles or outcome["value"], "final_vina": final.vina, "final_qed": final.qed,
                "final_sa": final.sa, "final_error": final.error, "final_goals": goals_met(final)}

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(measured)
        out: dict[str, Any] = {k: sum(m[k] for m in measured) / n for k in ("best_vina", "best_qed", "best_sa")}
        out.update({k: sum(m[k] for m in measured) for k in ("proposals", "valid", "new")})
        goals = [m.get("final_goals") for m in measured]
        # A result written before the goals were counted has none: say so rather than show 0 goals met.
        out["final_goals"] = None if None in goals else sum(goals) / n
        return out

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        return (-summary["best_vina"], summary["best_qed"])

    def cell(self, summary: dict[str, Any]) -> str:
        goals = summary.get("final_goals")
        returned = (f"returned meets {goals:.1f} of {len(GOALS)} goals" if goals is not None
                    else "goals of the returned molecule not measured")
        return (f"{summary['best_vina']:.2f} (QED {summary['best_qed']:.2f}, SA {summary['best_sa']:.1f}; "
                f"{summary['valid']:.0f} valid/{summary['new']:.0f} new of {summary['proposals']:.0f}; {returned})")


DOMAIN = MoleculeDomain()
