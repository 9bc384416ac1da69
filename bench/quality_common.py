"""What every domain of the quality benchmark shares: the model server, the arms, the record.

A domain module (``quality_text.py`` ...) subclasses :class:`Domain`; this
module runs its four arms the same way for every domain:

- **start**: the starting value, measured;
- **textgrad**: ``quality_textgrad_side.py`` under textgrad 0.1.8's own venv;
- **gepa**: ``quality_gepa_side.py`` under gepa 0.1.4's own venv, stopped once
  it has made as many LLM calls as textgrad made on the same case and seed;
- **tg-core**: ``python -m tg_core.cli run TASK ... --engine openai:MODEL
  --no-cache`` with ``OPENAI_BASE_URL`` at the bench proxy, exactly as a user
  would run it against ``tg serve``.

Every arm's final value is then measured by the domain's own code, with any
LLM calls the measurement needs counted apart from the arm's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import machine
from quality_server import SEED_STRIDE, TIMING_COUNTERS, BenchServer, model_timings

log = logging.getLogger("bench.quality")

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
ARMS = ("start", "textgrad", "gepa", "tg-core")
SERVE_READY_TIMEOUT_S = 900.0
DOMAIN_LIMIT_MIN = 90  # every arm of one domain, runs and measurements, on the 2-core machine
ARM_TIMEOUT_S = 4 * 3600.0
# The bench's own calls (judges, answers) wait as long as the model takes on a busy machine.
SIDE_CALL_TIMEOUT_S = 3600.0
# ... and stop at this many tokens: llama.cpp otherwise generates until the context is full
# when a degenerate text (textgrad once grew one to 1,800 words) makes the model repeat itself.
BENCH_MAX_TOKENS = 1024
# tg-core subprocesses start here: ``python -m`` puts the current folder first on sys.path,
# which would import the tg_core of a checkout the caller stands in instead of the one under test.
NEUTRAL_CWD = tempfile.gettempdir()


# ---------------------------------------------------------------- the model server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_models(base_url: str, timeout_s: float = 5.0) -> list[str]:
    """The model ids an OpenAI-compatible server lists at ``/models``."""
    with urllib.request.urlopen(base_url.rstrip("/") + "/models", timeout=timeout_s) as response:
        return [m["id"] for m in json.loads(response.read()).get("data", [])]


@contextlib.contextmanager
def tg_serve(model: str, threads: int, ctx: int, log_path: Path, slots: int | None = None,
             python: str = sys.executable, speculative: str | None = None) -> Iterator[str]:
    """Start ``tg serve`` (the tg-core of ``python``'s environment, this one's by default) on a free port;
    yield its base URL; stop it."""
    port = free_port()
    command = [python, "-m", "tg_core.cli", "serve", "--model", model, "--port", str(port),
               "--threads", str(threads), "--ctx", str(ctx), *(["--slots", str(slots)] if slots else []),
               *(["--speculative", speculative] if speculative else [])]
    base_url = f"http://127.0.0.1:{port}/v1"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVE_READY_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"tg serve exited with {process.returncode}; see {log_path}")
                try:
                    served_models(base_url)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"tg serve did not answer within {SERVE_READY_TIMEOUT_S:.0f} s") from None
                    time.sleep(2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 * 1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def model_server(
    server: str | None, model: str, threads: int, ctx: int, log_path: Path
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """The server every framework talks to: ``server`` (a running one's URL) or a ``tg serve`` of
    ``model`` started here. Yields its base URL, the model id it serves, and what a result records of it
    (the model file and digest only when the bench started the server: an external one loads its own), with
    the instruction sets of the llama.cpp that runs it: this environment's (``tg build-llama``'s or the wheel's),
    and its speculative decoding (``$TG_LOCAL_SPECULATIVE`` reaches tg serve as it reaches this process)."""
    from tg_core.engines import native_llama
    from tg_core.engines.llama import choose_speculative, import_xllamacpp

    if server:
        upstream = server.rstrip("/")
        model_id = served_models(upstream)[0]
        yield upstream, model_id, {"server": upstream, "served_as": model_id,
                                   "note": "an external server: its model file and digest are whatever it loaded"}
        return
    record = model_record(model)
    with tg_serve(model, threads, ctx, log_path) as upstream:
        model_id = served_models(upstream)[0]
        record.update(server="tg serve (started by the bench)", served_as=model_id, threads=threads, ctx=ctx,
                      llama_cpp_instructions=native_llama.build_names(import_xllamacpp().get_system_info()),
                      speculative=choose_speculative())
        yield upstream, model_id, record


# A fixed request whose timings say how fast the machine runs the model: the same work every time
# (its prompt evaluated whole, PROBE_TOKENS generated however the answer goes), one call alone.
# The answer must be new text: tg serve drafts what its context or an earlier answer holds
# (speculative decoding), which would make a copied answer, or the same answer twice, look fast.
# So the probe asks for a story, sampled with a new seed each time.
PROBE_TEXT = ("Here are some numbers: " + " ".join(str(n) for n in range(150))
              + "\n\nDo not repeat them. Write a story about a lighthouse keeper instead.")
PROBE_TOKENS = 64


def speed_probe(server: BenchServer, model_id: str) -> dict[str, Any] | None:
    """llama.cpp's timings of the probe request, with its tokens per second (``None`` from a server that
    reports no timings, or fails: the runs matter more than the probe). Sent past the proxy's counting, as
    no arm's call. The arms' own timings cannot say this: calls in flight together each run slower."""
    body = {"model": model_id, "messages": [{"role": "user", "content": PROBE_TEXT}], "max_tokens": PROBE_TOKENS,
            "temperature": 1.0, "seed": random.SystemRandom().randrange(2**31), "cache_prompt": False,
            "ignore_eos": True}
    status, payload = server.forward("POST", "/chat/completions", body)
    try:
        reply = json.loads(payload) if status == 200 else {}
    except ValueError:
        reply = {}
    timings = model_timings(reply)
    if not timings or not timings["prompt_ms"] or not timings["predicted_ms"]:
        log.warning("speed probe of %s: no timings (status %d)", server.upstream, status)
        return None
    return {**timings, "prompt_tokens_per_s": 1000 * timings["prompt_n"] / timings["prompt_ms"],
            "completion_tokens_per_s": 1000 * timings["predicted_n"] / timings["predicted_ms"],
            "date": dt.datetime.now().isoformat(timespec="seconds")}


def model_record(model: str) -> dict[str, Any]:
    """The GGUF file ``tg serve --model MODEL`` loads, and its sha256 (pinned ones are verified on load)."""
    from tg_core.engines import model_files

    spec = model_files.model_spec(model)
    path = model_files.locate(spec)
    known = spec.known
    return {"spec": model, "label": spec.label, "file": str(path), "size": path.stat().st_size,
            "sha256": known.sha256 if known is not None else sha256_of(path),
            "sha256_source": "pinned and verified by tg-core" if known is not None else "computed by the bench"}


# ---------------------------------------------------------------- the tg-core under test


def checkout_path(checkout: Path) -> dict[str, str]:
    """Environment that makes this interpreter import tg-core and its plugins from ``checkout``.

    For a baseline from an older commit: a folder of links (tg_core, and each
    plugin under its import name) plus a dist-info with that checkout's
    entry points goes first on PYTHONPATH, so imports and plugin discovery
    both see the checkout while third-party packages come from this venv.
    """
    import tomllib

    pyproject = tomllib.loads((checkout / "pyproject.toml").read_text())
    folder = checkout / ".bench-path"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    (folder / "tg_core").symlink_to(checkout / "tg_core")
    for name, where in pyproject["tool"]["setuptools"].get("package-dir", {}).items():
        (folder / name).symlink_to(checkout / where)
    info = folder / f"tg_core-{pyproject['project']['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tg-core\nVersion: {pyproject['project']['version']}\n")
    points = pyproject["project"].get("entry-points", {})
    lines = []
    for group, entries in points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{k} = {v}" for k, v in entries.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return {"PYTHONPATH": str(folder)}


@dataclass
class TgCore:
    """How the tg-core arm is launched: an interpreter and extra environment."""

    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)
    _options: dict[str, set[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_options(cls, python: str | None, checkout: Path | None) -> TgCore:
        if python and checkout:
            raise ValueError("give --tg-core-python or --tg-core-checkout, not both")
        if checkout is not None:
            if not (checkout / "tg_core" / "cli.py").is_file():
                raise ValueError(f"--tg-core-checkout {checkout}: not a tg-core checkout (no tg_core/cli.py)")
            return cls(sys.executable, checkout_path(checkout.resolve()))
        if python is not None and not Path(python).is_file():
            raise ValueError(f"--tg-core-python {python}: no such interpreter")
        return cls(python or sys.executable)

    def options(self, task: str) -> set[str]:
        """The options ``tg run TASK`` of this tg-core accepts (an older checkout may lack some)."""
        if task not in self._options:
            done = subprocess.run([self.python, "-m", "tg_core.cli", "run", task, "--help"], cwd=NEUTRAL_CWD,
                                  capture_output=True, text=True, env={**os.environ, **self.env}, check=True)
            self._options[task] = set(re.findall(r"--[a-z][a-z0-9-]*", done.stdout))
        return self._options[task]

    def describe(self) -> dict[str, Any]:
        """Which tg-core the arm runs: its folder and commit."""
        probe = subprocess.run(
            [self.python, "-c", "import os, tg_core; print(os.path.dirname(os.path.realpath(tg_core.__file__)))"],
            capture_output=True, text=True, env={**os.environ, **self.env}, check=True, cwd=NEUTRAL_CWD,
        )
        root = Path(probe.stdout.strip()).parent
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        return {"python": self.python, "checkout": str(root), "commit": commit.stdout.strip() or None,
                "uncommitted_changes": bool(dirty.stdout.strip()), **({"env": self.env} if self.env else {})}


# ---------------------------------------------------------------- one arm on one case


@dataclass
class Context:
    """What a domain needs to run and measure one seed."""

    server: BenchServer
    model: str
    seed: int
    steps: int
    options: argparse.Namespace
    workdir: Path
    tg_core: TgCore

    def engine(self, account: str) -> Any:
        """A tg-core engine for the bench's own calls, counted under ``account``."""
        from tg_core.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(self.model, base_url=self.server.base_url(account), api_key="not-needed",
                            timeout_s=SIDE_CALL_TIMEOUT_S,
                            default_params={"temperature": 0, "max_tokens": BENCH_MAX_TOKENS})


