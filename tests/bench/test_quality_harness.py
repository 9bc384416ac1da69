"""The quality benchmark's shared pieces: the counting proxy, the record's summary and table, its options."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import openai
import pytest
import quality
import quality_repeat
from quality_code import DOMAIN as CODE
from quality_common import (
    PROBE_TOKENS,
    Context,
    TgCore,
    compare,
    domain_minutes,
    per_step_budget,
    speed_probe,
    summarize_runs,
    table_row,
)
from quality_server import SEED_STRIDE, BenchServer, cached_prompt_tokens, model_timings
from quality_text import DOMAIN as TEXT
from scripted_server import MODEL, ScriptedServer

from tg_qa import datasets

ROOT = Path(__file__).resolve().parents[2]


def post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_proxy_counts_calls_and_tokens_per_account_and_folds_in_the_seed():
    with ScriptedServer() as upstream, BenchServer(upstream.base_url, seed=2) as proxy:
        for account, seed in (("a", None), ("a", 5), ("b", None)):
            client = openai.OpenAI(base_url=proxy.base_url(account), api_key="x", max_retries=0)
            extra = {} if seed is None else {"seed": seed}
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello there"}], **extra)
        assert [r["seed"] for r in upstream.requests] == [2 * SEED_STRIDE, 5 + 2 * SEED_STRIDE, 2 * SEED_STRIDE]
        a, b = proxy.usage("a"), proxy.usage("b")
        assert a["calls"] == 2 and b["calls"] == 1
        assert a["prompt_tokens"] == 2 * b["prompt_tokens"] > 0 and a["completion_tokens"] > 0
        with urllib.request.urlopen(f"{proxy.url}/usage/a") as response:
            assert json.loads(response.read()) == a
        with urllib.request.urlopen(proxy.base_url("a") + "/models") as response:
            assert json.loads(response.read())["data"][0]["id"] == MODEL


def test_proxy_counts_the_prompt_tokens_the_server_served_from_its_cache():
    with ScriptedServer() as upstream, BenchServer(upstream.base_url, seed=2) as proxy:
        client = openai.OpenAI(base_url=proxy.base_url("a"), api_key="x", max_retries=0)
        ask = {"model": MODEL, "messages": [{"role": "user", "content": "a long shared prefix " * 20}]}
        client.chat.completions.create(**ask)
        upstream.cached_tokens = 30
        client.chat.completions.create(**ask)
        usage = proxy.usage("a")
        assert usage["calls"] == 2 and usage["cached_prompt_tokens"] == 30 < usage["prompt_tokens"]


def test_cached_tokens_are_read_from_llama_cpp_timings_before_openai_details():
    llama = {"usage": {"prompt_tokens": 900, "prompt_tokens_details": {"cached_tokens": 0}},
             "timings": {"prompt_n": 12, "cache_n": 888}}
    assert cached_prompt_tokens(llama) == 888
    assert cached_prompt_tokens({"usage": {"prompt_tokens": 50, "prompt_tokens_details": {"cached_tokens": 80}}}) == 50
    assert cached_prompt_tokens({"usage": {"prompt_tokens": 50}}) == 0


def test_proxy_sums_the_timings_llama_cpp_reports_and_nothing_from_other_servers():
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "count the crates " * 10}]}
    with ScriptedServer() as upstream, BenchServer(upstream.base_url, seed=2) as proxy:
        openai.OpenAI(base_url=proxy.base_url("plain"), api_key="x", max_retries=0).chat.completions.create(**ask)
        upstream.llama_timings = True
        client = openai.OpenAI(base_url=proxy.base_url("llama"), api_key="x", max_retries=0)
        for _ in range(2):
            client.chat.completions.create(**ask)
        plain, llama = proxy.usage("plain"), proxy.usage("llama")
    assert [plain[k] for k in ("timings_prompt_n", "timings_prompt_ms", "timings_predicted_n")] == [0, 0, 0]
    assert llama["timings_prompt_n"] == llama["prompt_tokens"] and llama["timings_prompt_ms"] == 10 * llama["prompt_tokens"]
    assert llama["timings_predicted_ms"] == 25 * llama["timings_predicted_n"] == 25 * llama["completion_tokens"]


def test_timings_with_a_field_missing_or_not_a_number_are_left_out():
    whole = {"prompt_n": 12, "prompt_ms": 150.4, "predicted_n": 30, "predicted_ms": 999.6, "cache_n": 800}
    assert model_timings({"timings": whole}) == {"prompt_n": 12, "prompt_ms": 150, "predicted_n": 30, "predicted_ms": 1000,
                                                 "draft_n": 0, "draft_n_accepted": 0}  # llama.cpp drafted nothing
    drafted = model_timings({"timings": {**whole, "draft_n": 16, "draft_n_accepted": 11}})
    assert (drafted["draft_n"], drafted["draft_n_accepted"], drafted["predicted_n"]) == (16, 11, 30)
    assert model_timings({"timings": {**whole, "draft_n": "many"}})["draft_n"] == 0
    assert model_timings({"timings": {**whole, "predicted_ms": None}}) == {}
    assert model_timings({"timings": {**whole, "prompt_ms": "fast"}}) == {}
    assert model_timings({"timings": {k: v for k, v in whole.items() if k != "prompt_n"}}) == {}
    assert model_timings({"usage": {"prompt_tokens": 5}}) == {}


def test_proxy_counts_a_failed_call_apart_and_refuses_streaming():
    with ScriptedServer() as upstream, BenchServer(upstream.base_url, seed=2) as proxy:
        upstream.behaviours.append("500")
        status, _ = post(proxy.base_url("a") + "/chat/completions", {"model": MODEL, "messages": []})
        assert status == 500
        status, body = post(proxy.base_url("a") + "/chat/completions", {"model": MODEL, "messages": [], "stream": True})
        assert status == 400 and "streaming" in body["error"]["message"]
        assert proxy.usage("a") == {"calls": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0,
                                    "completion_tokens": 0, "failed_calls": 1, "timings_prompt_n": 0,
                                    "timings_prompt_ms": 0, "timings_predicted_n": 0, "timings_predicted_ms": 0,
                                    "timings_draft_n": 0, "timings_draft_n_accepted": 0}
        assert len(upstream.requests) == 1  # the streaming request never reached the model


def test_proxy_evaluation_endpoint_reports_the_evaluators_answer_and_its_failure():
    def evaluator(account, name, payload):
        if name == "boom":
            raise ValueError("no such molecule")
        return {"account": account, "name": name, "echo": payload["value"]}

    with ScriptedServer() as upstream, BenchServer(upstream.base_url, evaluator=evaluator) as proxy:
        assert post(proxy.eval_url("gepa-s0-c0") + "/dock", {"value": "CCO"}) == (
            200, {"account": "gepa-s0-c0", "name": "dock", "echo": "CCO"})
        status, body = post(proxy.eval_url("gepa-s0-c0") + "/boom", {"value": "x"})
        assert status == 500 and "ValueError: no such molecule" in body["error"]["message"]


def test_proxy_account_names_are_one_path_segment():
    with ScriptedServer() as upstream, BenchServer(upstream.base_url) as proxy, \
            pytest.raises(ValueError, match="one path segment"):
        proxy.base_url("a/b")


def run(arm: str, seed: int, judge: float, limits: float, calls: int = 4, wall_s: float = 2.0,
        measurement_s: float | None = 1.0) -> dict:
    metrics = {"judge_score": judge, "limits_met": limits, "words": 10, "sentences": 1}
    timed = {} if measurement_s is None else {"measurement_s": measurement_s}
    return {"arm": arm, "seed": seed, "metrics": metrics, "calls": calls, "prompt_tokens": 100,
            "completion_tokens": 10, "wall_s": wall_s, "cases": [], **timed}


def test_summary_averages_seeds_and_marks_a_result_worse_than_the_start():
    runs = [run("start", 0, 5, 1.0, 0), run("start", 1, 5, 1.0, 0), run("textgrad", 0, 9, 0.0), run("textgrad", 1, 7, 0.0),
            run("tg-core", 0, 6, 1.0), run("tg-core", 1, 8, 1.0), run("gepa", 0, 5, 1.0)]
    summary = summarize_runs(TEXT, runs)
    assert summary["textgrad"]["metrics"]["judge_score"] == 8.0
    assert summary["textgrad"]["vs_start"] == "worse"  # a higher judge score does not buy a broken limit
    assert summary["tg-core"]["vs_start"] == "better" and summary["gepa"]["vs_start"] == "same"
    assert summary["tg-core"]["calls"] == 8
    row = table_row(TEXT, summary)
    assert row[0] == "text" and row[2] == "5.0 / 100%"
    assert row[3] == "8.0 / 0% WORSE than start" and row[5] == "7.0 / 100%"
    assert row[6] == "8/4/8"
    assert row[8] == "0"  # 7 runs of 2 s and 7 measurements of 1 s: well under the limit


def test_table_adds_every_arm_and_its_measurements_and_marks_a_domain_over_the_limit():
    runs = [run("start", 0, 5, 1.0, 0, wall_s=10, measurement_s=600), run("textgrad", 0, 6, 1.0, wall_s=2400),
            run("gepa", 0, 5, 1.0, wall_s=1100, measurement_s=0.0), run("tg-core", 0, 7, 1.0, wall_s=1000)]
    assert domain_minutes(summarize_runs(TEXT, runs)) == pytest.approx((10 + 600 + 2401 + 1100 + 1001) / 60)
    assert table_row(TEXT, summarize_runs(TEXT, runs))[8] == "85"
    runs.append(run("tg-core", 1, 7, 1.0, wall_s=600, measurement_s=60))
    assert table_row(TEXT, summarize_runs(TEXT, runs))[8] == "96 OVER the 90"
    runs.append(run("textgrad", 1, 6, 1.0, measurement_s=None))  # recorded before measurements were timed
    assert summarize_runs(TEXT, runs)["textgrad"]["measurement_s"] is None
    assert table_row(TEXT, summarize_runs(TEXT, runs))[8] == "unknown (measurement not timed)"


def test_the_speed_probe_reads_llama_cpp_timings_and_the_table_shows_them():
    with ScriptedServer() as upstream, BenchServer(upstream.base_url, seed=2) as proxy:
        assert speed_probe(proxy, MODEL) is None  # a server without timings
        upstream.llama_timings = True
        probe = speed_probe(proxy, MODEL)
        body = upstream.requests[-1]
        speed_probe(proxy, MODEL)
        # New text every time: tg serve drafts a copied or repeated answer (speculative decoding), which would
        # make the probe read fast; so a story, sampled with a new seed (the proxy passes it unfolded).
        assert body["temperature"] == 1.0 and body["seed"] != upstream.requests[-1]["seed"]
        assert "Do not repeat them" in body["messages"][0]["content"]
    assert probe["draft_n"] == probe["draft_n_accepted"] == 0  # a server that reports no drafts
    assert body["cache_prompt"] is False and body["ignore_eos"] is True and body["max_tokens"] == PROBE_TOKENS
    assert probe["prompt_tokens_per_s"] == pytest.approx(100) and probe["completion_tokens_per_s"] == pytest.approx(40)
    with BenchServer("http://127.0.0.1:9/v1") as nowhere:
        assert speed_probe(nowhere, MODEL) is None  # nothing listening: the run goes on without
    runs = [run("start", 0, 5, 1.0, 0), run("tg-core", 0, 6, 1.0)]
    slower = {**probe, "prompt_tokens_per_s": 52.4, "completion_tokens_per_s": 14.2}
    assert table_row(TEXT, summarize_runs(TEXT, runs), [probe, slower])[8] == "0 (model 100/40 -> 52/14 tok/s)"
    assert table_row(TEXT, summarize_runs(TEXT, runs), [None, None])[8] == "0"


def test_summary_leaves_out_a_seed_with_a_failed_case_and_says_so():
    runs = [run("start", 0, 5, 1.0, 0), {**run("tg-core", 0, 9, 1.0), "metrics": None}]
    summary = summarize_runs(TEXT, runs)
    assert summary["tg-core"]["seeds_complete"] == 0 and summary["tg-core"]["metrics"] is None
    assert table_row(TEXT, summary)[5] == "failed"
    runs.append(run("tg-core", 1, 9, 1.0))
    assert table_row(TEXT, summarize_runs(TEXT, runs))[5] == "9.0 / 100% (1 of 2 seeds failed)"
    assert compare((1.0, 2.0), (1.0, 2.0)) == "same"
    assert compare((6.0, -34.54924383658377), (6.0, -34.54924383658367)) == "same"  # the same plan, solved again
    assert compare((6.0, -3.0), (6.0, -34.5)) == "better" and compare((5.0, 0.0), (6.0, -34.5)) == "worse"


@pytest.mark.parametrize(("args", "message"), [
    (["--domain", "text", "--seeds", "0,x"], "--seeds is a comma-separated list of integers"),
    (["--domain", "text", "--seeds", "1,1"], "--seeds needs distinct integers"),
    (["--domain", "text", "--arms", "start,dspy"], "--arms takes some of start,textgrad,gepa,tg-core"),
    (["--domain", "text", "--steps", "0"], "--steps must be at least 1"),
    (["--domain", "text", "--arms", "start,gepa"], "needs --gepa-calls"),
    (["--domain", "text", "--text-max-words", "0"], "--text-max-words must be at least 1"),
    (["--domain", "code", "--problems", "11"], "--problems must be between 1 and 10"),
    (["--domain", "qa", "--qa-test", "0"], "--qa-test must be at least 1"),
    (["--domain", "radiotherapy", "--rt-grid-mm", "20"], "--rt-grid-mm must be between 1 and 10"),
    (["--domain", "molecule", "--molecule-starts", "caffeine"], "--molecule-starts takes some of phenol, aspirin"),
    (["--seeds", "0"], "give --domain"),
    (["--domain", "text", "--arms", "start,textgrad", "--equal-calls"], "--equal-calls budgets the tg-core arm"),
    (["--domain", "text", "--arms", "tg-core", "--equal-calls"], "--equal-calls needs textgrad's calls"),
    (["--domain", "text", "--arms", "start,textgrad", "--budget-per-step"], "--budget-per-step sets the budgets"),
])
def test_bad_options_are_refused_with_the_option_named(args, message, refused):
    assert message in refused(quality.main, args)


@pytest.mark.parametrize(("saved", "message"), [
    (None, "does not exist; there are no runs to keep"),
    ({"domain": "code", "settings": {"steps": 3}, "runs": []}, "holds the 'code' domain, not 'text'"),
    ({"domain": "text", "settings": {"steps": 5}, "runs": []}, "ran 5 steps, this run 3"),
])
def test_keep_arms_refuses_a_result_file_it_cannot_extend(saved, message, tmp_path, capsys):
    output = tmp_path / "quality-text.json"
    if saved is not None:
        output.write_text(json.dumps(saved))
    with pytest.raises(SystemExit):
        quality.main(["--domain", "text", "--steps", "3", "--arms", "tg-core", "--keep-arms", "--output", str(output)])
    assert message in capsys.readouterr().err


def test_keep_arms_keeps_the_other_arms_of_the_seeds_run_now(tmp_path):
    output = tmp_path / "quality-text.json"
    runs = [{"arm": arm, "seed": seed} for seed in (0, 1) for arm in ("start", "textgrad", "tg-core")]
    output.write_text(json.dumps({"domain": "text", "date": "then", "command": "c", "tg_core": {"commit": "abc"},
                                  "settings": {"steps": 3}, "runs": runs}))
    parser = quality.build_parser()
    options = parser.parse_args(["--domain", "text", "--steps", "3", "--seeds", "1", "--arms", "tg-core",
                                 "--keep-arms", "--output", str(output)])
    quality.check(parser, options, quality.load_domain("text"))
    assert [(r["arm"], r["seed"]) for r in options.kept_runs] == [("start", 1), ("textgrad", 1)]
    assert options.kept_runs[0]["kept_from"] == {"date": "then", "command": "c", "tg_core": {"commit": "abc"}}


@pytest.mark.parametrize(("case", "budget"), [
    ({"calls": 5, "error": "step 1: IndexError: could not be indexed", "outcome": {"trajectory": ["a"]}}, 15),
    ({"calls": 10, "error": "step 2: IndexError: could not be indexed", "outcome": {"trajectory": ["a", "b"]}}, 15),
    ({"calls": 7, "error": None, "outcome": {"trajectory": ["a", "b", "c", "d"]}}, 7),
    ({"calls": 4, "error": "TimeoutError: the side did not answer", "outcome": None}, 4),
])
def test_a_budget_per_step_gives_textgrads_rate_for_every_step(case, budget):
    assert per_step_budget(case, 3) == budget


@pytest.mark.slow
def test_sigterm_stops_the_bench_and_the_tg_serve_it_started(real_cache, tmp_path):
    import os
    import signal
    import socket
    import sys
    import time

    work = tmp_path / "work"
    bench = subprocess.Popen([sys.executable, str(ROOT / "bench" / "quality.py"), "--domain", "text", "--model", "light",
                              "--arms", "start", "--seeds", "0", "--output", str(tmp_path / "q.json"),
                              "--workdir", str(work)], env={**os.environ, "TG_CACHE_DIR": real_cache},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = work / "tg-serve.log"
    deadline = time.monotonic() + 120
    while not (log.is_file() and "serving" in log.read_text()):
        assert bench.poll() is None and time.monotonic() < deadline, "tg serve never came up"
        time.sleep(0.5)
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/v1", log.read_text()).group(1))
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(timeout=60) == 128 + signal.SIGTERM
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # nothing listens any more: the server went with the bench


@pytest.mark.slow
def test_a_run_on_tg_serve_records_how_fast_the_model_ran(real_cache, tmp_path):
    """llama.cpp's own timings reach the result file and the table through the proxy."""
    import os
    import sys

    output = tmp_path / "q.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--domain", "text", "--model", "light",
                           "--arms", "start", "--seeds", "0", "--output", str(output), "--workdir", str(tmp_path)],
                          env={**os.environ, "TG_CACHE_DIR": real_cache}, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(output.read_text())
    measured = data["runs"][0]["cases"][0]["measurement_usage"]
    assert measured["calls"] >= 1 and measured["timings_predicted_n"] == measured["completion_tokens"] > 0
    assert data["runs"][0]["model_timings"]["prompt_ms"] > 0
    assert data["runs"][0]["model_timings"]["draft_n"] >= data["runs"][0]["model_timings"]["draft_n_accepted"] >= 0
    assert len(data["speed_probes"]) == 2  # as the run began and as it ended
    for probe in data["speed_probes"]:
        assert probe["predicted_n"] == PROBE_TOKENS and probe["prompt_n"] > 300
        assert probe["prompt_tokens_per_s"] > 0 and probe["completion_tokens_per_s"] > 0
    assert re.search(r"\(model \d+/\d+ -> \d+/\d+ tok/s\)", done.stdout), done.stdout
    assert data["model"]["llama_cpp_instructions"]  # which build ran: tg build-llama's or the portable wheel's


