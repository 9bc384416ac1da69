"""Every command and example the README shows works as written."""

import re
import shlex
from pathlib import Path

import pytest

import tg_core as tg
from tg_core import prompts
from tg_core.cli import build_parser, main
from tg_core.plugins import get_plugins

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _tg_commands() -> list[str]:
    lines = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("tg ") and "TASK" not in command:
                lines.append(command)
    return lines


def test_the_readme_shows_commands_to_check():
    assert len(_tg_commands()) >= 6


@pytest.mark.parametrize("command", _tg_commands())
def test_each_tg_command_parses_and_validates(command, tmp_path, capsys):
    argv = shlex.split(command)[1:]
    if argv == ["plugins"]:
        assert main(argv) == 0
        return
    tasks = get_plugins().tasks()
    args = build_parser(tasks).parse_args(argv)
    if args.command == "run":
        tasks[args.task].validate(args)  # what the CLI checks before it creates a run folder


def _scripted(messages, **params):
    if messages[0]["content"] == prompts.OPTIMIZER_SYSTEM:
        return f"{prompts.IMPROVED_START} Drink water with meals. {prompts.IMPROVED_END}"
    return "Name a reason."


def _example(title: str) -> str:
    found = [b for b in _blocks("python") if title in b]
    assert found, f"README has no python example with {title!r}"
    return found[0]


@pytest.mark.parametrize("title", ["tg.BlackboxLLM", "Optimization("])
def test_llm_examples_run_with_a_scripted_engine(title, monkeypatch):
    engine = tg.FunctionEngine(_scripted)
    monkeypatch.setattr(tg, "get_engine", lambda *a, **k: engine)
    namespace: dict = {}
    exec(compile(_example(title), "README.md", "exec"), namespace)  # noqa: S102
    assert engine.usage.calls > 0


@pytest.mark.slow
def test_the_domain_examples_run_for_real():
    namespace: dict = {}
    exec(compile(_example("import tg_code"), "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["result"].passed
    assert namespace["r"].error is None and namespace["r"].vina < -4
    assert namespace["plan"].metrics["PTV"]["D95"] > 60
