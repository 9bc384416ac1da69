"""Recompute a saved molecule quality result's metrics from its outcomes, after the metrics changed.

Every arm's outcome (the molecules it proposed, had evaluated and returned)
is in the result file (files written before the evaluation requests were
kept in it lose what only those requests held: the textgrad and gepa arms'
evaluated molecules); measuring them again needs no model, only the docking cache
that the run filled (a molecule missing from it is docked again). The file
is rewritten with the new metrics and summary and a ``remeasured`` entry
naming the date and commit. The text, code and QA domains measure with LLM
calls or the sandbox and are not handled here.

    .venv/bin/python bench/quality_remeasure.py bench/results/quality-molecule.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from quality_common import summarize_runs
from quality_molecule import DOMAIN


def remeasure(path: Path) -> dict:
    data = json.loads(path.read_text())
    if data.get("domain") != DOMAIN.name:
        raise ValueError(f"{path}: a {data.get('domain')!r} result; only the molecule domain is remeasured")
    settings = data["settings"]
    options = argparse.Namespace(molecule_target=settings["target"], molecule_starts=settings["starts"],
                                 molecule_exhaustiveness=settings["exhaustiveness"])
    cases = {case["id"]: case for case in DOMAIN.cases(options)}
    for run in data["runs"]:
        for case in run["cases"]:
            if case.get("outcome") is not None:
                case["metrics"] = DOMAIN.measure(None, cases[case["case"]], case["outcome"], None)
        measured = [c["metrics"] for c in run["cases"] if c.get("metrics") is not None]
        run["metrics"] = DOMAIN.summarize(measured) if len(measured) == len(run["cases"]) else None
    data["summary"] = summarize_runs(DOMAIN, data["runs"])
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
    data["remeasured"] = {"date": dt.datetime.now().isoformat(timespec="seconds"), "commit": commit.stdout.strip(),
                          "command": " ".join([Path(sys.executable).name, *sys.argv])}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="a quality-molecule*.json result file")
    options = parser.parse_args(argv)
    try:
        data = remeasure(options.result)
    except (OSError, ValueError, KeyError) as exc:
        parser.error(str(exc))
    for run in data["runs"]:
        for case in run["cases"]:
            metrics = case.get("metrics") or {}
            print(run["arm"], run["seed"], case["case"], metrics.get("best_smiles"), metrics.get("best_vina"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
