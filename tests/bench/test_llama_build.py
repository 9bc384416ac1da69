"""bench/llama_build.py: which build each environment runs, its options, and a real side-by-side run."""

from __future__ import annotations

import json
import sys

import llama_build
import pytest


def test_build_of_this_environment_names_its_xllamacpp():
    build = llama_build.build_of(sys.executable)
    assert build["xllamacpp"] and build["module"].endswith("xllamacpp/__init__.py")
    assert "AVX2 = 1" in build["system_info"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "the following arguments are required: --candidate"),
    (["--candidate", "/no/such/python"], "--candidate /no/such/python: no such interpreter"),
    (["--candidate", sys.executable, "--baseline", "/no/such/python"], "--baseline /no/such/python: no such"),
    (["--candidate", sys.executable, "--rounds", "0"], "--rounds must be at least 1"),
    (["--candidate", sys.executable, "--threads", "0"], "--threads must be at least 1"),
])
def test_bad_options_are_refused_before_any_server_starts(args, message, refused):
    assert message in refused(llama_build.main, args)


@pytest.mark.slow
def test_one_environment_against_itself_runs_at_about_the_same_speed(real_cache, tmp_path, monkeypatch):
    """Two tg serve of the light model from this environment, probed in alternation: a real run end to end."""
    monkeypatch.setenv("TG_CACHE_DIR", real_cache)
    output = tmp_path / "build.json"
    assert llama_build.main(["--candidate", sys.executable, "--model", "light", "--rounds", "2", "--threads", "1",
                             "--output", str(output)]) == 0
    data = json.loads(output.read_text())
    assert data["builds"]["baseline"] == data["builds"]["candidate"]
    assert [len(data["probes"][side]) for side in ("baseline", "candidate")] == [2, 2]
    assert all(p["prompt_n"] > 300 and p["predicted_n"] == 64 for side in data["probes"].values() for p in side)
    # the same build: the ratio is noise around 1, far from the 1.37 a different build measured
    assert 0.5 < data["ratios"]["prompt_tokens_per_s"] < 2.0
    assert data["model"]["label"] and data["machine"]["cpu_count"]
    # each build names its own llama.cpp; the model record does not speak for either
    assert "AVX2 = 1" in data["builds"]["candidate"]["system_info"] and "llama_cpp_instructions" not in data["model"]
