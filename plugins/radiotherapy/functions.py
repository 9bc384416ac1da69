"""The plugin's graph nodes: the planning simulator and the protocol judge (factories).

Both build from keyword defaults alone (``plan_simulator()`` plans the
5 mm phantom against the built-in protocol), as every tg-core factory does.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING

from tg_core import SimulatorFunction, TextLoss

from . import prompts
from .plan_text import beams_text, protocol_text
from .task import DEFAULT_WEIGHTS_TEXT

if TYPE_CHECKING:
    from tg_core import Engine

    from .goals import Protocol
    from .planning import Planner



def plan_simulator(
    planner: Planner | None = None,
    grid_mm: float = 5.0,
    goals: str | Path | None = None,
    angles: Sequence[float] | None = None,
    executor: Executor | None = None,
) -> SimulatorFunction:
    """Weights text -> plan report (DVH table and goals); ``.data`` of the output is the Plan.

    Without ``planner``, one for the phantom at ``grid_mm``, the protocol
    file ``goals`` (the built-in one by default) and beams at the gantry
    ``angles`` (seven equispaced by default); nothing is computed until the
    first plan. Bad weights raise before any optimisation; the simulator
    turns the error into the output text, which the judge then criticises.
    """
    if planner is None:
        from .dose import BeamSettings
        from .goals import load_protocol
        from .planning import Planner

        beams = None if angles is None else BeamSettings(gantry_angles=tuple(float(a) for a in angles))
        planner = Planner(grid_mm=grid_mm, protocol=load_protocol(goals), beams=beams)
    return SimulatorFunction(
        planner.plan,
        purpose=prompts.SIMULATOR_PURPOSE.format(beams=beams_text(planner.beam_settings.gantry_angles)),
        name="prostate_plan",
        output_role=prompts.REPORT_ROLE,
        executor=executor,
        examples=[(DEFAULT_WEIGHTS_TEXT,)],
    )


def protocol_loss(engine: Engine | None = None, protocol: Protocol | None = None) -> TextLoss:
    """An LLM judge that compares a plan report with the protocol's goals (the built-in one by default)."""
    if protocol is None:
        from .goals import load_protocol

        protocol = load_protocol()
    system = prompts.LOSS_SYSTEM.format(
        protocol=protocol.name, prescription=protocol.prescription_gy, goals=protocol_text(protocol)
    )
    return TextLoss(system, engine=engine)
