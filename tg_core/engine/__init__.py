"""TextGrad's ``textgrad.engine`` module paths: ``get_engine`` and ``EngineLM``.

Our engines live in ``tg_core.engines``; this package only gives TextGrad's
import lines somewhere to land. ``get_engine`` is ours and resolves
TextGrad's names (``gpt-4o``, ``claude-...``, ``ollama-...``; see
``tg_core.engines.providers``).
"""

from ..engines.registry import get_engine
from .base import EngineLM

__all__ = ["EngineLM", "get_engine"]
