"""The embedded model: speed and memory of LocalEngine against xllamacpp driven directly.

For the default and light models with 1 and 2 threads, each side runs in its
own process (so peak RSS is its own) with the same llama.cpp settings and the
same requests: a warm-up, then per prompt a 1-token call (time to first token:
prompt processing plus one token, as a caller waits for it) and a 64-token
call (end-to-end tokens/s). Both processes stay loaded and the parent calls
them in alternation; ratios are medians over adjacent pairs of calls on the
same prompt, so a busy machine slows both sides alike.
Goals: LocalEngine reaches >= 0.95 of the direct tokens/s and of its
time-to-first-token speed; the default model peaks below 2.5 GB RSS.

    python bench/local_model.py [--rounds N] [--models default,light] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save, table  # noqa: E402

from tg_core.engines.defaults import LOCAL_N_CTX  # noqa: E402

N_CTX = LOCAL_N_CTX  # the memory goal is about what users get by default
GEN_TOKENS = 64
PROMPTS = [
    "Write a Python function that parses ISO 8601 dates, with a docstring and examples.",
    "Explain in detail how a hash map handles collisions.",
    "List twenty fruits, each with a one-line description.",
]
GOALS = {"tok_s_ratio_min": 0.95, "ttft_ratio_min": 0.95, "default_peak_rss_gb_max": 2.5}


def _messages(prompt: str, tag: str) -> list[dict[str, str]]:
    # A distinct tag per call keeps llama.cpp's prompt cache from skipping the prompt.
    return [{"role": "user", "content": f"[{tag}] {prompt}"}]


def _direct(path: str, threads: int):
    """xllamacpp as its README drives it, with the settings LocalEngine uses."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    server = xllamacpp.Server(params)

    def call(messages, max_tokens):
        result = server.handle_chat_completions(
            {"messages": messages, "temperature": 0.0, "max_tokens": max_tokens, "seed": 0}
        )
        return result["usage"]["completion_tokens"]

    return call


def _engine(path: str, threads: int):
    from tg_core.engines.local import LocalEngine

    engine = LocalEngine(path, n_threads=threads, n_ctx=N_CTX)
    engine.load()

    def call(messages, max_tokens):
        return engine.complete(messages, max_tokens=max_tokens).completion_tokens

    return call


