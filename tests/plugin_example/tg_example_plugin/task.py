"""``tg run example-hello``: the smallest task, with up-front validation."""

from __future__ import annotations

import argparse
from typing import Any

import tg_core

from .report import report_markdown


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--greeting", default="hello", help="what to say (default hello)")


def validate(args: argparse.Namespace) -> None:
    if not args.greeting.strip():
        raise ValueError("--greeting must not be empty")


def run(args: argparse.Namespace, run: tg_core.Run) -> dict[str, Any]:
    summary = {"greeting": args.greeting}
    run.finish(summary, report_markdown(args.greeting))
    return summary
