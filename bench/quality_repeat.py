"""Measure the final values of a quality run again: how far a measurement moves on its own.

The embedded model is not bit-reproducible at temperature 0 (llama.cpp's prompt
cache and batch splits change the arithmetic), so one final value measured twice
can score differently: QA seed 1's tg-core prompt answered 40 of 100 test
questions at b9c0108 and 33 at 5407e31, with the same text. A gap between two
arms smaller than that spread says nothing about the arms. This measures each
chosen arm's final values of a result file ``--times`` more times, with the
domain's own measurement behind a fresh ``tg serve``, and writes
``bench/results/quality-DOMAIN-repeated.json`` (one file per domain, rewritten
after every measurement) with every measurement, the earlier one first.

    .venv/bin/python bench/quality_repeat.py bench/results/quality-qa-equal-calls.json --arms textgrad,tg-core
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import machine
from quality_common import (
    RESULTS,
    BenchServer,
    Context,
    Record,
    TgCore,
    model_server,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("result", type=Path, help="a bench/results/quality-*.json file")
    parser.add_argument("--arms", default="start,textgrad,gepa,tg-core",
                        help="the arms whose final values to measure again (default: all in the file)")
    parser.add_argument("--times", type=int, default=1, help="measurements per final value (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the tg serve process (default 2)")
    parser.add_argument("--server", help="an OpenAI-compatible server to measure with instead of a tg serve started here")
    parser.add_argument("--output", type=Path, help="where to write (default bench/results/quality-DOMAIN-repeated.json)")
    return parser


def original_options(result: dict[str, Any]) -> argparse.Namespace:
    """The options of the command that wrote ``result``, parsed again: the domain's cases come from them."""
    from quality import build_parser as quality_parser

    words = shlex.split(result["command"])
    script = next(i for i, word in enumerate(words) if word.endswith("quality.py"))
    return quality_parser().parse_args(words[script + 1:])


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    try:
        result = json.loads(options.result.read_text())
        domain_name = result["domain"]
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f"result: {options.result} is not a quality result file ({exc})")
    if options.times < 1:
        parser.error(f"--times must be at least 1, got {options.times}")
    chosen = [a.strip() for a in options.arms.split(",") if a.strip()]
    runs = [r for r in result["runs"] if r["arm"] in chosen and not r.get("failed_cases")]
    if not runs:
        parser.error(f"--arms: no finished run of {', '.join(chosen)} in {options.result}")
    source = original_options(result)
    domain = type(importlib.import_module(f"quality_{domain_name}").DOMAIN)()
    cases = domain.cases(source)
    output = options.output or RESULTS / f"quality-{domain_name}-repeated.json"
    began = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="quality-repeat-")
    served = model_server(options.server, source.model, options.threads, source.ctx, Path(tmp.name) / "tg-serve.log")
    with tmp, served as (upstream, model_id, model), BenchServer(upstream) as server:
        record = Record(output, {
            "benchmark": f"quality-{domain_name}-repeated", "domain": domain_name,
            "date": dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(), "model": model,
            "repeats": {"file": str(options.result), "date": result["date"], "command": result["command"]},
        })
        tg_core = TgCore.from_options(source.tg_core_python, source.tg_core_checkout)
        for run in runs:
            ctx = Context(server, model_id, run["seed"], source.steps, source, Path(tmp.name), tg_core)
            for case, measured in zip(cases, run["cases"], strict=True):
                again = []
                for _ in range(options.times):
                    fresh = type(domain)()  # a domain instance remembers what it measured
                    again.append(fresh.measure(ctx, case, measured["outcome"], ctx.engine("repeat")))
                record.add({"arm": run["arm"], "seed": run["seed"], "case": measured["case"],
                            "measurements": [measured["metrics"], *again]})
                print(f"{run['arm']:>9} seed {run['seed']} {measured['case']}: "
                      + " | ".join(json.dumps(m) for m in [measured["metrics"], *again]), flush=True)
    record.data["wall_s"] = time.perf_counter() - began
    record.save()
    print(f"written {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
