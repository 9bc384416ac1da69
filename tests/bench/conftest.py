"""The benchmark's modules are scripts in bench/, not a package: put them (and the test chat server) on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT / "bench", ROOT / "tests" / "core"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def refused(capsys):
    """``refused(main, args)``: a bench script's ``main(args)`` must exit 2 (argparse's usage error); its stderr."""

    def run(main, args: list[str]) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    return run
