"""Quality benchmark: does optimizing help, per domain, against textgrad 0.1.8 and GEPA on the same model.

Four arms on the same work: the starting value, textgrad 0.1.8 (its own venv,
its own primitives), GEPA 0.1.4 (its own venv, an adapter scoring with the
same simulators, stopped at textgrad's number of LLM calls) and tg-core
(``tg run TASK``, its defaults). All of them talk to ONE ``tg serve``
process (started here unless --server names one) through a counting proxy
(bench/quality_server.py) with every response cache off, so they pay for
every call alike. Results go to bench/results/quality-DOMAIN.json after every
arm of every seed; the table at the end has one row per domain measured so far.

    .venv/bin/python bench/quality.py --domain text --seeds 0,1 --steps 3
    .venv/bin/python bench/quality.py --domain code --problems 10
    .venv/bin/python bench/quality.py --domain text --baseline --tg-core-checkout /tmp/tg-4304530
    .venv/bin/python bench/quality.py --table
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from quality_common import (
    ARMS,
    RESULTS,
    TABLE_HEADERS,
    BenchServer,
    Domain,
    Record,
    Runner,
    TgCore,
    domain_minutes,
    header,
    model_server,
    speed_probe,
    summarize_runs,
    table_row,
)

DOMAINS = ("text", "code", "molecule", "radiotherapy", "qa")


def load_domain(name: str) -> Domain:
    return importlib.import_module(f"quality_{name}").DOMAIN


def seeds(text: str) -> list[int]:
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds is a comma-separated list of integers, got {text!r}") from None
    if not values or any(v < 0 for v in values) or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"--seeds needs distinct integers >= 0, got {text!r}")
    return values


def arms(text: str) -> list[str]:
    chosen = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in ARMS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"--arms takes some of {','.join(ARMS)}, got {text!r}")
    return [a for a in ARMS if a in chosen]  # textgrad runs before gepa: its calls are gepa's budget


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", choices=DOMAINS, help="which domain to measure")
    parser.add_argument("--table", action="store_true", help="only print the table of the results saved so far")
    parser.add_argument("--seeds", type=seeds, help="comma-separated seeds (default: the domain's)")
    parser.add_argument("--steps", type=int, help="optimization steps of every arm (default: the domain's)")
    parser.add_argument("--arms", type=arms, default=list(ARMS), help=f"arms to run (default {','.join(ARMS)})")
    parser.add_argument("--gepa-calls", type=int, help="gepa's LLM-call budget when the textgrad arm is not run")
    server = parser.add_argument_group("model server")
    server.add_argument("--server", help="base URL of a running OpenAI-compatible server (default: start tg serve)")
    server.add_argument("--model", default="default", help="model tg serve loads: default, light or a GGUF path")
    server.add_argument("--threads", type=int, default=1, help="tg serve threads (default 1, as tg serve: on busy cores more threads collapse)")
    server.add_argument("--ctx", type=int, default=16384, help="tg serve context length (default 16384)")
    under_test = parser.add_argument_group("tg-core under test")
    under_test.add_argument("--tg-core-python", help="interpreter of a venv with another tg-core installed")
    under_test.add_argument("--tg-core-checkout", type=Path,
                            help="another checkout of tg-core (e.g. a git worktree of an older commit); "
                                 "run with this venv's packages")
    under_test.add_argument("--baseline", action="store_true",
                            help="write quality-DOMAIN-baseline.json (the measurement before the optimizer changes)")
    under_test.add_argument("--equal-calls", action="store_true",
                            help="give tg-core textgrad's number of LLM calls on each case and seed (tg run "
                                 "--max-calls), from this run's textgrad arm or the one --keep-arms keeps; "
                                 "writes quality-DOMAIN-equal-calls.json")
    parser.add_argument("--budget-per-step", action="store_true",
                        help="the budgets textgrad sets (gepa's, and tg-core's with --equal-calls) are its calls "
                             "per step it began times the steps, not its total calls: a textgrad run that ends "
                             "early on an update it cannot parse still gives the others its rate for every step; "
                             "adds -per-step to the result file's name")
    parser.add_argument("--output", type=Path,
                        help="result file (default bench/results/quality-DOMAIN[-baseline|-equal-calls].json)")
    parser.add_argument("--keep-arms", action="store_true",
                        help="keep the result file's runs of the arms not run now (same steps, same seeds), each "
                             "marked with the date, command and tg-core it ran with")
    parser.add_argument("--workdir", type=Path, help="keep every run folder here (default: a temporary folder)")
    for name in DOMAINS:
        load_domain(name).add_arguments(parser)
    return parser


def check(parser: argparse.ArgumentParser, options: argparse.Namespace, domain: Domain) -> None:
    options.seeds = options.seeds if options.seeds is not None else list(domain.default_seeds)
    options.steps = options.steps if options.steps is not None else domain.default_steps
    if options.steps < 1:
        parser.error(f"--steps must be at least 1, got {options.steps}")
    if options.gepa_calls is not None and options.gepa_calls < 1:
        parser.error(f"--gepa-calls must be at least 1, got {options.gepa_calls}")
    if options.budget_per_step and not (options.equal_calls or "gepa" in options.arms):
        parser.error("--budget-per-step sets the budgets of gepa and of tg-core with --equal-calls: "
                     "add gepa to --arms or give --equal-calls")
    if options.threads < 1:
        parser.error(f"--threads must be at least 1, got {options.threads}")
    try:
        domain.check(options)
        options.kept_runs = kept_runs(result_path(options), options) if options.keep_arms else []
    except ValueError as exc:
        parser.error(str(exc))
    kept = {r["seed"] for r in options.kept_runs if r["arm"] == "textgrad"}
    textgrad_runs = "textgrad" in options.arms or set(options.seeds) <= kept
    if "gepa" in options.arms and not textgrad_runs and not options.gepa_calls:
        parser.error("--arms without textgrad needs --gepa-calls, or --keep-arms a result file with textgrad runs "
                     "of the same seeds (gepa's budget is textgrad's calls otherwise)")
    if options.equal_calls:
        if "tg-core" not in options.arms:
            parser.error("--equal-calls budgets the tg-core arm: add tg-core to --arms")
        if not textgrad_runs:
            parser.error("--equal-calls needs textgrad's calls: run the textgrad arm too, or --keep-arms a result "
                         f"file with textgrad runs of seeds {','.join(map(str, options.seeds))}")


def kept_runs(path: Path, options: argparse.Namespace) -> list[dict[str, Any]]:
    """The saved runs of arms not run now, for ``--keep-arms``: rerun one arm, keep the others' results."""
    if not path.is_file():
        raise ValueError(f"--keep-arms: {path} does not exist; there are no runs to keep")
    saved = json.loads(path.read_text())
    if saved.get("domain") != options.domain:
        raise ValueError(f"--keep-arms: {path} holds the {saved.get('domain')!r} domain, not {options.domain!r}")
    if saved["settings"]["steps"] != options.steps:
        raise ValueError(f"--keep-arms: {path} ran {saved['settings']['steps']} steps, this run {options.steps}")
    origin = {key: saved.get(key) for key in ("date", "command", "tg_core")}
    return [{**run, "kept_from": run.get("kept_from", origin)} for run in saved["runs"]
            if run["arm"] not in options.arms and run["seed"] in options.seeds]


