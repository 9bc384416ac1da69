"""TextGrad's ``ChatOpenAI`` path: our OpenAI engine under TextGrad's argument names."""

from __future__ import annotations

from typing import Any

from ..engines.openai_engine import OpenAIEngine


class ChatOpenAI(OpenAIEngine):
    """``ChatOpenAI(model_string=..., base_url=...)``; a missing key is an ``EngineConfigError`` (a ValueError).

    Unlike ``tg_core.get_engine``, this is the bare engine, without the cache
    and retry layers (TextGrad's class had them built in).
    """

    def __init__(self, model_string: str = "gpt-4o-mini", base_url: str | None = None, **options: Any) -> None:
        super().__init__(model_string, base_url=base_url, **options)