class Domain:
    """One domain of the benchmark. Subclasses fill in the pieces; the runner does the rest."""

    name = ""
    task = ""  # tg run TASK
    metric = ""  # the headline, as the table names it
    reconstructed = ""  # what the textgrad program had to reconstruct, for the record
    default_seeds: tuple[int, ...] = (0,)
    default_steps = 3

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Size options of this domain."""

    def check(self, options: argparse.Namespace) -> None:
        """Raise ValueError naming the option when a size is out of range."""

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        raise NotImplementedError

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        """The starting value (``{"value": ...}``); ``engine`` is the start arm's, for zero-shot values."""
        raise NotImplementedError

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        raise NotImplementedError

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        """The final value (and per-step values) of a finished ``tg run``."""
        raise NotImplementedError

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        """Answer the sides' ``/eval/ACCOUNT/NAME`` requests (simulators, judges)."""
        raise NotImplementedError

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        """The metrics of one case's outcome; ``engine`` counts apart from the arm."""
        raise NotImplementedError

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        """One seed's metrics from its cases' metrics."""
        raise NotImplementedError

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        """Comparable (higher is better) form of a summary, to tell better from worse."""
        raise NotImplementedError

    def cell(self, summary: dict[str, Any]) -> str:
        raise NotImplementedError

    def mean_summary(self, summaries: list[dict[str, Any]]) -> dict[str, Any]:
        """Mean over seeds of every numeric field."""
        return mean_fields(summaries)


