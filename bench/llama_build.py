"""The embedded model under two builds of llama.cpp: the PyPI wheel and ``tg build-llama``'s.

Each build is an environment: a Python with tg-core and its own xllamacpp.
Both serve the same model file with the same settings (one ``tg serve`` each,
loaded side by side), and the quality bench's fixed speed probe (523 prompt
tokens evaluated whole, 64 generated) goes to them in alternation, one call
at a time, so a slow spell of the machine slows both alike. Speeds are
llama.cpp's own timings; ratios are medians over adjacent pairs.

    python bench/llama_build.py --candidate PYTHON [--baseline PYTHON] [--rounds 6] [--model default] [--threads 2]
        [--output FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save, table  # noqa: E402
from quality_common import model_record, served_models, speed_probe, tg_serve  # noqa: E402
from quality_server import BenchServer  # noqa: E402

from tg_core.engines import native_llama  # noqa: E402
from tg_core.engines.defaults import LOCAL_N_CTX  # noqa: E402

SPEEDS = ("prompt_tokens_per_s", "completion_tokens_per_s")


def build_of(python: str) -> dict[str, Any]:
    """Which xllamacpp ``python`` imports, and the instruction sets llama.cpp says it was built with."""
    code = ("import importlib.metadata as m, xllamacpp as x; "
            "print(m.version('xllamacpp')); print(x.__file__); print(x.get_system_info())")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    version, path, info = done.stdout.strip().split("\n", 2)
    return {"python": python, "xllamacpp": version, "module": path, "system_info": info.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=sys.executable, help="Python of the environment with the PyPI wheel")
    parser.add_argument("--candidate", required=True, help="Python of the environment with the other build")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--model", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None, help="result file (default bench/results/llama_build.json)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    for option in ("baseline", "candidate"):
        if not os.access(getattr(args, option), os.X_OK):
            parser.error(f"--{option} {getattr(args, option)}: no such interpreter")
    builds = {"baseline": build_of(args.baseline), "candidate": build_of(args.candidate)}
    probes: dict[str, list[dict[str, Any]]] = {name: [] for name in builds}
    with tempfile.TemporaryDirectory(prefix="llama-build-") as work, contextlib.ExitStack() as stack:
        servers = {}
        for name, build in builds.items():
            upstream = stack.enter_context(tg_serve(args.model, args.threads, LOCAL_N_CTX,
                                                    Path(work) / f"{name}.log", python=build["python"]))
            servers[name] = (stack.enter_context(BenchServer(upstream)), served_models(upstream)[0])
        for _ in range(args.rounds):
            for name, (server, model_id) in servers.items():
                probe = speed_probe(server, model_id)
                if probe is None:
                    raise RuntimeError(f"the {name} build's server gave no timings; see its log")
                probes[name].append(probe)
    medians = {name: {s: statistics.median(p[s] for p in runs) for s in SPEEDS} for name, runs in probes.items()}
    ratios = {s: statistics.median(c[s] / b[s] for b, c in zip(probes["baseline"], probes["candidate"], strict=True))
              for s in SPEEDS}
    rows = [[name, ", ".join(native_llama.build_names(builds[name]["system_info"])),
             medians[name]["prompt_tokens_per_s"], medians[name]["completion_tokens_per_s"]] for name in builds]
    rows.append(["candidate / baseline", "median of adjacent pairs", ratios["prompt_tokens_per_s"],
                 ratios["completion_tokens_per_s"]])
    print(table(["build", "instruction sets", "prompt tok/s", "generated tok/s"], rows))
    path = save("llama_build", {"model": model_record(args.model), "threads": args.threads, "rounds": args.rounds,
                                "builds": builds, "probes": probes, "medians": medians, "ratios": ratios},
                args.output)
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
