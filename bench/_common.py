"""What every benchmark records next to its numbers, so runs compare over time."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def save(name: str, results: dict[str, Any], path: Path | None = None) -> Path:
    """Write ``results`` with the date, command and machine to ``path`` (default ``bench/results/NAME.json``)."""
    path = path or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        **results,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def pinned_venv_python(venv: Path, package: str, version: str) -> Path:
    """The interpreter of ``venv`` holding ``package==version``, created on first use.

    Peers we compare against (textgrad, gepa) never enter the project's own
    environment: their imports and dependencies would leak into our tests. A
    lock file beside the venv makes processes that need it at once (parallel
    test workers) wait for one build instead of writing the same venv together.
    """
    python = venv / "bin" / "python"
    stamp = venv / f".{package}-{version}"
    if stamp.exists():
        return python
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{package}=={version}"], check=True)
            stamp.touch()
    return python