def test_the_tg_core_under_test_must_exist(tmp_path):
    with pytest.raises(ValueError, match="not a tg-core checkout"):
        TgCore.from_options(None, tmp_path)
    with pytest.raises(ValueError, match="--tg-core-python .*: no such interpreter"):
        TgCore.from_options(str(tmp_path / "python"), None)


def test_an_older_checkout_runs_with_its_own_code_and_plugins(tmp_path):
    """The baseline commit (before the shared loop): its text task has no --max-words yet."""
    archive = tmp_path / "old.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), "4304530"], check=True)
    checkout = tmp_path / "old"
    with tarfile.open(archive) as tar:
        tar.extractall(checkout, filter="data")
    old = TgCore.from_options(None, checkout)
    assert "--max-words" not in old.options("text") and "--constraint" in old.options("text")
    assert "--max-words" in TgCore().options("text")
    assert old.describe()["checkout"] == str(checkout)
    assert "--iterations" in old.options("code")  # plugins are found through the checkout's entry points
    ctx = Context(server=None, model="m", seed=0, steps=3, options=None, workdir=tmp_path, tg_core=old)
    code_args = CODE.tg_core_args(ctx, {"id": "hard/burst-balloons"}, {"value": "def f(): pass"}, tmp_path)
    assert code_args[-2:] == ["--iterations", "3"]
    text_args = TEXT.tg_core_args(ctx, TEXT.cases(quality.build_parser().parse_args([]))[0], {"value": "t"}, tmp_path)
    assert "--max-words" not in text_args and "at most 30 words" in text_args


