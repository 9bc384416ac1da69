"""Images next to text: what a Variable holds, and how it reaches an engine.

An ``Image`` is a reference (bytes, a file path or a URL, with its MIME type);
nothing is read or fetched when it is made (TextGrad's Variable downloaded
URLs in its constructor). A file is read when a request is built; a URL is
passed on as a URL, which providers fetch themselves. Requests carry images
as OpenAI-style content parts (``{"type": "image_url", "image_url": {"url":
...}}``), the form every OpenAI-compatible server reads.

Engines say whether they read images with an ``accepts_images`` attribute
(layers answer for the engine they wrap). A call whose point is the image
refuses a text-only engine, naming it; backward and TGD, where an image is
context, tell a text-only engine in words that an image was there.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engines.base import layers
from .errors import EngineConfigError

if TYPE_CHECKING:
    from .engines.base import Engine, Messages

log = logging.getLogger(__name__)

# Leading bytes of the formats vision models read.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sniff_mime(data: bytes) -> str | None:
    """The MIME type from the first bytes, or ``None`` for a format models do not read."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "data:image/"))


@dataclass(frozen=True)
class Image:
    """One image: exactly one of ``data``, ``path`` or ``url``, and its MIME type if known."""

    data: bytes | None = None
    path: str | None = None
    url: str | None = None
    mime_type: str | None = None

    def __post_init__(self) -> None:
        given = [name for name in ("data", "path", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"Image: give exactly one of data, path or url (got {given or 'none'})")
        if self.data is not None and not isinstance(self.data, bytes):
            raise TypeError(f"Image: data must be bytes, got {type(self.data).__name__}")
        if self.mime_type is not None and self.mime_type not in IMAGE_TYPES:
            raise ValueError(f"Image: mime_type {self.mime_type!r} is not one of {', '.join(IMAGE_TYPES)}")

    @classmethod
    def of(cls, source: bytes | str | Path, mime_type: str | None = None) -> Image:
        """An image from bytes, a URL (http, https or data) or a file path."""
        if isinstance(source, bytes):
            return cls(data=source, mime_type=mime_type)
        if isinstance(source, Path):
            return cls(path=str(source), mime_type=mime_type)
        if isinstance(source, str) and source.strip():
            if _is_url(source):
                return cls(url=source, mime_type=mime_type)
            return cls(path=source, mime_type=mime_type)
        raise TypeError(f"an image is bytes, a path or a URL, got {type(source).__name__} {source!r}"[:200])

    def describe(self) -> str:
        """A short label for prompts and logs, never the bytes themselves."""
        if self.url is not None:
            return self.url if len(self.url) <= 80 else self.url[:77] + "..."
        if self.path is not None:
            return self.path
        return f"{self.mime_type or sniff_mime(self.data) or 'image'}, {len(self.data)} bytes"

    def request_url(self) -> str:
        """What goes into ``image_url.url``: the URL as given, or the bytes as a data URL.

        A file is read here, at request time, so an image variable made before
        the file exists (or a missing file) fails with the path named.
        """
        if self.url is not None:
            return self.url
        if self.path is not None:
            try:
                data = Path(self.path).read_bytes()
            except OSError as exc:
                raise ValueError(f"image file {self.path!r} cannot be read: {exc.strerror or exc}") from None
        else:
            data = self.data
        mime = self.mime_type or sniff_mime(data) or (
            mimetypes.guess_type(self.path)[0] if self.path is not None else None
        )
        if mime not in IMAGE_TYPES:
            raise ValueError(
                f"image {self.describe()!r}: not PNG, JPEG, GIF or WEBP; pass mime_type= if it is one"
            )
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def image_of(
    value: Any, image: Image | bytes | str | Path | None, image_path: str | Path | None, mime_type: str | None,
    who: str,
) -> tuple[Any, Image | None]:
    """The text value and image of a Variable given TextGrad's ways of passing one.

    TextGrad passes an image as the value (bytes) or as ``image_path`` (a path
    or URL); tg-core also takes ``image=``. The text value of an image variable
    is whatever text goes with it (empty by default).
    """
    sources = [s for s in (image, image_path, value if isinstance(value, bytes) else None) if s is not None]
    if len(sources) > 1:
        raise ValueError(f"{who}: give the image once (as value bytes, image= or image_path=)")
    if isinstance(value, bytes):
        value = ""
    if not sources:
        if mime_type is not None:
            raise ValueError(f"{who}: mime_type given without an image")
        return value, None
    source = sources[0]
    if isinstance(source, Image):
        return value, source if mime_type is None else Image(source.data, source.path, source.url, mime_type)
    try:
        return value, Image.of(source, mime_type)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{who}: {exc}") from None


# ---------------------------------------------------------------- content parts


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def image_part(image: Image) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": image.request_url()}}


def labelled_images(images: list[Image] | tuple[Image, ...]) -> list[dict[str, Any]]:
    """Each image preceded by the label prompts refer to it by (IMAGE 1, IMAGE 2, ...)."""
    from . import prompts

    parts: list[dict[str, Any]] = []
    for i, image in enumerate(images):
        parts.append(text_part(prompts.IMAGE_LABEL.format(index=i + 1)))
        parts.append(image_part(image))
    return parts


def unique(images: list[Image]) -> list[Image]:
    """Images in first-seen order, each once (feedback from one call shares its images)."""
    return list(dict.fromkeys(images))


def accepts_images(engine: Engine) -> bool:
    """Whether ``engine`` reads image parts; a layer answers for the engine it wraps."""
    answering = next((layer for layer in layers(engine) if hasattr(layer, "accepts_images")), None)
    return bool(getattr(answering, "accepts_images", False))


def has_images(messages: Messages) -> bool:
    return any(
        isinstance(m["content"], list) and any(p.get("type") == "image_url" for p in m["content"])
        for m in messages
    )


def require_images(engine: Engine, who: str, what: str) -> None:
    """Refuse, naming the engine, a call whose point is an image when the engine reads only text."""
    if not accepts_images(engine):
        raise EngineConfigError(
            f"{who}: {what} holds an image, and the engine {engine.model!r} reads text only "
            "(the embedded local model is a text model). Use an engine that reads images: "
            "a vision model by name ('gpt-4o', 'claude-...', 'gemini-...') or any OpenAI-compatible "
            "vision server ('openai:MODEL' with base_url=)"
        )


def for_engine(engine: Engine, messages: Messages, who: str) -> Messages:
    """``messages`` as ``engine`` can read them: image parts become a note for a text-only engine.

    Used where images are context (backward, TGD): the text of the feedback
    still helps, so the call goes on and the model is told an image was there.
    """
    if not has_images(messages) or accepts_images(engine):
        return messages
    from . import prompts

    log.warning("%s: engine %r reads text only; images in its prompt are replaced by a note", who, engine.model)
    note = prompts.IMAGE_NOT_SHOWN.format(model=engine.model)
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = "".join(p["text"] if p["type"] == "text" else note for p in content)
        out.append({**m, "content": content})
    return out
