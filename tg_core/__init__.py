"""tg-core: automatic differentiation via text.

Importing this package has no side effects: no files, no logging setup, no
network, no plugin discovery (that happens on first use).
"""

from . import autograd, engine, engines, loss
from .aio import run_sync
from .batch import amap
from .batch import map_batch as map  # noqa: A004, F401  (tg.map; kept out of __all__)
from .calls import calls_limited_to
from .config import get_backward_engine, set_backward_engine
from .engine import EngineLM
from .engines import Budget, FunctionEngine, get_engine
from .engines.base import Engine
from .errors import (
    BudgetExceededError,
    EngineCallError,
    EngineConfigError,
    EngineNotSetError,
    OptimizerError,
    PluginError,
    TGError,
)
from .function import Function
from .hookspecs import hookimpl, override
from .images import Image
from .llm_functions import BlackboxLLM, FormattedLLMCall, LLMCall
from .losses import (
    MultiChoiceTestTime,
    MultiFieldEvaluation,
    MultiFieldTokenParsedEvaluation,
    TextLoss,
)
from .multimodal import ImageQALoss, MultimodalLLMCall
from .optimizer import TGD, TextualGradientDescent, TextualGradientDescentwithMomentum
from .paths import cache_dir
from .plugins import get_loss, get_simulator
from .reduce import (
    aggregate,
    sum,  # noqa: A004, F401  (tg.sum; kept out of __all__)
)
from .runs import Run
from .simulator import SimulatorFunction
from .string_function import StringBasedFunction
from .tasks import Task
from .variable import Feedback, Variable

__version__ = "0.1.0"

__all__ = [
    "TGD",
    "BlackboxLLM",
    "Budget",
    "BudgetExceededError",
    "Engine",
    "EngineCallError",
    "EngineConfigError",
    "EngineLM",
    "EngineNotSetError",
    "Feedback",
    "FormattedLLMCall",
    "Function",
    "FunctionEngine",
    "Image",
    "ImageQALoss",
    "LLMCall",
    "MultiChoiceTestTime",
    "MultiFieldEvaluation",
    "MultiFieldTokenParsedEvaluation",
    "MultimodalLLMCall",
    "OptimizerError",
    "PluginError",
    "Run",
    "SimulatorFunction",
    "StringBasedFunction",
    "TGError",
    "Task",
    "TextLoss",
    "TextualGradientDescent",
    "TextualGradientDescentwithMomentum",
    "Variable",
    "aggregate",
    "amap",
    "autograd",
    "cache_dir",
    "calls_limited_to",
    "engine",
    "engines",
    "get_backward_engine",
    "get_engine",
    "get_loss",
    "get_simulator",
    "hookimpl",
    "loss",
    "override",
    "run_sync",
    "set_backward_engine",
]
# ``map`` and ``sum`` are reached as ``tg.map`` and ``tg.sum``; they stay out of
# ``__all__`` so that ``from tg_core import *`` never shadows the builtins.