def result_path(options: argparse.Namespace) -> Path:
    if options.output is not None:
        return options.output
    suffix = "-baseline" if options.baseline else "-equal-calls" if options.equal_calls else ""
    suffix += "-per-step" if options.budget_per_step else ""
    return RESULTS / f"quality-{options.domain}{suffix}.json"


def saved_table(baseline: bool = False, latest: Path | None = None) -> str:
    """One row per domain: the result files saved so far in bench/results, ``latest`` in place of its domain's."""
    from _common import table

    paths = {name: RESULTS / f"quality-{name}{'-baseline' if baseline else ''}.json" for name in DOMAINS}
    if latest is not None:
        paths[json.loads(latest.read_text())["domain"]] = latest
    # Summaries are recomputed from the runs, so a table always follows today's comparison rules.
    saved = {name: json.loads(path.read_text()) for name, path in paths.items() if path.is_file()}
    rows = [table_row(load_domain(name), summarize_runs(load_domain(name), data["runs"]), data.get("speed_probes"))
            for name, data in saved.items()]
    return table(TABLE_HEADERS, rows) if rows else "(no quality results saved yet)"


def versions() -> dict[str, str]:
    from gepa_env import GEPA_VERSION
    from textgrad_env import TEXTGRAD_VERSION

    return {"textgrad": TEXTGRAD_VERSION, "gepa": GEPA_VERSION}


def run(options: argparse.Namespace, domain: Domain) -> Path:
    pythons: dict[str, Path] = {}
    if "textgrad" in options.arms:
        from textgrad_env import textgrad_python

        pythons["textgrad"] = textgrad_python()
    if "gepa" in options.arms:
        from gepa_env import gepa_python

        pythons["gepa"] = gepa_python()
    tg_core = TgCore.from_options(options.tg_core_python, options.tg_core_checkout)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"quality-{domain.name}-") as tmp:
        workdir = (options.workdir or Path(tmp)).resolve()  # tg-core runs start in their own folders
        workdir.mkdir(parents=True, exist_ok=True)
        served = model_server(options.server, options.model, options.threads, options.ctx, workdir / "tg-serve.log")
        with served as (upstream, model_id, model):
            return _measure(options, domain, upstream, model_id, model, tg_core, pythons, workdir, began)


def _measure(options: argparse.Namespace, domain: Domain, upstream: str, model_id: str, model: dict[str, Any],
             tg_core: TgCore, pythons: dict[str, Path], workdir: Path, began: float) -> Path:
    record = Record(result_path(options), header(domain, options, model, tg_core.describe(), versions()))
    record.data["runs"].extend(options.kept_runs)
    record.data["summary"] = summarize_runs(domain, record.data["runs"])
    with BenchServer(upstream) as server:
        record.data["speed_probes"] = [speed_probe(server, model_id)]
        record.save()
        Runner(domain, server, model_id, options, workdir, tg_core, record, pythons).run()
        record.data["speed_probes"].append(speed_probe(server, model_id))
    record.data["summary"] = summarize_runs(domain, record.data["runs"])
    record.data["wall_s"] = time.perf_counter() - began
    # kept arms count too: this is what one command running every arm would take
    record.data["all_arms_minutes"] = domain_minutes(record.data["summary"])
    record.save()
    return record.path


def stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so the tg serve this run started is stopped too."""
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    if options.table:
        print(saved_table(options.baseline))
        return 0
    if options.domain is None:
        parser.error("give --domain (or --table)")
    domain = load_domain(options.domain)
    check(parser, options, domain)
    path = run(options, domain)
    data = json.loads(path.read_text())
    print(saved_table(options.baseline, path))
    print(f"\n{options.domain}: {data['wall_s']:.0f} s in all; written {path}")
    for run_record in data["runs"]:
        for case in (c for c in run_record["cases"] if c["error"]):
            finished = (f" (after {len(case['finished_steps'])} finished steps, kept in the result file)"
                        if "finished_steps" in case else "")
            print(f"  {run_record['arm']} seed {run_record['seed']} case {case['case']}: "
                  f"{case['error'].splitlines()[0][:200]}{finished}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    stop_on_sigterm()
    sys.exit(main())
