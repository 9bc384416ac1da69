"""Lazy public names for plugin packages: one strategy for every ``__init__``.

``tg plugins`` and the CLI import every plugin package to build their lists,
so a package must not import RDKit, numpy or a sandbox at import time. Each
plugin's ``__init__`` declares its public names and the module that defines
each; a name is imported on first use and then cached in the package, so the
second access costs a dict lookup like any eager import.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], submodules: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for ``package``.

    ``exports`` maps each public name to the submodule (relative, without the
    dot) that defines it; ``submodules`` are submodules reachable as attributes.
    Use it as ``__getattr__, __dir__, __all__ = lazy_exports(__name__, {...})``.
    """
    exports = dict(exports)
    modules = set(submodules)

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        elif name in modules:
            value = importlib.import_module(f".{name}", package)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports) | modules)

    return __getattr__, __dir__, sorted(exports)
