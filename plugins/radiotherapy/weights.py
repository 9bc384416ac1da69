"""The planning weights as text (the paper's format) and as a dict, strictly checked.

The text is what the LLM reads and rewrites:

    weight for PTV: 100, weight for bladder: 100, weight for rectum: 100,
    weight for femoral heads: 100, weight for body: 100

Anything that is not exactly one finite, non-negative number per structure,
0 or between ``MIN_WEIGHT`` and ``MAX_WEIGHT``, is rejected with a message
that says what to fix, so a plan is never computed from a malformed answer.
Markdown emphasis and code marks around the entries (``**weight for PTV**:
100``, as models write) are ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from numbers import Real
from typing import Any

from .phantom import STRUCTURES

MAX_WEIGHT = 1e6
"""Weights are relative; beyond this a value is a typo or a runaway update, not a plan."""

MIN_WEIGHT = 1e-6
"""The smallest positive weight: below it a value is a typo or an underflow, not a choice (0 switches a term off)."""

DEFAULT_WEIGHTS = dict.fromkeys(STRUCTURES, 100.0)

_ENTRY = re.compile(r"weight\s+for\s+(?P<name>[A-Za-z][A-Za-z _-]*?)\s*[:=]\s*(?P<value>[^,;\n]*)", re.IGNORECASE)
_MARKUP = re.compile(r"\*+|`+|(?<![A-Za-z0-9])__+|__+(?![A-Za-z0-9])")
_ALIASES = {"femoral head": "femoral heads", "femoral_heads": "femoral heads", "femurs": "femoral heads"}


class WeightsError(ValueError):
    """Weights that cannot be used; the message names the structure and the problem."""


def _canonical(name: str) -> str | None:
    key = " ".join(name.replace("_", " ").split()).lower()
    key = _ALIASES.get(key, key)
    return next((s for s in STRUCTURES if s.lower() == key.lower()), None)


def _check_value(structure: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise WeightsError(f"the weight for {structure} must be a number, got {value!r}")
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise WeightsError(f"the weight for {structure} must be a finite number, got {value!r}")
    if number < 0:
        raise WeightsError(f"the weight for {structure} must not be negative, got {value!r}")
    if 0 < number < MIN_WEIGHT:
        raise WeightsError(
            f"the weight for {structure} is {number!r}, below the minimum of {MIN_WEIGHT:g}; "
            "use 0 to switch its term off, or scale all weights up together"
        )
    if number > MAX_WEIGHT:
        raise WeightsError(
            f"the weight for {structure} is {number:g}, above the limit of {MAX_WEIGHT:g}; "
            "weights are relative, so scale all of them down together"
        )
    return number


def check_weights(weights: Mapping[str, Any]) -> dict[str, float]:
    """Weights by canonical structure name, or WeightsError."""
    if not isinstance(weights, Mapping):
        raise WeightsError(f"weights must be text or a dict by structure, got {type(weights).__name__}")
    checked: dict[str, float] = {}
    unknown = []
    for name, value in weights.items():
        structure = _canonical(str(name))
        if structure is None:
            unknown.append(str(name))
            continue
        if structure in checked:
            raise WeightsError(f"the weight for {structure} is given twice")
        checked[structure] = _check_value(structure, value)
    missing = [s for s in STRUCTURES if s not in checked]
    if unknown or missing:
        raise WeightsError(
            "weights must name exactly these structures: " + ", ".join(STRUCTURES)
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    if not any(checked.values()):
        raise WeightsError("all weights are zero: at least one structure must have a positive weight")
    return {s: checked[s] for s in STRUCTURES}


def parse_weights(text: str) -> dict[str, float]:
    """Weights from the paper's text format (surrounding prose is ignored)."""
    if not isinstance(text, str):
        raise WeightsError(f"weights text must be a string, got {type(text).__name__}")
    entries = list(_ENTRY.finditer(_MARKUP.sub("", text)))
    if not entries:
        raise WeightsError(
            "no weights found; write them as 'weight for PTV: 100, weight for bladder: 100, "
            "weight for rectum: 100, weight for femoral heads: 100, weight for body: 100'"
        )
    values: dict[str, Any] = {}
    for match in entries:
        name, raw = match.group("name").strip(), match.group("value").strip()
        try:
            value: Any = float(raw)
        except ValueError:
            raise WeightsError(f"the weight for {name} is not a number: {raw!r}") from None
        if name in values:
            raise WeightsError(f"the weight for {name} is given twice")
        values[name] = value
    return check_weights(values)


def as_weights(weights: str | Mapping[str, Any]) -> dict[str, float]:
    """Either form, checked."""
    return parse_weights(weights) if isinstance(weights, str) else check_weights(weights)


def format_weights(weights: Mapping[str, float]) -> str:
    """The paper's text format, structures in its order."""
    checked = check_weights(weights)
    return ", ".join(f"weight for {s}: {checked[s]:g}" for s in STRUCTURES)
