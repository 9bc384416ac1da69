"""The benchmark's modules are scripts in bench/, not a package: put them (and the test chat server) on the path."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "bench", ROOT / "tests" / "core"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