def _documented_commands(script: str) -> list[list[str]]:
    """The arguments of every ``script`` command in the sh blocks of the README and bench/QUALITY.md."""
    text = "\n".join((ROOT / name).read_text() for name in ("README.md", "bench/QUALITY.md"))
    return [shlex.split(line.split("  #")[0])[2:] for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
            for line in block.splitlines() if f"bench/{script}" in line]


def test_the_documented_quality_commands_parse_and_pass_the_checks():
    commands = _documented_commands("quality.py")
    assert commands, "the README shows how to reproduce the quality table"
    for argv in commands:
        parser = quality.build_parser()
        options = parser.parse_args(argv)
        if not options.table:
            quality.check(parser, options, quality.load_domain(options.domain))


def test_the_documented_repeat_commands_parse_and_name_a_result_file():
    commands = _documented_commands("quality_repeat.py")
    assert commands, "bench/QUALITY.md shows how to measure final values again"
    for argv in commands:
        options = quality_repeat.build_parser().parse_args(argv)
        assert (ROOT / options.result).is_file(), options.result


def repeat_input(tmp_path, runs):
    path = tmp_path / "quality-qa.json"
    path.write_text(json.dumps({"domain": "qa", "date": "2026-12-01T00:00:00", "runs": runs,
                                "command": "python bench/quality.py --domain qa --qa-train 2 --qa-validation 2 "
                                           "--qa-test 5"}))
    return path


