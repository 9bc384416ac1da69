"""A medicinal chemist's goals for a molecule, each checked by the program, never by the judge.

A ``GoalSet`` combines Vina on one or several targets, selectivity against an
anti-target (the difference of the two Vina scores), QED, SA, Tanimoto
similarity to the starting molecule and property windows (MW, logP, TPSA,
HBD, HBA, rotatable bonds). ``statuses`` gives each goal's value, threshold
and met/missed; ``goals_table`` renders them for the judge the same way
every time; ``score`` ranks candidates as a tuple compared
lexicographically, higher is better: (goals met, weighted objective).

The windows and the structural alerts are also filters (``filters``): a
candidate outside them is refused before docking.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from . import prompts
from .filters import ALERT_CATALOGS, WINDOW_PROPERTIES, Filters, Window, check_catalogs, window_from
from .receptors import check_target

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

WEIGHT_KINDS = ("vina", "selectivity", "qed", "sa", "similarity", "windows")
# One unit of the objective per: kcal/mol (Vina, selectivity), 0.1 QED, 1 SA, 0.1 similarity;
# windows use filters.WINDOW_PROPERTIES. Goals other than docking count at most one unit
# beyond their threshold, so a very high QED cannot buy a weak binder.
SCALES = {"vina": 1.0, "selectivity": 1.0, "qed": 0.1, "sa": 1.0, "similarity": 0.1}
CAPPED = ("qed", "sa", "similarity")
NOT_EVALUATED = -10.0  # the margin of a goal whose value is missing (a docking that failed)


@dataclass(frozen=True)
class GoalStatus:
    """One goal for one molecule: its value, threshold and whether the program found it met."""

    name: str
    kind: str
    value: float | None
    threshold: str
    met: bool
    margin: float  # beyond the threshold in units of ``scale``: > 0 better than needed, < 0 missed
    digits: int = 2
    scale: float = 1.0

    def value_text(self) -> str:
        return "not evaluated" if self.value is None else f"{self.value:.{self.digits}f}"

    def status_text(self) -> str:
        if self.value is None:
            return "missed (no value)"
        if self.met:
            return "met"
        return f"missed by {abs(self.margin) * self.scale:.{self.digits}f}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "value": self.value, "threshold": self.threshold,
                "met": self.met, "margin": self.margin}


@dataclass(frozen=True)
class GoalSet:
    """The goals of a run; ``targets`` are docked, and the ``anti_target`` too when set.

    ``vina``: Vina score on each target at most this (kcal/mol). ``selectivity``:
    Vina on the target minus Vina on the anti-target at most this (-1 means at
    least 1 kcal/mol stronger on the target). ``qed`` at least, ``sa`` at most,
    ``similarity_min``: Tanimoto similarity to the starting molecule at least.
    ``windows`` bound properties; ``alerts`` are RDKit FilterCatalog catalogs.
    None switches a goal off.
    """

    targets: tuple[str, ...] = ("DRD2",)
    vina: float | None = -10.0
    anti_target: str | None = None
    selectivity: float = -1.0
    qed: float | None = 0.6
    sa: float | None = None
    similarity_min: float | None = None
    windows: Mapping[str, Window] = field(default_factory=dict)
    alerts: tuple[str, ...] = ALERT_CATALOGS
    weights: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        targets = (self.targets,) if isinstance(self.targets, str) else tuple(self.targets)
        if not targets:
            raise ValueError("a goal set needs at least one target")
        targets = tuple(dict.fromkeys(check_target(t) for t in targets))
        anti = check_target(self.anti_target) if self.anti_target is not None else None
        if anti is not None and anti in targets:
            raise ValueError(f"the anti-target {anti} is also a target")
        _check_number("vina", self.vina, -30, 0, optional=True)
        _check_number("selectivity", self.selectivity, -30, 30)
        _check_number("qed", self.qed, 0, 1, optional=True)
        _check_number("sa", self.sa, 1, 10, optional=True)
        _check_number("similarity_min", self.similarity_min, 0, 1, optional=True)
        windows = dict(self.windows)
        unknown = sorted(set(windows) - set(WINDOW_PROPERTIES))
        if unknown:
            raise ValueError(f"unknown property window(s) {', '.join(unknown)}; known: {', '.join(WINDOW_PROPERTIES)}")
        if not all(isinstance(w, Window) for w in windows.values()):
            raise ValueError("windows must map property names to Window(low, high)")
        weights = dict(self.weights)
        for kind, weight in weights.items():
            if kind not in WEIGHT_KINDS:
                raise ValueError(f"unknown weight {kind!r}; known: {', '.join(WEIGHT_KINDS)}")
            _check_number(f"weight {kind}", weight, 0, 1000)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "anti_target", anti)
        object.__setattr__(self, "windows", {k: windows[k] for k in WINDOW_PROPERTIES if k in windows})
        object.__setattr__(self, "alerts", check_catalogs(tuple(self.alerts)))
        object.__setattr__(self, "weights", weights)

    @property
    def docking_targets(self) -> tuple[str, ...]:
        """Every target a candidate is docked on: the targets, then the anti-target."""
        return self.targets + ((self.anti_target,) if self.anti_target else ())

    def filters(self, max_heavy_atoms: int | None = None, max_rotatable_bonds: int | None = None) -> Filters:
        """The part of the goals enforced before docking: the windows and the alerts."""
        return Filters(self.windows, self.alerts, max_heavy_atoms, max_rotatable_bonds)

    def with_target(self, target: str) -> GoalSet:
        """The same goals on one target (for a run per target)."""
        return replace(self, targets=(target,))

    def statuses(
        self, vina: Mapping[str, float | None], values: Mapping[str, Any], similarity: float | None = None
    ) -> list[GoalStatus]:
        """Each goal for one molecule: ``vina`` by target (None: docking failed), ``values``
        its properties with ``qed`` and ``sa``, ``similarity`` to the start (None: no start)."""
        out = []
        if self.vina is not None:
            for target in self.targets:
                out.append(_at_most(prompts.GOAL_NAME_VINA.format(target=target), "vina",
                                    vina.get(target), self.vina))
        if self.anti_target is not None:
            anti = vina.get(self.anti_target)
            for target in self.targets:
                own = vina.get(target)
                difference = None if own is None or anti is None else own - anti
                out.append(_at_most(prompts.GOAL_NAME_SELECTIVITY.format(target=target, anti=self.anti_target),
                                    "selectivity", difference, self.selectivity))
        if self.qed is not None:
            out.append(_at_least(prompts.GOAL_NAME_QED, "qed", values.get("qed"), self.qed, digits=3))
        if self.sa is not None:
            out.append(_at_most(prompts.GOAL_NAME_SA, "sa", values.get("sa"), self.sa))
        if self.similarity_min is not None and similarity is not None:
            out.append(_at_least(prompts.GOAL_NAME_SIMILARITY, "similarity", similarity, self.similarity_min))
        for key, window in self.windows.items():
            label, scale = WINDOW_PROPERTIES[key]
            value = values.get(key)
            miss = None if value is None else window.miss(value)
            out.append(GoalStatus(label, "windows", None if value is None else float(value), window.text(),
                                  miss == 0, NOT_EVALUATED if miss is None else -miss / scale, scale=scale))
        return out

    def score(self, statuses: list[GoalStatus]) -> tuple[int, float]:
        """(goals met, weighted objective): compare as tuples, higher is better."""
        objective = 0.0
        for status in statuses:
            margin = min(status.margin, 1.0) if status.kind in CAPPED else status.margin
            objective += self.weights.get(status.kind, 1.0) * margin
        return sum(s.met for s in statuses), round(objective, 6)

    def describe(self) -> str:
        """The goals as a list for the judge's instruction (thresholds only, no values)."""
        lines = []
        if self.vina is not None:
            lines.extend(prompts.GOAL_VINA.format(value=self.vina, target=t) for t in self.targets)
        if self.anti_target is not None:
            lines.extend(prompts.GOAL_SELECTIVITY.format(value=self.selectivity, target=t, anti=self.anti_target)
                         for t in self.targets)
        if self.qed is not None:
            lines.append(prompts.GOAL_QED.format(value=self.qed))
        if self.sa is not None:
            lines.append(prompts.GOAL_SA.format(value=self.sa))
        if self.similarity_min is not None:
            lines.append(prompts.GOAL_SIMILARITY.format(value=self.similarity_min))
        lines.extend(prompts.GOAL_WINDOW.format(name=WINDOW_PROPERTIES[k][0], window=w.text())
                     for k, w in self.windows.items())
        if self.alerts:
            lines.append(prompts.GOAL_ALERTS.format(catalogs=" and ".join(self.alerts)))
        return "\n".join(f"- {line}" for line in lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "targets": list(self.targets), "vina": self.vina, "anti_target": self.anti_target,
            "selectivity": self.selectivity, "qed": self.qed, "sa": self.sa,
            "similarity_min": self.similarity_min,
            "windows": {k: [w.low, w.high] for k, w in self.windows.items()},
            "alerts": list(self.alerts), "weights": dict(self.weights),
        }