def mean_fields(records: list[dict[str, Any]]) -> dict[str, Any]:
    if not records:
        return {}
    out: dict[str, Any] = {}
    for name in records[0]:
        values = [r.get(name) for r in records]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(values):
            out[name] = sum(numbers) / len(numbers)
    return out


def side_env(workdir: Path) -> dict[str, str]:
    """Environment of a textgrad or GEPA process: fresh caches and logs inside ``workdir``."""
    return {
        **os.environ,
        "PYTHONPATH": str(BENCH),
        "XDG_CACHE_HOME": str(workdir / "cache"),  # textgrad's response cache: a fresh one per run
        "TEXTGRAD_LOG_DIR": str(workdir / "logs"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # litellm (imported by textgrad) would fetch prices
        "OPENAI_API_KEY": "not-needed",
    }


def run_side(python: Path, script: str, spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run a side script under another venv with ``spec``; its result is the last stdout line (JSON)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "spec.json").write_text(json.dumps(spec, indent=2))
    done = subprocess.run(
        [str(python), str(BENCH / script), str(workdir / "spec.json")],
        cwd=workdir, env=side_env(workdir), capture_output=True, text=True, timeout=ARM_TIMEOUT_S,
    )
    (workdir / "stderr.txt").write_text(done.stderr)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"{script} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_tg_core(tg_core: TgCore, task: str, args: list[str], engine: str, run_dir: Path,
                env: dict[str, str] | None = None) -> list[str]:
    """``tg run TASK ARGS --engine ENGINE --no-cache``, as a user runs it, with ``env`` set; the command run."""
    command = [tg_core.python, "-m", "tg_core.cli", "run", task, *args, "--engine", engine,
               "--no-cache", "--run-dir", str(run_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **tg_core.env, **(env or {})},
                          timeout=ARM_TIMEOUT_S,
                          cwd=run_dir.parent)  # not the caller's folder: python -m puts it before PYTHONPATH
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "bench-command.txt").write_text(" ".join(command) + "\n")
    (run_dir / "bench-stderr.txt").write_text(done.stderr)
    if done.returncode != 0:
        # the CLI's own reason, first: the tail of stderr is mostly progress bars
        reasons = [line for line in done.stderr.splitlines() if line.startswith("tg: error:")]
        reason = reasons[-1] if reasons else "no 'tg: error:' line; see its stderr"
        raise RuntimeError(f"tg run {task} failed ({done.returncode}): {reason}\n{done.stderr[-3000:]}")
    return command


