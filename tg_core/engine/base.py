"""TextGrad's ``EngineLM``: write ``generate(prompt, system_prompt=None)``, get a tg-core engine.

A TextGrad engine is a class with ``generate(content, system_prompt=None,
**kwargs) -> str``; subclassing ``EngineLM`` makes it a tg-core engine, so
caching, retries, budgets and the run log work around it. Chat messages are
turned into TextGrad's call: the system message becomes ``system_prompt``,
one user message its text; several turns (a re-ask) are joined into one
transcript. With ``is_multimodal = True`` an image reaches ``generate`` as
TextGrad passed it, in a list with the text: bytes (or the URL as text when
the image was given by URL, since nothing is downloaded here).
"""

from __future__ import annotations

import base64
import inspect
from typing import Any

from .. import prompts
from ..engines.base import (
    Completion,
    Messages,
    ModelEngine,
    Usage,
    content_text,
    estimate_tokens,
    messages_text,
)


def _textgrad_content(content: str | list[dict[str, Any]]) -> str | list[str | bytes]:
    if isinstance(content, str):
        return content
    items: list[str | bytes] = []
    for part in content:
        if part["type"] == "text":
            items.append(part["text"])
            continue
        url = part["image_url"]["url"]
        items.append(base64.b64decode(url.partition(",")[2]) if url.startswith("data:") else url)
    return items


def textgrad_call(messages: Messages) -> tuple[str | list[str | bytes], str | None]:
    """TextGrad's ``(content, system_prompt)`` for chat messages."""
    system = messages[0]["content"] if messages[0]["role"] == "system" else None
    turns = messages[1:] if system is not None else messages
    if len(turns) == 1:
        return _textgrad_content(turns[0]["content"]), system
    return "\n\n".join(
        prompts.TRANSCRIPT_TURN.format(role=m["role"], content=content_text(m["content"])) for m in turns
    ), system


class EngineLM(ModelEngine):
    """Subclass with ``generate(content, system_prompt=None, **kwargs) -> str`` (TextGrad's engine base).

    Subclasses need not call ``__init__`` (TextGrad's did not need it):
    ``model_string`` names the model, ``is_multimodal`` says whether it reads
    images. Sampling options (temperature, max_tokens, seed) are passed to
    ``generate`` when it takes them by name or as ``**kwargs``.
    """

    model_string: str = "engine-lm"
    is_multimodal: bool = False
    _prices = None

    def __init__(self, model_string: str | None = None, is_multimodal: bool | None = None) -> None:
        if model_string is not None:
            self.model_string = model_string
        if is_multimodal is not None:
            self.is_multimodal = is_multimodal

    @property
    def model(self) -> str:  # type: ignore[override]
        return self.model_string

    @property
    def usage(self) -> Usage:  # type: ignore[override]
        return self.__dict__.setdefault("_usage", Usage())

    @property
    def accepts_images(self) -> bool:
        return bool(self.is_multimodal)

    def generate(self, content: Any, system_prompt: str | None = None, **kwargs: Any) -> str:
        raise NotImplementedError(
            f"{type(self).__name__} must define generate(content, system_prompt=None, **kwargs) -> str"
        )

    def _accepted(self, params: dict[str, Any]) -> dict[str, Any]:
        signature = inspect.signature(self.generate).parameters
        if any(p.kind is p.VAR_KEYWORD for p in signature.values()):
            return {k: v for k, v in params.items() if k != "output_tags"}
        return {k: v for k, v in params.items() if k in signature and k not in ("content", "system_prompt")}

    def _send(self, messages: Messages, params: dict[str, Any]) -> Completion:
        content, system = textgrad_call(messages)
        text = self.generate(content, system_prompt=system, **self._accepted(params))
        if not isinstance(text, str):
            raise TypeError(f"{type(self).__name__}.generate returned {type(text).__name__}, expected str")
        return Completion(text, estimate_tokens(messages_text(messages)), estimate_tokens(text), self.model_string)