def goals_table(statuses: list[GoalStatus]) -> str:
    """The goals of one molecule as a markdown table, then the count met: deterministic text."""
    rows = [prompts.GOALS_TABLE_HEADER]
    rows.extend(prompts.GOALS_TABLE_ROW.format(name=s.name, value=s.value_text(), threshold=s.threshold,
                                               status=s.status_text()) for s in statuses)
    rows.append("")  # the count is not a row of the table
    rows.append(prompts.GOALS_MET.format(met=sum(s.met for s in statuses), total=len(statuses)))
    return "\n".join(rows)


FILE_KEYS = {f.name for f in fields(GoalSet)} - {"windows", "weights"}


def read_goal_file(path: Path | str) -> dict[str, Any]:
    """The keyword arguments of a ``GoalSet`` from a TOML goal file; errors name the file and key.

    Example::

        targets = ["DRD2"]
        anti_target = "DRD3"
        vina = -9.0
        selectivity = -1.0
        qed = 0.5
        sa = 4.0
        similarity_min = 0.3
        alerts = ["PAINS"]
        [windows]
        mw = [200, 500]
        tpsa = {max = 120}
        [weights]
        vina = 2.0
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"goal file {path}: cannot read it ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"goal file {path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - FILE_KEYS - {"windows", "weights"})
    if unknown:
        raise ValueError(f"goal file {path}: unknown key(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(FILE_KEYS | {'windows', 'weights'}))}")
    options = {k: v for k, v in data.items() if k in FILE_KEYS}
    if "targets" in options:
        targets = options["targets"]
        options["targets"] = (targets,) if isinstance(targets, str) else tuple(targets)
    if "alerts" in options:
        options["alerts"] = tuple(options["alerts"])
    windows = data.get("windows", {})
    if not isinstance(windows, dict):
        raise ValueError(f"goal file {path}: [windows] must be a table, got {windows!r}")
    options["windows"] = {k: window_from(v, f"goal file {path}: windows.{k}") for k, v in windows.items()}
    weights = data.get("weights", {})
    if not isinstance(weights, dict):
        raise ValueError(f"goal file {path}: [weights] must be a table, got {weights!r}")
    if weights:
        options["weights"] = weights
    return options


def _check_number(name: str, value: Any, low: float, high: float, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"the {name} goal must be a number from {low:g} to {high:g}, got {value!r}")


def _at_most(name: str, kind: str, value: float | None, threshold: float, digits: int = 2) -> GoalStatus:
    text = prompts.THRESHOLD_AT_MOST.format(value=threshold)
    if value is None:
        return GoalStatus(name, kind, None, text, False, NOT_EVALUATED, digits, SCALES[kind])
    return GoalStatus(name, kind, value, text, value <= threshold, (threshold - value) / SCALES[kind], digits,
                      SCALES[kind])


def _at_least(name: str, kind: str, value: float | None, threshold: float, digits: int = 2) -> GoalStatus:
    text = prompts.THRESHOLD_AT_LEAST.format(value=threshold)
    if value is None:
        return GoalStatus(name, kind, None, text, False, NOT_EVALUATED, digits, SCALES[kind])
    return GoalStatus(name, kind, value, text, value >= threshold, (value - threshold) / SCALES[kind], digits,
                      SCALES[kind])
