"""A separate virtual environment holding gepa 0.1.4 (no extras), for the quality benchmark.

Like textgrad (textgrad_env.py), GEPA never enters the project's own
environment; its wheel has no required dependencies, and its extras (litellm,
mlflow, wandb) are not needed: the bench gives it a plain callable as its
reflection model.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import pinned_venv_python

GEPA_VERSION = "0.1.4"
VENV = Path(__file__).resolve().parent / ".venv-gepa"


def gepa_python() -> Path:
    """The interpreter of the gepa venv, created on first use."""
    return pinned_venv_python(VENV, "gepa", GEPA_VERSION)


if __name__ == "__main__":
    sys.stdout.write(f"{gepa_python()}\n")
