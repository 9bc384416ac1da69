"""What a candidate must pass before it is docked: structural alerts and property windows.

Both are checked on the 2D molecule in about a millisecond, so a proposal a
chemist would discard (a PAINS motif that fools assays, a reactive or toxic
group from Brenk's list, a molecule outside the drug-like windows) never
costs a docking, and the reason goes back to the optimizer as text. Vina
rewards size (an all-carbon 32-membered ring scores -11 kcal/mol on DRD2), so
the windows are what keeps the search among drug-sized molecules.

``Filters.check(smiles)`` returns the reason a SMILES is refused, or None:
the shape of a Python-callable constraint of the optimization loop.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import MoleculeError

ALERT_CATALOGS = ("PAINS", "BRENK")
# Property windows a goal set may bound, with what each is called in messages and
# the scale of one "unit of miss" used to rank candidates (goals.py).
WINDOW_PROPERTIES = {
    "mw": ("molecular weight", 50.0),
    "logp": ("logP", 1.0),
    "tpsa": ("TPSA", 20.0),
    "hbd": ("H-bond donors", 1.0),
    "hba": ("H-bond acceptors", 1.0),
    "rotatable_bonds": ("rotatable bonds", 1.0),
}


@dataclass(frozen=True)
class Window:
    """A closed range of a property; either end may be open (None)."""

    low: float | None = None
    high: float | None = None

    def __post_init__(self) -> None:
        for end in (self.low, self.high):
            if end is not None and (isinstance(end, bool) or not isinstance(end, (int, float))
                                    or not math.isfinite(end)):
                raise ValueError(f"a window end must be a finite number, got {end!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"the window's minimum {self.low:g} is above its maximum {self.high:g}")
        if self.low is None and self.high is None:
            raise ValueError("a window needs a minimum, a maximum or both")

    def contains(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def miss(self, value: float) -> float:
        """How far ``value`` lies outside the window (0 inside)."""
        if self.low is not None and value < self.low:
            return self.low - value
        if self.high is not None and value > self.high:
            return value - self.high
        return 0.0

    def text(self) -> str:
        if self.low is None:
            return f"at most {self.high:g}"
        if self.high is None:
            return f"at least {self.low:g}"
        return f"{self.low:g} to {self.high:g}"


def parse_range(text: str, option: str) -> Window:
    """``MIN:MAX`` (either side may be empty, ``200:`` or ``:500``) as a ``Window``."""
    low_text, sep, high_text = str(text).partition(":")
    if not sep:
        raise ValueError(f"{option} {text!r}: give a range as MIN:MAX (e.g. 200:500, 200: or :500)")
    try:
        low = float(low_text) if low_text.strip() else None
        high = float(high_text) if high_text.strip() else None
        return Window(low, high)
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc} (give MIN:MAX, e.g. 200:500)") from None


def window_from(value: Any, where: str) -> Window:
    """A window from a goal file: ``[MIN, MAX]`` or ``{min = ..., max = ...}``."""
    if isinstance(value, list) and len(value) == 2:
        low, high = value
    elif isinstance(value, dict) and value and set(value) <= {"min", "max"}:
        low, high = value.get("min"), value.get("max")
    else:
        raise ValueError(f"{where}: give [MIN, MAX] or {{min = ..., max = ...}}, got {value!r}")
    try:
        return Window(low, high)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=8)
def _catalog(name: str) -> Any:
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name))
    return FilterCatalog(params)


def check_catalogs(names: tuple[str, ...]) -> tuple[str, ...]:
    """Upper-cased catalog names, or ValueError naming the unknown one."""
    from rdkit.Chem.FilterCatalog import FilterCatalogParams

    known = sorted(n for n in vars(FilterCatalogParams.FilterCatalogs) if n.isupper() and n != "ALL")
    checked = []
    for name in names:
        if not isinstance(name, str) or name.upper() not in known:
            raise ValueError(f"unknown alert catalog {name!r}; RDKit's FilterCatalog has {', '.join(known)}")
        checked.append(name.upper())
    return tuple(checked)


def structural_alerts(mol: Any, catalogs: tuple[str, ...] = ALERT_CATALOGS) -> list[str]:
    """Every alert of ``catalogs`` the molecule matches, as ``CATALOG alert description``."""
    found = []
    for name in catalogs:
        found.extend(f"{name} alert {entry.GetDescription()}" for entry in _catalog(name).GetMatches(mol))
    return found


@dataclass(frozen=True)
class Filters:
    """Structural alert catalogs and property windows; ``check`` is the constraint."""

    windows: Mapping[str, Window] = field(default_factory=dict)
    alerts: tuple[str, ...] = ALERT_CATALOGS
    max_heavy_atoms: int | None = None
    max_rotatable_bonds: int | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.windows) - set(WINDOW_PROPERTIES))
        if unknown:
            raise ValueError(
                f"unknown property window(s) {', '.join(unknown)}; known: {', '.join(WINDOW_PROPERTIES)}"
            )
        object.__setattr__(self, "alerts", check_catalogs(tuple(self.alerts)))

    def reasons(self, mol: Any, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Why a parsed molecule with these ``properties`` is refused (empty: it passes).

        Each reason is ``(kind, message)``: the kind (``"BRENK alert phenol_ester"``,
        ``"molecular weight outside 200 to 500"``) is what a report counts, the
        message (with the molecule's value) what the optimizer reads.
        """
        out = []
        for name, window in self.windows.items():
            if not window.contains(values[name]):
                label = WINDOW_PROPERTIES[name][0]
                out.append((f"{label} outside {window.text()}",
                            f"{label} {_number(values[name])} is outside the window {window.text()}"))
        out.extend((alert, f"structural {alert}") for alert in structural_alerts(mol, self.alerts))
        return out

    def check(self, smiles: str) -> str | None:
        """The reason ``smiles`` is refused before docking, or None when it passes."""
        from .chemistry import parse_molecule, properties
        from .settings import DockingSettings

        defaults = DockingSettings()
        try:
            parsed = parse_molecule(smiles, self.max_heavy_atoms or defaults.max_heavy_atoms,
                                    self.max_rotatable_bonds or defaults.max_rotatable_bonds)
        except MoleculeError as exc:
            return str(exc)
        reasons = self.reasons(parsed.mol, properties(parsed.mol))
        return refusal(parsed.smiles, reasons) if reasons else None

    __call__ = check

    def constraint(self) -> Any:
        """This filter as a checked ``tg_core.Constraint`` for the optimizer: described to the
        model, and a proposal that fails is asked again with the reason, never accepted."""
        from tg_core.optimizer import Constraint

        from . import prompts

        windows = "; ".join(f"{WINDOW_PROPERTIES[k][0]} {w.text()}" for k, w in self.windows.items())
        parts = [prompts.FILTERS_ALERTS.format(catalogs=" or ".join(self.alerts))] if self.alerts else []
        if windows:
            parts.append(prompts.FILTERS_WINDOWS.format(windows=windows))
        return Constraint(" ".join(parts) or prompts.FILTERS_NONE, self.check)


def refusal(smiles: str, reasons: list[tuple[str, str]]) -> str:
    return f"{smiles} is refused before docking: {'; '.join(message for _, message in reasons)}"


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, int) else f"{value:.2f}"
