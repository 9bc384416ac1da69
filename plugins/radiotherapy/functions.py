"""The plugin's graph nodes: the planning simulator and the protocol judge."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

from tg_core import SimulatorFunction, TextLoss

from . import prompts
from .report import protocol_text

if TYPE_CHECKING:
    from tg_core import Engine

    from .goals import Protocol
    from .planning import Planner


def plan_simulator(planner: Planner | None = None, executor: Executor | None = None) -> SimulatorFunction:
    """Weights text -> plan report (DVH table and goals); ``.data`` of the output is the Plan.

    Bad weights raise before any optimisation; the simulator turns the
    error into the output text, which the judge then criticises.
    """
    if planner is None:
        from .planning import Planner

        planner = Planner()
    return SimulatorFunction(
        planner.plan,
        purpose=prompts.SIMULATOR_PURPOSE,
        name="prostate_plan",
        output_role=prompts.REPORT_ROLE,
        executor=executor,
    )


def protocol_loss(protocol: Protocol | None = None, engine: Engine | None = None) -> TextLoss:
    """An LLM judge that compares a plan report with the protocol's goals."""
    if protocol is None:
        from .goals import load_protocol

        protocol = load_protocol()
    system = prompts.LOSS_SYSTEM.format(
        protocol=protocol.name, prescription=protocol.prescription_gy, goals=protocol_text(protocol)
    )
    return TextLoss(system, engine=engine)
