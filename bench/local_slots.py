"""The embedded model's prefix reuse: how many prompt tokens are evaluated again, per slot setting.

For each model and llama.cpp setting (slots, whether idle slots are moved to
the host prompt cache, whether there is a host prompt cache), on a freshly
loaded model per scenario, with the engine's own request bodies:

- consecutive: two calls sharing a long prefix (A+t1, A+t2);
- alternating: prefixes A, B, A, B, A (the judge, backward and optimizer
  prompts of a step take turns like this);
- concurrent: A+t1 and B+t1 at once, then A+t2 and B+t2 at once.

Token counts (llama.cpp's ``timings.prompt_n`` against ``usage.prompt_tokens``)
are deterministic; times are noisy on a shared machine and are reported next
to the load average. The chosen default is the setting that re-evaluates the
fewest tokens, then is fastest.

    python bench/local_slots.py [--models light,default] [--threads N] [--prefix-words N] [--settings 0,2]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save, table  # noqa: E402

from tg_core.engines import defaults, llama, model_files  # noqa: E402
from tg_core.engines.local import LocalEngine, prompt_counts  # noqa: E402

MAX_TOKENS = 4


@dataclass(frozen=True)
class Setting:
    name: str
    slots: int
    cache_idle_slots: bool
    cache_ram_mib: int


SETTINGS = [
    Setting("1 slot, no host cache", 1, False, 0),
    Setting("1 slot, host cache", 1, True, defaults.LOCAL_CACHE_RAM_MIB),
    Setting("4 slots, idle slots moved to host cache", 4, True, defaults.LOCAL_CACHE_RAM_MIB),
    Setting("2 slots, slots kept", 2, False, defaults.LOCAL_CACHE_RAM_MIB),
    Setting("4 slots, slots kept", 4, False, defaults.LOCAL_CACHE_RAM_MIB),
]


def _prefix(family: str, words: int) -> str:
    """A long system prompt of its own for each family, like a template with its task context."""
    lines = [f"You are the {family} of an optimization loop. Follow every rule below."]
    i = 0
    while sum(len(line.split()) for line in lines) < words:
        lines.append(f"Rule {family}-{i}: when item {i} of the {family} report changes, say how and why, "
                     f"citing measurement {i * 7 % 101} and keeping the answer under {20 + i % 30} words.")
        i += 1
    return "\n".join(lines)


def _messages(prefix: str, tail: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": prefix}, {"role": "user", "content": f"Request {tail}: answer briefly."}]


class Model:
    """A freshly loaded llama.cpp with one setting, answering the engine's own request bodies."""

    def __init__(self, path: Path, label: str, setting: Setting, threads: int) -> None:
        xllamacpp = llama.import_xllamacpp()
        self.folder = tempfile.mkdtemp(prefix="tg-bench-")
        params = llama.server_params(xllamacpp, path, label, threads, setting.slots, defaults.LOCAL_N_CTX,
                                     os.path.join(self.folder, "llama.sock"), 0)
        params.cache_idle_slots = setting.cache_idle_slots
        params.cache_ram_mib = setting.cache_ram_mib
        self.server = xllamacpp.Server(params)
        self.requests = LocalEngine(str(path), max_tokens=MAX_TOKENS)

    def call(self, prefix: str, tail: str) -> dict:
        messages = _messages(prefix, tail)
        began = time.perf_counter()
        result = self.server.handle_chat_completions(self.requests.request(messages, {}))
        wall = time.perf_counter() - began
        total, cached = prompt_counts(result, messages)
        return {"call": tail, "prompt_tokens": total, "evaluated": total - cached,
                "prompt_ms": round(result["timings"]["prompt_ms"], 1), "wall_s": round(wall, 3)}

    def together(self, calls: list[tuple[str, str]]) -> list[dict]:
        out: list[dict] = [{} for _ in calls]

        def one(i: int, prefix: str, tail: str) -> None:
            out[i] = self.call(prefix, tail)

        threads = [threading.Thread(target=one, args=(i, *c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def close(self) -> None:
        self.server = None
        gc.collect()
        shutil.rmtree(self.folder, ignore_errors=True)


def scenario(model: Model, name: str, a: str, b: str) -> dict:
    began = time.perf_counter()
    if name == "consecutive":
        calls = [model.call(a, "A1"), model.call(a, "A2")]
        first_sight = 1
    elif name == "alternating":
        calls = [model.call(p, t) for p, t in ((a, "A1"), (b, "B1"), (a, "A2"), (b, "B2"), (a, "A3"))]
        first_sight = 2
    else:
        calls = model.together([(a, "A1"), (b, "B1")]) + model.together([(a, "A2"), (b, "B2")])
        first_sight = 2
    again = calls[first_sight:]  # calls whose prefix was seen before
    return {
        "calls": calls,
        "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
        "evaluated": sum(c["evaluated"] for c in calls),
        "re_evaluated_after_first_sight": sum(c["evaluated"] for c in again),
        "prompt_tokens_after_first_sight": sum(c["prompt_tokens"] for c in again),
        "wall_s": round(time.perf_counter() - began, 2),
        "wall_s_after_first_sight": round(sum(c["wall_s"] for c in again), 2)
        if name != "concurrent" else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="light,default")
    parser.add_argument("--threads", type=int, default=None, help="default: chosen from the load, once")
    parser.add_argument("--prefix-words", type=int, default=600)
    parser.add_argument("--settings", default="all", help="comma-separated indices into SETTINGS")
    args = parser.parse_args()
    threads, source = llama.choose_threads(args.threads)
    settings = SETTINGS if args.settings == "all" else [SETTINGS[int(i)] for i in args.settings.split(",")]
    for model_name in args.models.split(","):
        measure_model(model_name, settings, threads, source, args.prefix_words)
    return 0


def measure_model(model_name: str, settings: list[Setting], threads: int, source: str, prefix_words: int) -> None:
    """Every setting and scenario on one model; results in bench/results/local_slots_<model>.json."""
    load_before = os.getloadavg()
    results, rows = [], []
    spec = model_files.model_spec(model_name)
    path = model_files.locate(spec)
    for setting in settings:
        entry = {"model": model_name, "setting": setting.__dict__, "scenarios": {}}
        for name in ("consecutive", "alternating", "concurrent"):
            a = _prefix(f"judge ({name})", prefix_words)
            b = _prefix(f"optimizer ({name})", prefix_words)
            model = Model(path, spec.label, setting, threads)
            try:
                entry["scenarios"][name] = outcome = scenario(model, name, a, b)
            finally:
                model.close()
            rows.append([setting.name, name, outcome["prompt_tokens"], outcome["evaluated"],
                         outcome["re_evaluated_after_first_sight"], outcome["wall_s"]])
            print("  ", model_name, rows[-1], flush=True)
        results.append(entry)
    print()
    print(table(["setting", "scenario", "prompt tokens", "evaluated", "re-evaluated", "wall s"], rows))
    saved = save(f"local_slots_{model_name}", {
        "model": model_name,
        "results": results,
        "settings": {"threads": threads, "threads_source": source, "n_ctx": defaults.LOCAL_N_CTX,
                     "prefix_words": prefix_words, "max_tokens": MAX_TOKENS,
                     "load_average_before": load_before, "load_average_after": os.getloadavg(),
                     "xllamacpp": __import__("xllamacpp").__version__},
    })
    print(f"wrote {saved}")


if __name__ == "__main__":
    sys.exit(main())
