"""The ``tg`` command: list plugins, run tasks (with resume), serve the local model, build llama.cpp for this CPU."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from .errors import TGError

log = logging.getLogger("tg_core.cli")


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- tg plugins


def cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import get_plugins

    records = get_plugins().records
    if not records:
        _out("no plugins found (is TG_DISABLE_PLUGIN_AUTOLOAD set?)")
        return 0
    for record in sorted(records.values(), key=lambda r: r.name):
        state = "ok" if record.available else ("broken" if record.error else "missing dependencies")
        _out(f"{record.name} {record.version}  [{state}]  {record.description}".rstrip())
        for kind, names in sorted(record.contributions.items()):
            if names:
                _out(f"    {kind}: {', '.join(names)}")
        if record.missing:
            _out(f"    missing: {', '.join(record.missing)}  ->  {record.install_hint}")
        if record.error:
            _out(f"    error: {record.error}" + (f"  ->  {record.install_hint}" if record.install_hint else ""))
    return 0


# ---------------------------------------------------------------- tg run


def _explicit_steps(argv: list[str]) -> str | None:
    for i, item in enumerate(argv):
        if item == "--steps" and i + 1 < len(argv):
            return argv[i + 1]
        if item.startswith("--steps="):
            return item.split("=", 1)[1]
    return None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (timeout, systemd, batch schedulers) stops a run the way Ctrl-C does."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("run options")
    group.add_argument("--engine", help="engine spec, e.g. local, local:light, openai:gpt-4o-mini (default: $TG_ENGINE or local)")
    group.add_argument("--runs-dir", default="runs", help="folder where new run folders are created (default: runs)")
    group.add_argument("--run-dir", help="exact folder for this run (default: RUNS_DIR/TASK-TIMESTAMP)")
    group.add_argument("--no-cache", action="store_true", help="do not read or write the LLM response cache")
    group.add_argument("--max-calls", type=int, help="stop before making more than this many LLM calls")
    group.add_argument("--max-tokens", type=int, help="stop before using more than this many tokens")
    group.add_argument("--max-usd", type=float, help="stop before spending more than this many dollars")
    group.add_argument("--resume", metavar="RUN_DIR", default=argparse.SUPPRESS,
                       help="continue that run after its last completed step (its saved options are used)")


def _engine_for(spec: str | None, args: argparse.Namespace):
    from .engines import Budget, get_engine

    limits = {"--max-calls": args.max_calls, "--max-tokens": args.max_tokens, "--max-usd": args.max_usd}
    for option, value in limits.items():
        if value is not None and value <= 0:  # 0 would otherwise read as no limit at all
            raise TGError(f"{option} must be positive, got {value}")
    budget = None
    if any(value is not None for value in limits.values()):
        budget = Budget(args.max_calls, args.max_tokens, args.max_usd)
    return get_engine(spec, cache=not args.no_cache, budget=budget)


def cmd_run(
    args: argparse.Namespace, parser: argparse.ArgumentParser, tasks: dict[str, Any], argv: list[str]
) -> int:
    from .engines.registry import default_spec
    from .plugins import get_plugins
    from .runs import Run

    if args.resume:
        run = Run.resume(args.resume)
        saved = run.config.get("argv")
        if not isinstance(saved, list):
            raise TGError(f"--resume {args.resume}: config.json has no saved command line")
        if args.task and args.task != run.config.get("task"):
            raise TGError(f"--resume {args.resume}: that folder holds a {run.config.get('task')!r} run, "
                          f"not {args.task!r}")
        more_steps = _explicit_steps(argv)  # `--resume DIR --steps N` extends (or shortens) the run
        args = parser.parse_args(["run", *saved, *(["--steps", more_steps] if more_steps else [])])
        args.resume = str(run.path)
    elif not args.task:
        parser.error("tg run: name a TASK or give --resume RUN_DIR")
    task = tasks[args.task]
    owner = get_plugins().owner_of_task(task.name)
    if owner is not None and owner.missing:
        raise TGError(
            f"task {task.name!r} needs {', '.join(owner.missing)}, which are not installed: {owner.install_hint}"
        )
    if args.steps is not None and args.steps < task.min_steps:
        raise ValueError(f"--steps must be at least {task.min_steps}, got {args.steps}")
    task.validate(args)  # before any folder is made, so bad input leaves nothing behind
    spec = args.engine or (run.config.get("engine") if args.resume else None) or default_spec()
    engine = _engine_for(spec, args)  # before any folder is made, so a bad spec leaves nothing behind
    engine.check()
    if not args.resume:
        run = Run.create(args.runs_dir, task.name, {"argv": argv, "engine": spec}, path=args.run_dir)
    if args.resume:
        engine.usage.add_prior(run.prior_usage())  # totals and budgets span every process of the run
    run.engine = engine
    run.show_progress = True
    _err(f"tg run {task.name}: engine {spec} ({engine.model}); run folder {run.path}")
    if args.resume:
        _err(f"resuming after step {run.completed_steps}")
    try:
        with run, _sigterm_as_interrupt():
            summary = task.run(args, run) or {}
    except KeyboardInterrupt:
        run.finish_interrupted("interrupted (Ctrl-C or SIGTERM)")
        raise
    finally:
        _err(f"usage: {engine.usage.summary_line()}")
    if isinstance(summary.get("table"), str):
        _out(summary["table"])
    _out(f"report: {run.path / 'report.md'}")
    return 0


# ---------------------------------------------------------------- tg serve


def cmd_serve(args: argparse.Namespace) -> int:
    from .engines.server import serve

    serve(
        model=args.model,
        host=args.host,
        port=args.port,
        n_threads=args.threads,
        n_ctx=args.ctx,
        n_slots=args.slots,
        max_tokens=args.max_tokens,
        speculative=args.speculative,
        api_key=os.environ.get("TG_SERVE_API_KEY"),
        on_ready=lambda server: _err(
            f"serving {server.model} at {server.base_url} (OpenAI-compatible; Ctrl-C stops)"
        ),
    )
    return 0


# ---------------------------------------------------------------- tg build-llama


def cmd_build_llama(args: argparse.Namespace) -> int:
    from .engines import native_llama
    from .engines.llama import import_xllamacpp

    build = native_llama.plan_for_this_cpu()
    system_info = import_xllamacpp().get_system_info()
    built = native_llama.built_instructions(system_info)
    wanted = {name.removeprefix("GGML_") for name in build.extra}
    _out(f"{native_llama.PACKAGE} {build.version} installed with: {', '.join(native_llama.build_names(system_info))}")
    _out(f"this CPU can add: {', '.join(sorted(wanted)) or 'nothing beyond the wheel'}")
    if not build.worth_building:
        _out("nothing to build: the installed llama.cpp already uses what this CPU has")
        return 0
    if wanted <= built and not args.rebuild:
        _out("already built for this CPU")
        return 0
    if args.check:
        _out(f"tg build-llama would compile it with: {build.cmake_args}")
        return 0
    folder = native_llama.builds_folder() / build.tag
    wheel = None if args.rebuild else native_llama.cached_wheel(folder)
    if wheel is None:
        _err(f"compiling {native_llama.PACKAGE} {build.version} for this CPU (8-14 minutes on two cores; "
             f"log: {folder / 'build.log'})")
        wheel = native_llama.build_wheel(build, folder)
    else:
        _err(f"installing the wheel built before: {wheel}")
    native_llama.install_wheel(wheel)
    _out(f"installed {wheel.name} built with {', '.join(sorted(wanted))}")
    return 0


# ---------------------------------------------------------------- parser


def build_parser(tasks: dict[str, Any]) -> argparse.ArgumentParser:
    from .engines.defaults import (
        LOCAL_MAX_TOKENS,
        LOCAL_SPECULATIVE,
        SPECULATIVE_ENV,
        SPECULATIVE_TYPES,
    )
    from .engines.defaults import LOCAL_N_CTX as DEFAULT_N_CTX

    parser = argparse.ArgumentParser(prog="tg", description="tg-core: optimize text with textual gradients")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plugins", help="list plugins, what they contribute and what they miss")
    run = sub.add_parser("run", help="run a task contributed by a plugin")
    run.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last completed step")
    task_parsers = run.add_subparsers(dest="task", metavar="TASK", required=False)
    for name, task in sorted(tasks.items()):
        task_parser = task_parsers.add_parser(name, help=task.description, description=task.description)
        task_parser.add_argument(
            "--steps", type=int, default=task.default_steps,
            help="optimization steps (default "
            + (f"{task.default_steps})" if task.default_steps is not None else "chosen by the task)"),
        )
        task.add_arguments(task_parser)
        _add_run_options(task_parser)
    serve = sub.add_parser(
        "serve",
        help="serve the embedded model as an OpenAI-compatible server on 127.0.0.1",
        description="Set TG_SERVE_API_KEY to require that key from clients.",
    )
    serve.add_argument("--model", default="default", help="default, light, or a path to a GGUF file")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--threads", type=int, default=None,
                       help="CPU threads (default: $TG_LOCAL_THREADS, else the idle cores when the model loads)")
    serve.add_argument("--slots", type=int, default=None,
                       help="parallel slots, each its own prefix cache (default: $TG_LOCAL_SLOTS or 4)")
    serve.add_argument("--ctx", type=int, default=DEFAULT_N_CTX, help=f"context length in tokens (default {DEFAULT_N_CTX})")
    serve.add_argument("--max-tokens", type=int, default=LOCAL_MAX_TOKENS,
                       help=f"answer length for requests that set no max_tokens (default {LOCAL_MAX_TOKENS})")
    serve.add_argument("--speculative", choices=SPECULATIVE_TYPES, default=None,
                       help="llama.cpp's draftless speculative decoding, drafting from text already seen "
                            f"(default: ${SPECULATIVE_ENV}, else {LOCAL_SPECULATIVE})")
    build = sub.add_parser(
        "build-llama",
        help="compile llama.cpp for this CPU's instruction sets (AVX-512), in place of the portable wheel",
        description="Prompt evaluation runs faster on CPUs with AVX-512; the built wheel is kept in the tg-core "
                    "cache for other environments on this machine.",
    )
    build.add_argument("--check", action="store_true", help="say what would be built, build nothing")
    build.add_argument("--rebuild", action="store_true", help="compile again even if a build is installed or kept")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .plugins import get_plugins

    tasks = get_plugins().tasks()
    parser = build_parser(tasks)
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "plugins":
            return cmd_plugins(args)
        if args.command == "run":
            run_argv = list(argv if argv is not None else sys.argv[1:])
            return cmd_run(args, parser, tasks, run_argv[run_argv.index("run") + 1 :])
        if args.command == "build-llama":
            return cmd_build_llama(args)
        return cmd_serve(args)
    except (TGError, FileNotFoundError, FileExistsError, ValueError) as exc:
        _err(f"tg: error: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("tg: interrupted; completed steps are saved, continue with --resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
