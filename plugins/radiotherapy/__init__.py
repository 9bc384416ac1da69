"""tg_radiotherapy: a prostate IMRT dose-volume simulator and plan optimisation by text.

Importing the package is light (the plugin registry loads it on every ``tg``
command); numpy, scipy and matplotlib load on first use of the names below.

    >>> import tg_radiotherapy  # doctest: +SKIP
    >>> p = tg_radiotherapy.plan("weight for PTV: 100, weight for bladder: 100, "
    ...     "weight for rectum: 100, weight for femoral heads: 100, weight for body: 100")
    >>> p.metrics["rectum"]["Dmean"], [g.met for g in p.goals]
"""

from tg_core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "plan": "planning",
        "Plan": "planning",
        "Planner": "planning",
        "prostate_phantom": "phantom",
        "case_from_arrays": "phantom",
        "hu_to_density": "phantom",
        "Case": "phantom",
        "CaseError": "phantom",
        "BeamSettings": "dose",
        "load_protocol": "goals",
        "ProtocolError": "goals",
        "parse_weights": "weights",
        "format_weights": "weights",
        "WeightsError": "weights",
        "plan_simulator": "functions",
        "protocol_loss": "functions",
    },
    submodules=("dvh", "dose", "fluence", "goals", "nnqp", "objective", "phantom", "plan_text", "planning", "plots", "report", "weights"),
)
