"""Replay recorded optimizer calls that repeated a tried value, as sent and without the copies of tried values.

An answer that repeats the variable's value, or a value already evaluated,
is discarded as already tried, so the call bought nothing. ``tg_core.echoes``
shows the copies of those values inside the feedback (the reviewer's input
and output, the feedback's own quotes) as markers. This bench measures what
that changes on the calls it is for: every optimizer call in the given runs'
events whose answer was the value or one listed as evaluated, sent again to
the same model with the same parameters twice, once as recorded and once
with the copies after ``<VARIABLE>`` replaced, in one command. It counts the
answers that repeat a tried value again and the prompt tokens of each. Runs made by ``bench/quality.py`` (folders under
``seed-N/``) get the seed its proxy gave them (``SEED_STRIDE`` x N added),
so the recorded arm repeats what the run saw.

    .venv/bin/python bench/quality.py --domain code --equal-calls --budget-per-step --workdir /tmp/q ...
    .venv/bin/python bench/echo_replay.py /tmp/q/seed-*/tg-core/case-*/run
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from _common import save, table
from quality_common import model_server
from quality_server import SEED_STRIDE

from tg_core.echoes import without_echoes
from tg_core.optimizer import normalized, parse_improved

VARIABLE = re.compile(r"<VARIABLE> (.*?) </VARIABLE>", re.S)
EVALUATED = re.compile(r"<EVALUATED> (.*?) </EVALUATED> measured: ([^\n]*)", re.S)
FENCE = re.compile(r"\A\s*```[^\n`]*\n(.*?)```\s*\Z", re.S)
ARMS = ("as sent", "without copies")


def answered_value(answer: str) -> str | None:
    """The value an optimizer answer proposes (one fence around it removed), ``None`` if it has none."""
    try:
        value = parse_improved(answer)
    except ValueError:
        return None
    fenced = FENCE.match(value)
    return fenced[1] if fenced else value


def repeats(answer: str, tried: list[str]) -> bool:
    """Whether ``answer`` proposes one of the ``tried`` values (whitespace aside)."""
    proposed = answered_value(answer)
    return proposed is not None and normalized(proposed) in {normalized(value) for value in tried}


def copying_calls(run_dirs: list[Path]) -> list[dict[str, Any]]:
    """The optimizer calls of ``run_dirs`` that answered their variable's value or a value listed as evaluated."""
    calls = []
    for run_dir in run_dirs:
        events = run_dir / "events.jsonl"
        if not events.is_file():
            raise ValueError(f"{run_dir}: no events.jsonl; pass tg run folders")
        bench_seed = re.search(r"(?:^|/)seed-(\d+)(?:/|$)", str(run_dir))
        for line in events.read_text().splitlines():
            event = json.loads(line)
            if event.get("kind") != "llm_call" or not event.get("role", "").startswith("optimizer:"):
                continue
            prompt = event["messages"][-1]["content"]
            variable = VARIABLE.search(prompt) if isinstance(prompt, str) else None
            if variable is None:
                continue
            evaluated = EVALUATED.findall(prompt[:variable.start()])
            tried = [variable[1], *(value for value, _ in evaluated)]
            if not repeats(event.get("response") or "", tried):
                continue
            params = dict(event.get("params") or {})
            if bench_seed:
                params["seed"] = params.get("seed", 0) + SEED_STRIDE * int(bench_seed[1])
            calls.append({"run": str(run_dir), "time": event["time"], "messages": event["messages"],
                          "params": params, "value": variable[1], "evaluated": evaluated, "tried": tried})
    return calls


def pruned(messages: list[dict[str, Any]], value: str, evaluated: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``messages`` with the copies of ``value`` and the ``evaluated`` values after its ``<VARIABLE>`` span
    replaced, as TGD now sends them."""
    head, span, tail = messages[-1]["content"].partition(f"<VARIABLE> {value} </VARIABLE>")
    return [*messages[:-1], {**messages[-1], "content": head + span + without_echoes(tail, value, evaluated)}]


def ask(base_url: str, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"model": model, "messages": messages, **params}).encode()
    request = urllib.request.Request(base_url.rstrip("/") + "/chat/completions", body,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=3600) as response:
        return json.loads(response.read())


def replay(calls: list[dict[str, Any]], base_url: str, model: str) -> list[dict[str, Any]]:
    rows = []
    for call in calls:
        row = {"run": call["run"], "time": call["time"]}
        forms = (call["messages"], pruned(call["messages"], call["value"], call["evaluated"]))
        for arm, messages in zip(ARMS, forms, strict=True):
            reply = ask(base_url, model, messages, call["params"])
            answer = reply["choices"][0]["message"]["content"] or ""
            row[arm] = {"repeated": repeats(answer, call["tried"]),
                        "prompt_tokens": reply["usage"]["prompt_tokens"], "answer": answered_value(answer)}
        logging.info("%s %s: %s", call["run"], call["time"],
                     ", ".join(f"{arm} {'repeated' if row[arm]['repeated'] else 'new'}" for arm in ARMS))
        rows.append(row)
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {arm: {"repeated": sum(r[arm]["repeated"] for r in rows),
                  "mean_prompt_tokens": sum(r[arm]["prompt_tokens"] for r in rows) / len(rows)} for arm in ARMS}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="tg run folders (each with events.jsonl)")
    parser.add_argument("--server", help="a running OpenAI-compatible server's base URL (default: start tg serve)")
    parser.add_argument("--model", default="default", help="the model tg serve loads (default: default)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=16384)
    parser.add_argument("--output", type=Path, help="result file (default bench/results/echo-replay.json)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        calls = copying_calls(options.runs)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if not calls:
        parser.error("no optimizer call in these runs repeated a tried value: nothing to replay")
    with tempfile.TemporaryDirectory() as scratch, \
            model_server(options.server, options.model, options.threads, options.ctx,
                         Path(scratch) / "tg-serve.log") as (base_url, model_id, model):
        rows = replay(calls, base_url, model_id)
    totals = summary(rows)
    print(table(["prompt", "calls", "repeated a tried value", "mean prompt tokens"],
                [[arm, len(rows), totals[arm]["repeated"], round(totals[arm]["mean_prompt_tokens"])]
                 for arm in ARMS]))
    path = save("echo-replay", {"model": model, "calls": len(rows), "summary": totals, "rows": rows},
                options.output)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
