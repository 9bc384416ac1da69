"""Pictures of a plan: cumulative DVHs with the goals, and dose slices with structure outlines.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot state), so
plotting is safe from worker threads and never opens a window.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import dvh
from .phantom import REGIONS, STRUCTURES

if TYPE_CHECKING:
    from .goals import GoalResult
    from .planning import Plan

COLOURS = {
    "PTV": "tab:red", "bladder": "tab:olive", "rectum": "tab:brown", "femoral heads": "tab:blue", "body": "0.4",
    "outside PTV": "tab:purple", "ring 20-50 mm": "tab:cyan",
}


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def goal_point(result: GoalResult, plan: Plan) -> tuple[float, float]:
    """Where a goal sits on the cumulative DVH: (dose in Gy, volume in %).

    A V goal is the point (level, limit); a D goal (limit, volume): D<q> at
    q %, D<x>cc at x cc's share of the structure, Dmax at 0 %, Dmin at 100 %
    and Dmean (not a DVH point) at 50 %.
    """
    goal = result.goal
    kind, level = dvh.parse_metric(goal.metric)
    if kind == "V":
        return float(level), result.limit
    volume = {"Dmax": 0.0, "Dmin": 100.0, "Dmean": 50.0}.get(kind)
    if kind == "D":
        volume = float(level)
    elif kind == "Dcc":
        volume = min(100.0, 100.0 * float(level) / plan.case.volume_cc(goal.structure))
    return result.limit, float(volume)


def dvh_figure(plan: Plan, title: str = "") -> Figure:
    """Cumulative DVH of every structure (and of the regions goals name), with every goal marked.

    A goal is a triangle at its limit pointing the way the plan must stay
    (left for an upper dose limit, down for an upper volume limit, right for
    a lower dose limit), filled when met, hollow when missed, each with its
    own legend entry.
    """
    figure = Figure(figsize=(11, 5.2))
    axes = figure.add_subplot()
    top = max(plan.metrics["PTV"]["Dmax"] * 1.05, plan.protocol.prescription_gy * 1.2)
    levels = np.linspace(0.0, top, 300)
    regions = [r for r in REGIONS if any(g.goal.structure == r for g in plan.goals)]
    for structure in (*STRUCTURES, *regions):
        style = "-" if structure in STRUCTURES else "--"
        axes.plot(levels, dvh.cumulative_dvh(plan.doses(structure), levels), style, color=COLOURS[structure], label=structure)
    rx = plan.protocol.prescription_gy
    for result in plan.goals:
        goal = result.goal
        x, y = goal_point(result, plan)
        upper = goal.op in ("<", "<=")
        marker = ("v" if upper else "^") if goal.metric.startswith("V") else ("<" if upper else ">")
        colour = COLOURS[goal.structure]
        unit = "%" if goal.metric.startswith("V") else " Gy"
        label = (f"{goal.structure} {goal.metric} {goal.op} {result.limit:.1f}{unit}: "
                 f"{result.value:.1f} ({'met' if result.met else 'MISSED'})")
        axes.plot(x, y, linestyle="none", marker=marker, markersize=8, color=colour,
                  markerfacecolor=colour if result.met else "white", label=label)
    axes.axvline(rx, color="k", linestyle=":", linewidth=1)
    axes.set_xlabel("dose (Gy)")
    axes.set_ylabel("volume (%)")
    axes.set_xlim(0, top)
    axes.set_ylim(-2, 102)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0.0)
    axes.set_title(title or f"DVH: {plan.goals_met} of {len(plan.goals)} goals met (filled: met, hollow: missed)",
                   fontsize=10)
    return figure


def dvh_plot(plan: Plan, path: str | Path, title: str = "") -> Path:
    """The DVH figure (``dvh_figure``) written as a PNG."""
    return _save(dvh_figure(plan, title), Path(path))


def dvh_comparison_plot(start: Plan, final: Plan, path: str | Path, title: str = "") -> Path:
    """The DVHs of two plans of one case overlaid: the starting plan dashed, the final plan solid."""
    figure = Figure(figsize=(9, 5.2))
    axes = figure.add_subplot()
    top = max(start.metrics["PTV"]["Dmax"], final.metrics["PTV"]["Dmax"], final.protocol.prescription_gy * 1.15) * 1.03
    levels = np.linspace(0.0, top, 300)
    for structure in STRUCTURES:
        colour = COLOURS[structure]
        axes.plot(levels, dvh.cumulative_dvh(start.doses(structure), levels), "--", color=colour, linewidth=1.2,
                  label=f"{structure}, start")
        axes.plot(levels, dvh.cumulative_dvh(final.doses(structure), levels), "-", color=colour, linewidth=1.8,
                  label=f"{structure}, final")
    axes.axvline(final.protocol.prescription_gy, color="k", linestyle=":", linewidth=1)
    axes.set_xlabel("dose (Gy)")
    axes.set_ylabel("volume (%)")
    axes.set_xlim(0, top)
    axes.set_ylim(0, 102)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, borderaxespad=0.0)
    axes.set_title(title or f"start (dashed): {start.goals_met} goals met; final (solid): {final.goals_met} of "
                   f"{len(final.goals)}", fontsize=10)
    return _save(figure, Path(path))


def dose_slices_plot(plan: Plan, path: str | Path, title: str = "") -> Path:
    """Axial and sagittal dose through the isocentre, with every structure outlined."""
    case = plan.case
    centre = np.rint(np.array(case.isocenter_mm) / np.array(case.voxel_mm)).astype(int)
    centre = np.clip(centre, 0, np.array(case.shape) - 1)
    dz, dy, dx = case.voxel_mm
    views = (
        ("axial", lambda a: a[centre[0]], (0, case.shape[2] * dx, case.shape[1] * dy, 0), "x (mm)", "y (mm, posterior down)"),
        ("sagittal", lambda a: a[:, :, centre[2]].T, (0, case.shape[0] * dz, case.shape[1] * dy, 0), "z (mm, superior right)", "y (mm)"),
    )
    figure = Figure(figsize=(11, 4.6))
    vmax = max(plan.metrics["PTV"]["Dmax"], plan.protocol.prescription_gy)
    for i, (name, cut, extent, xlabel, ylabel) in enumerate(views, start=1):
        axes = figure.add_subplot(1, 2, i)
        image = axes.imshow(cut(plan.dose), cmap="jet", vmin=0, vmax=vmax, extent=extent, interpolation="nearest")
        ny, nx = cut(plan.dose).shape
        xs = (np.arange(nx) + 0.5) * (extent[1] / nx)
        ys = (np.arange(ny) + 0.5) * (extent[2] / ny)
        for structure in STRUCTURES:
            mask = cut(case.masks[structure]).astype(float)
            if mask.any():
                axes.contour(xs, ys, mask, levels=[0.5], colors=[COLOURS[structure]], linewidths=1.2)
        axes.set_title(f"{name} slice through the isocentre", fontsize=10)
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        figure.colorbar(image, ax=axes, label="dose (Gy)", shrink=0.85)
    figure.suptitle(title or plan.weights_text, fontsize=9)
    return _save(figure, Path(path))
