"""Clinical goals: a protocol file (TOML or JSON) and the goal-by-goal verdict on a plan.

The default protocol (``data/prostate_goals.toml``) holds the QUANTEC rectum,
bladder and femoral-head limits and the PTV coverage and hot-spot criteria;
users load their own with ``load_protocol(path)``. Every field is checked
when the file is read, so a typo fails there with the goal's number, not
half-way through a run.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .dvh import parse_metric
from .phantom import REGIONS, STRUCTURES

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DEFAULT_PROTOCOL = "prostate_goals.toml"

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_UNITS = {"D": ("Gy", "%Rx"), "V": ("%",)}


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message names the file and the goal."""


@dataclass(frozen=True)
class Goal:
    structure: str
    metric: str
    op: str
    limit: float
    unit: str
    source: str = ""

    def limit_in_metric_units(self, prescription_gy: float) -> float:
        """The limit in Gy (dose metrics) or percent of volume (V metrics)."""
        return self.limit * prescription_gy / 100.0 if self.unit == "%Rx" else self.limit

    def describe(self, prescription_gy: float) -> str:
        if self.unit == "%Rx":
            gy = self.limit_in_metric_units(prescription_gy)
            return f"{self.structure} {self.metric} {self.op} {self.limit:g}% of prescription ({gy:.1f} Gy)"
        unit = " Gy" if self.unit == "Gy" else "%"
        return f"{self.structure} {self.metric} {self.op} {self.limit:g}{unit}"


@dataclass(frozen=True)
class GoalResult:
    goal: Goal
    value: float
    limit: float
    met: bool

    @property
    def unit(self) -> str:
        return "%" if self.goal.metric.startswith("V") else "Gy"

    @property
    def shortfall(self) -> float:
        """How far the value is on the wrong side of the limit, relative to the limit (0 when met).

        Relative, so that goals in Gy and in percent add up to one number
        that compares plans missing the same count of goals; the limit is
        floored at 1 (Gy or %) so a goal of 0 does not divide by zero.
        """
        if self.met:
            return 0.0
        over = self.value - self.limit if self.goal.op in ("<", "<=") else self.limit - self.value
        return max(over, 0.0) / max(abs(self.limit), 1.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "structure": self.goal.structure,
            "metric": self.goal.metric,
            "op": self.goal.op,
            "limit": self.limit,
            "unit": self.unit,
            "value": self.value,
            "met": self.met,
            "shortfall": self.shortfall,
        }


@dataclass(frozen=True)
class Protocol:
    name: str
    prescription_gy: float
    goals: tuple[Goal, ...]

    def metrics_by_structure(self) -> dict[str, list[str]]:
        needed: dict[str, list[str]] = {}
        for goal in self.goals:
            needed.setdefault(goal.structure, [])
            if goal.metric not in needed[goal.structure]:
                needed[goal.structure].append(goal.metric)
        return needed

    def evaluate(self, metrics: Mapping[str, Mapping[str, float]]) -> list[GoalResult]:
        """Each goal against ``metrics[structure][metric]`` (Gy, or percent for V metrics)."""
        results = []
        for goal in self.goals:
            value = float(metrics[goal.structure][goal.metric])
            limit = goal.limit_in_metric_units(self.prescription_gy)
            results.append(GoalResult(goal, value, limit, bool(_OPS[goal.op](value, limit))))
        return results


def _goal(raw: Any, index: int, where: str) -> Goal:
    label = f"{where}: goal {index}"
    if not isinstance(raw, Mapping):
        raise ProtocolError(f"{label} must be a table of fields")
    missing = [f for f in ("structure", "metric", "op", "limit", "unit") if f not in raw]
    if missing:
        raise ProtocolError(f"{label} lacks {', '.join(missing)}")
    unknown = sorted(set(raw) - {"structure", "metric", "op", "limit", "unit", "source"})
    if unknown:
        raise ProtocolError(f"{label} has unknown fields {', '.join(unknown)}")
    structure = raw["structure"]
    if structure not in STRUCTURES and structure not in REGIONS:
        names = ", ".join((*STRUCTURES, *REGIONS))
        raise ProtocolError(f"{label}: unknown structure {structure!r}; use one of {names}")
    try:
        kind, _ = parse_metric(raw["metric"])
    except ValueError as exc:
        raise ProtocolError(f"{label}: {exc}") from None
    if raw["op"] not in _OPS:
        raise ProtocolError(f"{label}: op must be one of {', '.join(_OPS)}, got {raw['op']!r}")
    limit = raw["limit"]
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit or abs(limit) == float("inf"):
        raise ProtocolError(f"{label}: limit must be a finite number, got {limit!r}")
    allowed = _UNITS["V" if kind == "V" else "D"]
    if raw["unit"] not in allowed:
        raise ProtocolError(f"{label}: unit for {raw['metric']} must be {' or '.join(allowed)}, got {raw['unit']!r}")
    return Goal(structure, raw["metric"], raw["op"], float(limit), raw["unit"], str(raw.get("source", "")))


def protocol_from_dict(data: Mapping[str, Any], where: str = "protocol") -> Protocol:
    header = data.get("protocol", {})
    if not isinstance(header, Mapping):
        raise ProtocolError(f"{where}: [protocol] must be a table")
    prescription = header.get("prescription_gy")
    if isinstance(prescription, bool) or not isinstance(prescription, (int, float)) or not 0 < prescription < 200:
        raise ProtocolError(f"{where}: [protocol] prescription_gy must be a dose in Gy, got {prescription!r}")
    raw_goals = data.get("goal")
    if not isinstance(raw_goals, list) or not raw_goals:
        raise ProtocolError(f"{where}: no goals; add [[goal]] tables")
    goals = tuple(_goal(raw, i + 1, where) for i, raw in enumerate(raw_goals))
    return Protocol(str(header.get("name", where)), float(prescription), goals)


def load_protocol(path: str | Path | None = None) -> Protocol:
    """A protocol file (.toml or .json); the built-in prostate protocol when ``path`` is None."""
    if path is None:
        text = resources.files("tg_radiotherapy").joinpath("data", DEFAULT_PROTOCOL).read_text("utf-8")
        return protocol_from_dict(tomllib.loads(text), DEFAULT_PROTOCOL)
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(f"goals file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProtocolError(f"goals file {path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from None
    return protocol_from_dict(data, str(path))
