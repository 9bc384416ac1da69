"""The process-wide default engine, a convenience TextGrad users expect.

Every Function, loss and optimizer also takes an explicit ``engine=``, which
wins over this default; with neither, the error says how to set one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import EngineConfigError, EngineNotSetError

if TYPE_CHECKING:
    from .engines.base import Engine

_default_engine: Engine | None = None


def set_backward_engine(engine: Engine | str | None, override: bool = True, **options) -> None:
    """Set the default engine; a string is resolved with ``get_engine``.

    ``None`` clears it. ``override=False`` (TextGrad's guard) refuses to
    replace an engine already set; TextGrad's default was False, ours is True
    so that setting the engine twice in a notebook just works.
    """
    global _default_engine
    if not override and _default_engine is not None and engine is not None:
        raise EngineConfigError(
            f"set_backward_engine: an engine is already set ({_default_engine!r}); "
            "pass override=True to replace it"
        )
    _default_engine = as_engine(engine, "set_backward_engine(engine)", **options)


def as_engine(engine: Engine | str | None, who: str, **options) -> Engine | None:
    """An engine from an engine or a spec string (``'gpt-4o'``, ``'openai:gpt-4o-mini'``, ``'local'``).

    ``None`` stays ``None`` (meaning: the default engine, when one is needed).
    """
    if isinstance(engine, str):
        from .engines.registry import get_engine

        return get_engine(engine, **options)
    if options:
        raise TypeError(f"{who}: options {sorted(options)} go with an engine spec string, not an engine")
    if engine is not None:
        from .engines.base import check_engine

        check_engine(engine, who)
    return engine


def get_backward_engine() -> Engine | None:
    return _default_engine


def resolve_engine(engine: Engine | None, who: str) -> Engine:
    if engine is not None:
        from .engines.base import check_engine

        check_engine(engine, f"{who}: engine")
        return engine
    if _default_engine is None:
        raise EngineNotSetError(
            f"{who} needs an engine: pass engine=... or call "
            "tg_core.set_backward_engine(tg_core.get_engine('local'))"
        )
    return _default_engine
