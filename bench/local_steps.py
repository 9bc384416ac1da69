"""One optimization step of the molecule and radiotherapy tasks on the embedded model: before and after prefix reuse.

Three sides, each on a freshly started ``tg serve`` (so no side inherits
another's prompt cache), in the same command and with the same thread count:

- **before**: an older checkout (``--before-checkout``, a git worktree of a
  commit from before the prompt layout changed: ``git worktree add --detach
  /tmp/tg-4304530 4304530``) against a server with one slot, as that
  commit's engine ran the model;
- **after, k=1**: this checkout with its default slots and ``--candidates 1``,
  the same number of proposals per step as before;
- **after**: this checkout with every default (``k`` candidates per step).

Every side runs ``tg run TASK --steps 1 --no-cache`` against the model
through the quality benchmark's counting proxy, which reads from each
answer how many prompt tokens llama.cpp evaluated and how many it served
from a cached prefix. The table gives the wall time of the run, the calls,
prompt tokens sent and evaluated, and evaluated / sent (the issue asks for
at most one third), and the wall-time ratio of before to each after side.
The older commit's tasks are older too (the radiotherapy phantom and goals
changed since): the JSON names the commit each side ran.

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
from quality_common import BenchServer, TgCore, model_record, run_tg_core, served_models, tg_serve  # noqa: E402

TASKS = {
    "molecule": ["--target", "DRD2", "--smiles", "CC(=O)Oc1ccccc1C(=O)O", "--exhaustiveness", "4", "--seed", "0"],
    "radiotherapy": [],
}
SIDES = (
    # name, tg-core under test, server slots, extra options of tg run
    ("before", "before", 1, []),
    ("after, k=1", "after", None, ["--candidates", "1"]),
    ("after", "after", None, []),
)


def run_side(task: str, tg_core: TgCore, slots: int | None, extra: list[str], options: argparse.Namespace,
             folder: Path) -> dict[str, Any]:
    """One ``tg run TASK --steps 1`` on a fresh server; what the proxy counted and how long it took."""
    folder.mkdir(parents=True)
    with tg_serve(options.model, options.threads, options.ctx, folder / "tg-serve.log", slots=slots) as upstream:
        model = served_models(upstream)[0]
        with BenchServer(upstream) as proxy:
            began = time.perf_counter()
            run_tg_core(tg_core, task, [*TASKS[task], *extra, "--steps", "1"], model, proxy.base_url("side"),
                        folder / "run")
            wall = time.perf_counter() - began
            usage = proxy.usage("side")
    evaluated = usage["prompt_tokens"] - usage["cached_prompt_tokens"]
    return {"wall_s": round(wall, 1), **usage, "evaluated_prompt_tokens": evaluated,
            "evaluated_fraction": round(evaluated / usage["prompt_tokens"], 3) if usage["prompt_tokens"] else None,
            "server_slots": slots or "default", "options": extra, "tg_core": tg_core.describe()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-checkout", type=Path, required=True,
                        help="checkout of tg-core from before the prompt layout changed (a git worktree)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, of {', '.join(TASKS)}")
    parser.add_argument("--model", default="default", help="default, light or a GGUF path (default: default)")
    parser.add_argument("--threads", type=int, default=2, help="tg serve threads, the same on every side (default 2)")
    parser.add_argument("--ctx", type=int, default=16384, help="tg serve context length (default 16384)")
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
                rows.append([task, name, side["wall_s"], side["calls"], side["prompt_tokens"],
                             side["evaluated_prompt_tokens"], side["evaluated_fraction"], side["completion_tokens"],
                             side["speedup_vs_before"]])
            save("local_steps", record)
    print(table(["task", "side", "wall s", "calls", "prompt tok", "evaluated", "eval/sent", "completion tok",
                 "speedup"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
