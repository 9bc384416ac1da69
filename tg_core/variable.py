"""The node of a text computation graph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .images import Image, image_of

if TYPE_CHECKING:
    from .engines.base import Engine
    from .function import Function


@dataclass(frozen=True)
class Feedback:
    """One piece of textual gradient, kept with the context it was written in.

    The optimizer needs the context (the conversation or simulation the
    variable took part in) to judge what the feedback refers to, so feedback is
    never stored as bare text.
    """

    text: str
    context: str | None = None
    source: str = ""
    images: tuple[Image, ...] = ()  # images the context refers to (IMAGE 1, ...), for engines that read them


class Variable:
    """A piece of text in a computation graph.

    ``value`` is always text because that is what LLMs read and write. A
    simulator may attach its structured result as ``data`` (numbers to log and
    plot) without changing what downstream LLMs see. An ``image`` (bytes, a
    path or a URL; see ``tg_core.images``) may sit next to the text; TextGrad's
    ``Variable(image_bytes, ...)`` and ``image_path=`` are accepted too, and
    nothing is read or downloaded here.
    """

    def __init__(
        self,
        value: str | bytes = "",
        role_description: str | None = None,
        requires_grad: bool = True,
        predecessors: tuple[Variable, ...] | list[Variable] = (),
        data: Any = None,
        *,
        image: Image | bytes | str | Path | None = None,
        image_path: str | Path | None = None,
        mime_type: str | None = None,
    ) -> None:
        if role_description is None:
            raise TypeError("Variable: role_description is required (say what this text is for)")
        value, self.image = image_of(value, image, image_path, mime_type, f"Variable '{role_description}'")
        if not isinstance(value, str):
            raise TypeError(
                f"Variable '{role_description}': value must be text (str), "
                f"got {type(value).__name__}"
            )
        if not isinstance(role_description, str) or not role_description.strip():
            raise ValueError("Variable: role_description must be a non-empty string")
        for p in predecessors:
            if not isinstance(p, Variable):
                raise TypeError(
                    f"Variable '{role_description}': predecessors must be Variables, "
                    f"got {type(p).__name__}"
                )
        self.value = value
        self.role_description = role_description
        self.requires_grad = bool(requires_grad)
        self.predecessors: tuple[Variable, ...] = tuple(predecessors)
        self.data = data
        self.gradients: list[Feedback] = []
        self.grad_fn: Function | None = None
        self.grad_context: dict[str, Any] = {}
        self._is_objective = False

    def __repr__(self) -> str:
        short = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        image = f", image={self.image.describe()!r}" if self.image is not None else ""
        return f"Variable(role={self.role_description!r}, value={short!r}{image})"

    def __str__(self) -> str:
        return self.value

    def set_value(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(
                f"Variable '{self.role_description}': value must be text (str), "
                f"got {type(value).__name__}"
            )
        self.value = value

    # TextGrad's accessors, for code written against it.

    def get_value(self) -> str:
        return self.value

    def get_role_description(self) -> str:
        return self.role_description

    def set_role_description(self, role_description: str) -> None:
        if not isinstance(role_description, str) or not role_description.strip():
            raise ValueError("Variable.set_role_description: role_description must be a non-empty string")
        self.role_description = role_description

    def get_short_value(self, n_words_offset: int = 10) -> str:
        """The first and last ``n_words_offset`` words, for showing a long value in passing."""
        words = self.value.split(" ")
        if len(words) <= 2 * n_words_offset:
            return self.value
        return " ".join(words[:n_words_offset]) + " (...) " + " ".join(words[-n_words_offset:])

    def get_grad_fn(self) -> Function | None:
        return self.grad_fn

    def reset_gradients(self) -> None:
        self.zero_grad()

    def generate_graph(self) -> str:
        """The graph behind this variable as Graphviz DOT text (TextGrad drew it with graphviz)."""
        return self.to_dot()

    def add_feedback(self, feedback: Feedback) -> None:
        """Accumulate feedback; empty feedback carries nothing and is dropped."""
        if feedback.text.strip():
            self.gradients.append(feedback)

    def get_gradient_text(self) -> str:
        return "\n\n".join(f.text for f in self.gradients)

    def zero_grad(self) -> None:
        self.gradients = []
        self._is_objective = False

    def backward(self, engine: Engine | None = None, max_concurrency: int | None = None) -> None:
        from .aio import run_sync

        run_sync(self.abackward(engine=engine, max_concurrency=max_concurrency))

    async def abackward(
        self, engine: Engine | None = None, max_concurrency: int | None = None
    ) -> None:
        from .backward import propagate

        await propagate(self, engine=engine, max_concurrency=max_concurrency)

    def to_dot(self) -> str:
        from .graph_export import to_dot

        return to_dot(self)

    def to_mermaid(self) -> str:
        from .graph_export import to_mermaid

        return to_mermaid(self)
