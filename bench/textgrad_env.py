"""A separate virtual environment holding textgrad 0.1.8, for benchmarks against it.

textgrad is never installed in the project's own environment: its imports
create folders and set logging, and its dependencies would leak into our tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import pinned_venv_python

TEXTGRAD_VERSION = "0.1.8"
VENV = Path(__file__).resolve().parent / ".venv-textgrad"


def textgrad_python() -> Path:
    """The interpreter of the textgrad venv, created on first use."""
    return pinned_venv_python(VENV, "textgrad", TEXTGRAD_VERSION)


if __name__ == "__main__":
    sys.stdout.write(f"{textgrad_python()}\n")
