"""One optimization step of the molecule and radiotherapy tasks on the embedded model: before and after prefix reuse.

Three sides in the same command, each ``tg run TASK --steps 1 --engine local
--no-cache`` in its own process (so each loads the model afresh and starts
with empty prefix caches), all with the same thread count:

- **before**: an older checkout (``--before-checkout``, a git worktree of a
  commit from before the prompt layout changed: ``git worktree add --detach
  /tmp/tg-4304530 4304530``), whose engine ran the model with one slot;
- **after, k=1**: this checkout with its default slots and ``--candidates 1``,
  the same number of proposals per step as before;
- **after**: this checkout with every default (``k`` candidates per step).

Counts come from each run's events.jsonl: calls, prompt tokens sent, prompt
tokens served from a cached prefix (recorded since the accounting landed;
the older commit did not record them, so its column is empty) and
evaluated / sent, which the issue asks to be at most one third. The table
also gives the wall time of the run (model load included on every side)
and the wall-time ratio of before to each after side. The older commit's
tasks are older too (the radiotherapy phantom and goals changed since): the
JSON names the commit each side ran.

    .venv/bin/python bench/local_steps.py --before-checkout /tmp/tg-4304530 [--tasks molecule,radiotherapy]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save, table  # noqa: E402
from quality_common import TgCore, model_record, run_tg_core  # noqa: E402

from tg_core.engines import defaults  # noqa: E402
from tg_core.runs import read_events  # noqa: E402

TASKS = {
    "molecule": ["--target", "DRD2", "--smiles", "CC(=O)Oc1ccccc1C(=O)O", "--exhaustiveness", "4", "--seed", "0"],
    "radiotherapy": [],
}
SIDES = (
    # name, tg-core under test, slots, extra options of tg run
    ("before", "before", 1, []),
    ("after, k=1", "after", defaults.LOCAL_SLOTS, ["--candidates", "1"]),
    ("after", "after", defaults.LOCAL_SLOTS, []),
)


def call_counts(run_dir: Path) -> dict[str, Any]:
    """Calls and tokens of a run, from its llm_call events; cached tokens ``None`` when not recorded."""
    calls = read_events(run_dir, "llm_call")
    recorded = all("cached_prompt_tokens" in c for c in calls)
    sent = sum(c["prompt_tokens"] for c in calls)
    cached = sum(c["cached_prompt_tokens"] for c in calls) if recorded else None
    evaluated = sent - cached if cached is not None else None
    return {"calls": len(calls), "prompt_tokens": sent, "cached_prompt_tokens": cached,
            "evaluated_prompt_tokens": evaluated,
            "evaluated_fraction": round(evaluated / sent, 3) if evaluated is not None and sent else None,
            "completion_tokens": sum(c["completion_tokens"] for c in calls),
            "model_seconds": round(sum(c.get("latency_s") or 0 for c in calls), 1)}


def run_side(task: str, tg_core: TgCore, slots: int, extra: list[str], options: argparse.Namespace,
             folder: Path) -> dict[str, Any]:
    """One ``tg run TASK --steps 1`` on the embedded model; its counts and how long it took."""
    run_dir = folder / "run"
    folder.mkdir(parents=True)
    engine = f"local:{options.model}" if options.model != "default" else "local"
    env = {"TG_LOCAL_THREADS": str(options.threads), "TG_LOCAL_SLOTS": str(slots)}
    began = time.perf_counter()
    command = run_tg_core(tg_core, task, [*TASKS[task], *extra, "--steps", "1"], engine, run_dir, env)
    wall = time.perf_counter() - began
    return {"wall_s": round(wall, 1), **call_counts(run_dir), "slots": slots, "options": extra,
            "command": " ".join(command[1:]), "tg_core": tg_core.describe()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-checkout", type=Path, required=True,
                        help="checkout of tg-core from before the prompt layout changed (a git worktree)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--model", default="default", help="default, light or a GGUF path (default: default)")
    parser.add_argument("--threads", type=int, default=2, help="model threads, the same on every side (default 2)")
    options = parser.parse_args(argv)
    tasks = [t.strip() for t in options.tasks.split(",") if t.strip()]
    if not tasks or any(t not in TASKS for t in tasks):
        parser.error(f"--tasks takes some of {', '.join(TASKS)}, got {options.tasks!r}")
    if options.threads < 1:
        parser.error(f"--threads must be at least 1, got {options.threads}")
    try:
        under_test = {"before": TgCore.from_options(None, options.before_checkout),
                      "after": TgCore.from_options(None, None)}
    except ValueError as exc:
        parser.error(str(exc))
    record: dict[str, Any] = {"model": model_record(options.model), "threads": options.threads, "results": {}}
    rows = []
    with tempfile.TemporaryDirectory(prefix="local-steps-") as tmp:
        for task in tasks:
            sides = record["results"].setdefault(task, {})
            for name, which, slots, extra in SIDES:
                folder = Path(tmp) / task / name.replace(", ", "-").replace("=", "")
                sides[name] = run_side(task, under_test[which], slots, extra, options, folder)
                save("local_steps", record)  # a long run is never lost
            before = sides["before"]["wall_s"]
            for name, side in sides.items():
                side["speedup_vs_before"] = round(before / side["wall_s"], 2)
                rows.append([task, name, side["wall_s"], side["model_seconds"], side["calls"], side["prompt_tokens"],
                             "-" if side["evaluated_prompt_tokens"] is None else side["evaluated_prompt_tokens"],
                             "-" if side["evaluated_fraction"] is None else side["evaluated_fraction"],
                             side["completion_tokens"], side["speedup_vs_before"]])
            save("local_steps", record)
    print(table(["task", "side", "wall s", "model s", "calls", "prompt tok", "evaluated", "eval/sent", "completion tok",
                 "speedup"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
