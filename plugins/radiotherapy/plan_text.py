"""A plan as the LLMs read it: the simulator's report for the judge, the protocol, example lines for TGD.

The run report for people (report.md, per-step tables) is in ``report.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import prompts

if TYPE_CHECKING:
    from .goals import GoalResult, Protocol
    from .planning import Plan

TABLE_METRICS = ("Dmean", "D2", "D50", "D95", "D98", "Dmax", "V30", "V50", "V60", "V65", "V70", "V75")


def dvh_table(plan: Plan, metrics: tuple[str, ...] = TABLE_METRICS) -> str:
    """A fixed-width table, one row per structure; metrics a structure lacks show as '-'."""
    header = f"{'structure':<15}" + "".join(f"{m:>8}" for m in metrics)
    lines = [header]
    for structure, values in plan.metrics.items():
        cells = "".join(f"{values[m]:8.1f}" if m in values else f"{'-':>8}" for m in metrics)
        lines.append(f"{structure:<15}{cells}")
    return "\n".join(lines)


def goal_line(result: GoalResult, prescription_gy: float) -> str:
    return prompts.GOAL_LINE.format(
        status=prompts.GOAL_MET if result.met else prompts.GOAL_MISSED,
        goal=result.goal.describe(prescription_gy),
        value=result.value,
        unit="%" if result.unit == "%" else " Gy",
    )


def _unit(result: GoalResult) -> str:
    return "%" if result.unit == "%" else " Gy"


def missed_goals(goals: list[GoalResult]) -> str:
    """One sentence naming every missed goal and by how much (a small model misses rows of a table)."""
    items = [prompts.MISSED_ITEM.format(goal=f"{r.goal.structure} {r.goal.metric}", gap=abs(r.value - r.limit),
                                        unit=_unit(r)) for r in goals if not r.met]
    return prompts.MISSED_LIST.format(items=", ".join(items)) if items else prompts.MISSED_NONE


def goals_table(goals: list[GoalResult]) -> str:
    """Every goal with its value, threshold and status, computed by the program (the judge takes it as fact)."""
    rows = [prompts.GOALS_HEADER]
    for result in goals:
        goal = result.goal
        unit = _unit(result)
        relative = prompts.GOALS_RELATIVE.format(percent=goal.limit) if goal.unit == "%Rx" else ""
        gap = abs(result.value - result.limit)
        status = prompts.GOAL_MET if result.met else prompts.GOALS_MISSED_BY.format(gap=gap, unit=unit)
        rows.append(prompts.GOALS_ROW.format(
            goal=f"{goal.structure} {goal.metric}", value=result.value, unit=unit, op=goal.op, limit=result.limit,
            relative=relative, status=status,
        ))
    return "\n".join(rows)


def plan_report(plan: Plan) -> str:
    """What the simulator returns to the graph: DVH table, PTV statistics, goal by goal."""
    rx = plan.protocol.prescription_gy
    ptv = plan.metrics["PTV"]
    return prompts.REPORT.format(
        weights=plan.weights_text,
        scale=plan.scale,
        prescription=rx,
        table=dvh_table(plan),
        ptv_mean=ptv["Dmean"],
        ptv_offset=ptv["Dmean"] - rx,
        ptv_d2=ptv["D2"],
        ptv_d2_pct=100 * ptv["D2"] / rx,
        ptv_d98=ptv["D98"],
        ptv_d98_pct=100 * ptv["D98"] / rx,
        hi=ptv["HI"],
        ci=ptv["CI"],
        protocol=plan.protocol.name,
        met=plan.goals_met,
        total=len(plan.goals),
        missed=missed_goals(plan.goals),
        goals=goals_table(plan.goals),
    )


def beams_text(angles: tuple[float, ...]) -> str:
    """'7 coplanar 6 MV beams at gantry angles 0, 51.4, ... degrees'."""
    return prompts.BEAMS.format(count=len(angles), angles=", ".join(f"{a:g}" for a in angles))


def protocol_text(protocol: Protocol) -> str:
    return "\n".join(
        prompts.PROTOCOL_GOAL.format(goal=g.describe(protocol.prescription_gy), source=g.source or "protocol")
        for g in protocol.goals
    )


def clinician_example(plan: Plan) -> str:
    """One in-context example for the optimizer: weights and what they achieved."""
    m = plan.metrics
    outcome = prompts.CLINICIAN_OUTCOME.format(
        ptv_d98=m["PTV"]["D98"],
        ptv_max=m["PTV"]["Dmax"],
        rectum_mean=m["rectum"]["Dmean"],
        rectum_v70=m["rectum"]["V70"],
        bladder_mean=m["bladder"]["Dmean"],
        met=plan.goals_met,
        total=len(plan.goals),
        missed=", ".join(f"{g.goal.structure} {g.goal.metric}" for g in plan.goals if not g.met) or "none",
    )
    return prompts.CLINICIAN_EXAMPLE.format(weights=plan.weights_text, outcome=outcome)
