"""A separate virtual environment holding gepa 0.1.4 (no extras), for the quality benchmark.

Like textgrad (textgrad_env.py), GEPA never enters the project's own
environment; its wheel has no required dependencies, and its extras (litellm,
mlflow, wandb) are not needed: the bench gives it a plain callable as its
reflection model.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GEPA_VERSION = "0.1.4"
VENV = Path(__file__).resolve().parent / ".venv-gepa"


def gepa_python() -> Path:
    """The interpreter of the gepa venv, created on first use."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".gepa-{GEPA_VERSION}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"gepa=={GEPA_VERSION}"], check=True)
        stamp.touch()
    return python


if __name__ == "__main__":
    sys.stdout.write(f"{gepa_python()}\n")