def worker(model: str, threads: int, side: str) -> None:
    """Load one side, then answer timing requests from the parent, one JSON line each."""
    from tg_core.engines.model_files import resolve_model

    path = str(resolve_model(model))
    began = time.perf_counter()
    call = (_direct if side == "direct" else _engine)(path, threads)
    print(json.dumps({"load_s": time.perf_counter() - began}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        start = time.perf_counter()
        tokens = call(_messages(request["prompt"], request["tag"]), request["max_tokens"])
        print(json.dumps({"wall_s": time.perf_counter() - start, "tokens": tokens}), flush=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_rss_gb": peak_kb * 1024 / 1e9}), flush=True)


class Side:
    """One side in its own process, so its peak memory is its own."""

    def __init__(self, model: str, threads: int, side: str) -> None:
        cmd = [sys.executable, __file__, "--worker", model, str(threads), side]
        # llama.cpp's own messages, shown if the worker dies; closed in finish()
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        self.load_s = self._read()["load_s"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError(f"worker {self.proc.args} died (exit {self.proc.wait()}):\n"
                               f"{self.log.read()[-3000:]}")
        return json.loads(line)

    def call(self, prompt: str, tag: str, max_tokens: int) -> dict:
        self.proc.stdin.write(json.dumps({"prompt": prompt, "tag": tag, "max_tokens": max_tokens}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def finish(self) -> float:
        self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
        self.proc.stdin.flush()
        peak = self._read()["peak_rss_gb"]
        self.proc.wait(timeout=60)
        self.log.close()
        return peak


def measure(model: str, threads: int, rounds: int) -> dict:
    """Both sides loaded at once and called in alternation, so machine load hits both alike."""
    sides = {"direct": Side(model, threads, "direct"), "engine": Side(model, threads, "engine")}
    ttft: dict[str, list[float]] = {name: [] for name in sides}
    tok_s: dict[str, list[float]] = {name: [] for name in sides}
    tokens: dict[str, int] = {name: 0 for name in sides}
    for side in sides.values():
        side.call("Say hi.", "warm-up", 4)
    for round_ in range(rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for i, prompt in enumerate(PROMPTS):
            for name in order:
                ttft[name].append(sides[name].call(prompt, f"{round_}.{i}a", 1)["wall_s"])
            for name in order:
                result = sides[name].call(prompt, f"{round_}.{i}b", GEN_TOKENS)
                tok_s[name].append(result["tokens"] / result["wall_s"])
                tokens[name] += result["tokens"]
    # Ratios of adjacent calls on the same prompt cancel slow drifts in machine load.
    out: dict = {
        "tok_s_ratio": statistics.median(e / d for d, e in zip(tok_s["direct"], tok_s["engine"], strict=True)),
        "ttft_ratio": statistics.median(d / e for d, e in zip(ttft["direct"], ttft["engine"], strict=True)),
    }
    for name, side in sides.items():
        out[name] = {
            "load_s": side.load_s,
            "ttft_s": statistics.median(ttft[name]),
            "tok_s": statistics.median(tok_s[name]),
            "tokens": tokens[name],
            "peak_rss_gb": side.finish(),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--models", default="default,light")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL", "THREADS", "SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        model, threads, side = args.worker
        worker(model, int(threads), side)
        return 0

    import xllamacpp  # noqa: F401  (fail here, not in every worker, when it is missing)

    from tg_core.engines.model_files import resolve_model

    load_before = os.getloadavg()
    models = args.models.split(",")
    for model in models:
        resolve_model(model)  # assemble up front so no worker pays for it
    configs = []
    rows = []
    for model in models:
        for threads in (int(t) for t in args.threads.split(",")):
            med = measure(model, threads, args.rounds)
            print(f"  {model} x{threads}: {med}", flush=True)
            direct, engine = med["direct"], med["engine"]
            config = {
                "model": model,
                "threads": threads,
                "direct": direct,
                "engine": engine,
                "tok_s_ratio": med["tok_s_ratio"],
                "ttft_ratio": med["ttft_ratio"],
            }
            configs.append(config)
            rows.append([model, threads, direct["tok_s"], engine["tok_s"], config["tok_s_ratio"],
                         direct["ttft_s"], engine["ttft_s"], config["ttft_ratio"],
                         direct["peak_rss_gb"], engine["peak_rss_gb"], engine["load_s"]])
    print()
    print(table(["model", "threads", "direct tok/s", "engine tok/s", "ratio", "direct TTFT s",
                 "engine TTFT s", "TTFT ratio", "direct RSS GB", "engine RSS GB", "load s"], rows))
    default_rss = [c["engine"]["peak_rss_gb"] for c in configs if c["model"] == "default"]
    met = {
        "tok_s_ratio": all(c["tok_s_ratio"] >= GOALS["tok_s_ratio_min"] for c in configs),
        "ttft_ratio": all(c["ttft_ratio"] >= GOALS["ttft_ratio_min"] for c in configs),
        "default_peak_rss": all(r < GOALS["default_peak_rss_gb_max"] for r in default_rss),
    }
    print(f"\ngoals {GOALS}\nmet   {met}")
    path = save("local_model", {
        "configs": configs,
        "goals": GOALS,
        "met": met,
        "settings": {"n_ctx": N_CTX, "gen_tokens": GEN_TOKENS, "prompts": len(PROMPTS),
                     "rounds": args.rounds, "temperature": 0.0,
                     # other work on the machine makes both sides slower and noisier
                     "load_average_before": load_before, "load_average_after": os.getloadavg(),
                     "xllamacpp": __import__("xllamacpp").__version__},
    })
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