def finished_steps(run_dir: Path) -> list[dict[str, str]]:
    """Every variable's value after each step a tg run finished (its checkpoints). Kept in the record
    of a run that failed later, so the steps it did are not lost with it."""
    return [json.loads(path.read_text())["variables"] for path in sorted((run_dir / "checkpoints").glob("step-*.json"))]


def read_checkpoints(run_dir: Path, variable: str | None = None) -> list[str]:
    """The value of ``variable`` (default: the run's only one) after each completed step of a tg run."""
    values = []
    for step, variables in enumerate(finished_steps(run_dir), 1):
        if variable is None and len(variables) != 1:
            raise ValueError(f"{run_dir} step {step}: {len(variables)} variables ({', '.join(variables)}); "
                             "name the one to read")
        values.append(variables[variable] if variable is not None else next(iter(variables.values())))
    return values


# ---------------------------------------------------------------- the record


class Record:
    """The result file, rewritten after every arm of every seed so a long run is never lost."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        self.data = {**header, "runs": [], "summary": {}}

    def add(self, run: dict[str, Any]) -> None:
        self.data["runs"].append(run)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        os.replace(tmp, self.path)


def header(domain: Domain, options: argparse.Namespace, model: dict[str, Any], tg_core: dict[str, Any],
           versions: dict[str, str]) -> dict[str, Any]:
    return {
        "benchmark": f"quality-{domain.name}",
        "domain": domain.name,
        "baseline": bool(options.baseline),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "model": model,
        "settings": {
            "seeds": options.seeds, "steps": options.steps, "arms": options.arms,
            "seed_rule": f"request seed + {SEED_STRIDE} x bench seed (requests without one: 0)",
            "caches": "off: tg-core --no-cache; textgrad a fresh XDG_CACHE_HOME per run; gepa keeps none",
            "gepa_budget": f"stops once its LLM calls reach {budget_rule(options)}"
                           + (f" (else {options.gepa_calls})" if options.gepa_calls else ""),
            "tg_core_budget": (f"tg run --max-calls: {budget_rule(options)}"
                               if options.equal_calls else "none: its defaults"),
            **domain.settings(options),
        },
        "tg_core": tg_core,
        "versions": versions,
        "reconstructed": domain.reconstructed,
    }


# ---------------------------------------------------------------- running a domain


def _usage_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


class Runner:
    """Runs one domain's arms over its seeds and cases and fills the record."""

    def __init__(self, domain: Domain, server: BenchServer, model: str, options: argparse.Namespace,
                 workdir: Path, tg_core: TgCore, record: Record, pythons: dict[str, Path]) -> None:
        self.domain = domain
        self.server = server
        self.model = model
        self.options = options
        self.workdir = workdir
        self.tg_core = tg_core
        self.record = record
        self.pythons = pythons
        self._routes: dict[str, tuple[Context, dict[str, Any]]] = {}
        self.evaluated: dict[str, list[dict[str, Any]]] = {}  # account -> the sides' evaluation requests
        server.evaluator = self._evaluate

    def _evaluate(self, account: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        if account not in self._routes:
            raise KeyError(f"no case is running under account {account!r}")
        ctx, case = self._routes[account]
        self.evaluated.setdefault(account, []).append({"name": name, **payload})
        return self.domain.evaluate(ctx, case, name, payload, ctx.engine(account))

    def run(self) -> None:
        for seed in self.options.seeds:
            self.server.seed = seed
            ctx = Context(self.server, self.model, seed, self.options.steps, self.options,
                          self.workdir / f"seed-{seed}", self.tg_core)
            cases = self.domain.cases(self.options)
            starts = [self._start(ctx, i, case) for i, case in enumerate(cases)]
            for arm in self.options.arms:
                self._arm(ctx, arm, cases, starts)

    def _start(self, ctx: Context, index: int, case: dict[str, Any]) -> dict[str, Any]:
        """The case's starting value: the kept start arm's where --keep-arms kept one, so every arm starts alike.

        A zero-shot start (code) is one greedy call, yet llama.cpp is not
        bit-reproducible here: made again it may differ from the kept start.
        """
        made = self._recorded("start", ctx.seed, index)  # starts come before any arm of the seed: a kept one
        if made and (made.get("outcome") or {}).get("value"):
            return {"value": made["outcome"]["value"], "wall_s": made["wall_s"], "usage": made["usage"]}
        account = f"start-s{ctx.seed}-c{index}"
        began = time.perf_counter()
        start = self.domain.start(ctx, case, ctx.engine(account))
        return {**start, "wall_s": time.perf_counter() - began, "usage": self.server.usage(account)}

    def _arm(self, ctx: Context, arm: str, cases: list[dict[str, Any]], starts: list[dict[str, Any]]) -> None:
        results = []
        for index, (case, start) in enumerate(zip(cases, starts, strict=True)):
            results.append(self._case(ctx, arm, index, case, start))
        measured = [r["metrics"] for r in results if r.get("metrics") is not None]
        total = {k: sum(r["usage"][k] for r in results) for k in ("calls", "prompt_tokens", "completion_tokens")}
        self.record.add({
            "arm": arm, "seed": ctx.seed, "cases": results,
            "metrics": self.domain.summarize(measured) if len(measured) == len(results) else None,
            "failed_cases": [r["case"] for r in results if r.get("error")],
            **total, "wall_s": sum(r["wall_s"] for r in results),
            "measurement_s": sum(r.get("measurement_s", 0.0) for r in results),
            "model_timings": run_timings(results),
        })
        self.record.data["summary"] = summarize_runs(self.domain, self.record.data["runs"])
        self.record.save()

    def _case(self, ctx: Context, arm: str, index: int, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        account = f"{arm}-s{ctx.seed}-c{index}"
        folder = ctx.workdir / arm / f"case-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        self._routes[account] = (ctx, case)
        before = self.server.usage(account)
        began = time.perf_counter()
        error = None
        outcome: dict[str, Any] | None = None
        try:
            outcome = self._outcome(ctx, arm, index, case, start, account, folder)
        except Exception as exc:  # one arm failing must not lose the others: record it and go on
            error = f"{type(exc).__name__}: {exc}"
        wall = time.perf_counter() - began
        usage = _usage_delta(before, self.server.usage(account))
        if arm == "start":  # its calls (a zero-shot value) were made when the start was made
            usage, wall = start["usage"], start["wall_s"]
        result: dict[str, Any] = {"case": case["id"], "usage": usage, **usage, "wall_s": wall, "error": error}
        if arm == "gepa" or (arm == "tg-core" and self.options.equal_calls):
            result["budget_calls"] = self._textgrad_budget(ctx, index) or self.options.gepa_calls
        if error and arm == "tg-core":
            result["finished_steps"] = finished_steps(folder / "run")
        if outcome is not None:
            outcome.setdefault("evaluated", self.evaluated.get(account, []))
            error = outcome.get("error")
            measure_account = f"measure-{account}"
            self._routes[measure_account] = (ctx, case)
            measuring = time.perf_counter()
            result["metrics"] = self.domain.measure(ctx, case, outcome, ctx.engine(measure_account))
            result["measurement_s"] = time.perf_counter() - measuring
            result["evaluations"] = len(outcome["evaluated"])  # kept in the outcome: bench/quality_remeasure.py reads them
            result["measurement_usage"] = self.server.usage(measure_account)
            result.update(outcome=outcome, error=error)
        return result

    def _outcome(self, ctx: Context, arm: str, index: int, case: dict[str, Any], start: dict[str, Any],
                 account: str, folder: Path) -> dict[str, Any]:
        common = {"model": self.model, "base_url": self.server.base_url(account),
                  "eval_url": self.server.eval_url(account), "usage_url": f"{self.server.url}/usage/{account}",
                  "seed": ctx.seed, "steps": ctx.steps}
        if arm == "start":
            return {"value": start["value"], "trajectory": [start["value"]]}
        if arm == "textgrad":
            spec = {**common, **self.domain.textgrad_spec(ctx, case, start)}
            return run_side(self.pythons["textgrad"], "quality_textgrad_side.py", spec, folder)
        if arm == "gepa":
            budget = self._gepa_budget(ctx, index)
            spec = {**common, "budget_calls": budget, **self.domain.gepa_spec(ctx, case, start)}
            return run_side(self.pythons["gepa"], "quality_gepa_side.py", spec, folder)
        run_dir = folder / "run"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        args = self.domain.tg_core_args(ctx, case, start, folder)
        if self.options.equal_calls:
            args += ["--max-calls", str(self._textgrad_budget(ctx, index))]
        run_tg_core(self.tg_core, self.domain.task, args, f"openai:{self.model}", run_dir,
                    {"OPENAI_BASE_URL": self.server.base_url(account), "OPENAI_API_KEY": "not-needed"})
        return self.domain.tg_core_outcome(run_dir, case)

    def _gepa_budget(self, ctx: Context, index: int) -> int:
        budget = self._textgrad_budget(ctx, index) or self.options.gepa_calls
        if not budget:
            raise RuntimeError("the gepa arm needs a budget: run the textgrad arm first or give --gepa-calls")
        return budget

    def _textgrad_budget(self, ctx: Context, index: int) -> int:
        """The budget textgrad's run of this case and seed sets (this run's, else the kept one's; 0: none)."""
        case = self._recorded("textgrad", ctx.seed, index)
        if case is None:
            return 0
        return per_step_budget(case, ctx.steps) if self.options.budget_per_step else case["calls"]

    def _recorded(self, arm: str, seed: int, index: int) -> dict[str, Any] | None:
        """Case ``index`` of the recorded run of ``arm`` and ``seed``: made in this run or kept by --keep-arms."""
        runs = [r for r in self.record.data["runs"] if r["arm"] == arm and r["seed"] == seed]
        return runs[0]["cases"][index] if runs and index < len(runs[0]["cases"]) else None


def budget_rule(options: argparse.Namespace) -> str:
    """The budget that textgrad's runs set, in words, for the result file's settings."""
    if options.budget_per_step:
        return ("textgrad's LLM calls per step it began, times the steps, on the same case and seed "
                "(at least its calls)")
    return "textgrad's LLM calls on the same case and seed"


def attempted_steps(case: dict[str, Any], steps: int) -> int:
    """The steps textgrad began on a case: its run ends at the step that raised (``step N: ...``)."""
    failed = re.match(r"step (\d+):", case.get("error") or "")
    if failed:
        return int(failed.group(1))
    trajectory = (case.get("outcome") or {}).get("trajectory")
    return max(1, len(trajectory) - 1) if trajectory else steps


def per_step_budget(case: dict[str, Any], steps: int) -> int:
    """textgrad's calls per step it began, times ``steps``: the same rate of calls for every step.

    textgrad 0.1.8 ends a run when the model forgets its update tags, often at
    the first step; its total calls would then give the other arms one step's
    worth for all of theirs, which is no longer the same calls per step.
    """
    return max(case["calls"], case["calls"] * steps // attempted_steps(case, steps))


def run_timings(cases: list[dict[str, Any]]) -> dict[str, int]:
    """llama.cpp's timings summed over an arm's cases, its own calls and its measurements' alike."""
    usages = [u for case in cases for u in (case["usage"], case.get("measurement_usage") or {})]
    return {k.removeprefix("timings_"): sum(u.get(k, 0) for u in usages) for k in TIMING_COUNTERS}


def summarize_runs(domain: Domain, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per arm: metrics averaged over the seeds where every case finished, total calls, tokens, wall time."""
    out: dict[str, Any] = {}
    for arm in ARMS:
        mine = [r for r in runs if r["arm"] == arm]
        if not mine:
            continue
        complete = [r["metrics"] for r in mine if r["metrics"] is not None]
        out[arm] = {
            "seeds": [r["seed"] for r in mine],
            "seeds_complete": len(complete),
            "metrics": domain.mean_summary(complete) if complete else None,
            **{k: sum(r[k] for r in mine) for k in ("calls", "prompt_tokens", "completion_tokens", "wall_s")},
            # runs recorded before measurements were timed have none: then the arm's total is unknown
            "measurement_s": (sum(r["measurement_s"] for r in mine)
                              if all("measurement_s" in r for r in mine) else None),
        }
        timed = [r["model_timings"] for r in mine if "model_timings" in r]  # runs kept from older files have none
        if timed:
            # older runs recorded no draft counts: they count as none
            names = dict.fromkeys(name for t in timed for name in t)
            out[arm]["model_timings"] = {name: sum(t.get(name, 0) for t in timed) for name in names}
    start = (out.get("start") or {}).get("metrics")
    for arm, entry in out.items():
        if arm != "start" and start and entry["metrics"]:
            entry["vs_start"] = compare(domain.key(entry["metrics"]), domain.key(start))
    return out


def domain_minutes(summary: dict[str, Any]) -> float | None:
    """What running every arm of the summary costs in one command, in minutes: each arm's runs and the
    measurement of its results, kept arms included (``None`` when a run predates timed measurements).
    The issue's limit for a domain is ``DOMAIN_LIMIT_MIN``."""
    if any(entry["measurement_s"] is None for entry in summary.values()):
        return None
    return sum(entry["wall_s"] + entry["measurement_s"] for entry in summary.values()) / 60


def compare(key: tuple[float, ...], start: tuple[float, ...]) -> str:
    """Lexicographic, with values equal to nine digits counted as equal: the same plan solved
    twice differs in the 14th digit, and must not be shown as worse than the start."""
    for mine, theirs in zip(key, start, strict=True):
        if not math.isclose(mine, theirs, rel_tol=1e-9, abs_tol=1e-12):
            return "better" if mine > theirs else "worse"
    return "same"


# ---------------------------------------------------------------- the table


TABLE_HEADERS = ["domain", "metric", "start", "textgrad", "gepa", "tg-core",
                 "calls tg/gepa/core", "wall s tg/gepa/core", "all arms, min"]


def table_row(domain: Domain, summary: dict[str, Any], probes: list[dict[str, Any] | None] | None = None) -> list[str]:
    """One domain: metric, each arm's value (worse than the start marked), calls and wall time, and how fast
    the model ran when the run began and ended (``probes``, see ``speed_probe``)."""
    cells = []
    for arm in ARMS:
        entry = summary.get(arm)
        if not entry or not entry["metrics"]:
            cells.append("-" if not entry else "failed")
            continue
        text = domain.cell(entry["metrics"])
        if entry.get("vs_start") == "worse":
            text += " WORSE than start"
        failed = len(entry["seeds"]) - entry["seeds_complete"]
        if failed:
            text += f" ({failed} of {len(entry['seeds'])} seeds failed)"
        cells.append(text)

    def per_arm(key: str, fmt: str) -> str:
        return "/".join(format(summary[a][key], fmt) if a in summary else "-" for a in ("textgrad", "gepa", "tg-core"))

    minutes = domain_minutes(summary)
    if minutes is None:
        total = "unknown (measurement not timed)"
    else:
        total = f"{minutes:.0f}" + (f" OVER the {DOMAIN_LIMIT_MIN}" if minutes > DOMAIN_LIMIT_MIN else "")
    speeds = [f"{p['prompt_tokens_per_s']:.0f}/{p['completion_tokens_per_s']:.0f}" for p in probes or () if p]
    if speeds:
        total += f" (model {' -> '.join(speeds)} tok/s)"
    return [domain.name, domain.metric, *cells, per_arm("calls", "d"), per_arm("wall_s", ".0f"), total]