def test_repeat_measures_each_final_value_again_through_the_server(tmp_path, capsys):
    earlier = {"test_accuracy": 0.0, "test_examples": 5}
    runs = [{"arm": arm, "seed": 3, "cases": [{"case": "object_counting", "outcome": {"value": f"Count ({arm})."},
                                               "metrics": earlier}]} for arm in ("start", "textgrad")]
    output = tmp_path / "repeated.json"
    test = datasets.object_counting(seed=3, sizes=(2, 2, 5)).test  # the bench's split for seed 3
    answers = {e.render(): int(e.answer) for e in test}
    right = set(list(answers)[:3])
    with ScriptedServer() as server:
        server.reply = lambda body: ("Counting.\nAnswer: "
                                     f"{answers[(q := body['messages'][-1]['content'])] + (q not in right)}")
        assert quality_repeat.main([str(repeat_input(tmp_path, runs)), "--server", server.base_url, "--arms",
                                    "textgrad", "--times", "2", "--output", str(output)]) == 0
    again = {"test_accuracy": 0.6, "test_examples": 5}
    data = json.loads(output.read_text())
    assert [(r["arm"], r["seed"], r["measurements"]) for r in data["runs"]] == [("textgrad", 3, [earlier, again, again])]
    assert data["repeats"]["command"].startswith("python bench/quality.py --domain qa")
    assert {"machine", "model", "date", "command", "wall_s"} <= set(data)
    assert "textgrad seed 3 object_counting" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "args", "message"), [
    ("not json", [], "is not a quality result file"),
    (None, ["--times", "0"], "--times must be at least 1"),
    (None, ["--arms", "gepa"], "--arms: no finished run of gepa"),
])
def test_repeat_refuses_bad_input_naming_it(tmp_path, capsys, content, args, message):
    path = repeat_input(tmp_path, [{"arm": "start", "seed": 0, "cases": []}])
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit):
        quality_repeat.main([str(path), *args, "--output", str(tmp_path / "out.json")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
