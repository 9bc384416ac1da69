"""One optimization step of the molecule and radiotherapy tasks on the embedded model: before and after prefix reuse.

Up to four sides in the same command, each ``tg run TASK --steps 1 --engine
local --no-cache`` in its own process (so each loads the model afresh and
starts with empty prefix caches), all with the same thread count:

- **before**: an older checkout (``--before-checkout``, a git worktree of a
  commit from before the prompt layout changed: ``git worktree add --detach
  /tmp/tg-4304530 4304530``), whose engine ran the model with one slot. Its
  tasks did less work per step (a shorter report, one candidate), so this
  side compares releases, not prefix reuse alone;
- **no reuse**: this checkout, one slot, prefix reuse off
  (``TG_LOCAL_PROMPT_CACHE=0``): the same prompts as "after", each evaluated
  whole. The speedup of "after" over it is what prefix reuse and the
  shared-first layout buy on the same work;
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
    .venv/bin/python bench/local_steps.py --sides "no reuse,after"
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
    # name, tg-core under test, slots, extra options of tg run, extra environment
    ("before", "before", 1, [], {}),
    ("no reuse", "after", 1, [], {defaults.PROMPT_CACHE_ENV: "0"}),
    ("after, k=1", "after", defaults.LOCAL_SLOTS, ["--candidates", "1"], {}),
    ("after", "after", defaults.LOCAL_SLOTS, [], {}),
)
BASELINES = ("before", "no reuse")  # each present one gets a speedup column


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
             folder: Path, extra_env: dict[str, str]) -> dict[str, Any]:
    """One ``tg run TASK --steps 1`` on the embedded model; its counts and how long it took."""
    run_dir = folder / "run"
    folder.mkdir(parents=True)
    engine = f"local:{options.model}" if options.model != "default" else "local"
    env = {"TG_LOCAL_THREADS": str(options.threads), "TG_LOCAL_SLOTS": str(slots), **extra_env}
    began = time.perf_counter()
    command = run_tg_core(tg_core, task, [*TASKS[task], *extra, "--steps", "1"], engine, run_dir, env)
    wall = time.perf_counter() - began
    return {"wall_s": round(wall, 1), **call_counts(run_dir), "slots": slots, "options": extra,
            "environment": env, "command": " ".join(command[1:]), "tg_core": tg_core.describe()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-checkout", type=Path,
                        help="checkout of tg-core from before the prompt layout changed (a git worktree); "
                             "needed by the 'before' side")
    parser.add_argument("--sides", default=None,
                        help=f"comma-separated, of {', '.join(s[0] for s in SIDES)} (default: all, "
                             "'before' only with --before-checkout)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--model", default="default", help="default, light or a GGUF path (default: default)")
    parser.add_argument("--threads", type=int, default=2, help="model threads, the same on every side (default 2)")
    options = parser.parse_args(argv)
    tasks = [t.strip() for t in options.tasks.split(",") if t.strip()]
    if not tasks or any(t not in TASKS for t in tasks):
        parser.error(f"--tasks takes some of {', '.join(TASKS)}, got {options.tasks!r}")
    if options.threads < 1:
        parser.error(f"--threads must be at least 1, got {options.threads}")
    names = [s[0] for s in SIDES]
    if options.sides is None:
        chosen = [n for n in names if n != "before" or options.before_checkout is not None]
    else:
        chosen = [n.strip() for n in options.sides.split(",") if n.strip()]
        if not chosen or any(n not in names for n in chosen):
            parser.error(f"--sides takes some of {', '.join(names)}, got {options.sides!r}")
    if "before" in chosen and options.before_checkout is None:
        parser.error("--sides 'before' needs --before-checkout")
    try:
        under_test = {"after": TgCore.from_options(None, None)}
        if "before" in chosen:
            under_test["before"] = TgCore.from_options(None, options.before_checkout)
    except ValueError as exc:
        parser.error(str(exc))
    record: dict[str, Any] = {"model": model_record(options.model), "threads": options.threads, "results": {}}
    baselines = [b for b in BASELINES if b in chosen]
    rows = []
    with tempfile.TemporaryDirectory(prefix="local-steps-") as tmp:
        for task in tasks:
            sides = record["results"].setdefault(task, {})
            for name, which, slots, extra, extra_env in SIDES:
                if name not in chosen:
                    continue
                folder = Path(tmp) / task / name.replace(", ", "-").replace("=", "").replace(" ", "-")
                sides[name] = run_side(task, under_test[which], slots, extra, options, folder, extra_env)
                save("local_steps", record)  # a long run is never lost
            for name, side in sides.items():
                for baseline in baselines:
                    side[f"speedup_vs_{baseline.replace(' ', '_')}"] = round(
                        sides[baseline]["wall_s"] / side["wall_s"], 2)
                rows.append([task, name, side["wall_s"], side["model_seconds"], side["calls"], side["prompt_tokens"],
                             "-" if side["evaluated_prompt_tokens"] is None else side["evaluated_prompt_tokens"],
                             "-" if side["evaluated_fraction"] is None else side["evaluated_fraction"],
                             side["completion_tokens"],
                             *(side[f"speedup_vs_{b.replace(' ', '_')}"] for b in baselines)])
            save("local_steps", record)
    print(table(["task", "side", "wall s", "model s", "calls", "prompt tok", "evaluated", "eval/sent", "completion tok",
                 *(f"x vs {b}" for b in baselines)], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
