"""TextGrad's ``textgrad.autograd`` names, pointing at tg-core's own classes.

TextGrad's ``Module`` (a base with ``parameters()``) is ``Function`` here:
modules that hold trainable variables (``BlackboxLLM``) say so with their
own ``parameters()``.
"""

from .function import Function
from .function import Function as Module
from .llm_functions import FormattedLLMCall, LLMCall, LLMCall_with_in_context_examples
from .multimodal import MultimodalLLMCall, OrderedFieldsMultimodalLLMCall
from .reduce import (
    aggregate,
    sum,  # noqa: A004, F401  (tg.autograd.sum; kept out of __all__)
)
from .string_function import StringBasedFunction

__all__ = [
    "FormattedLLMCall",
    "Function",
    "LLMCall",
    "LLMCall_with_in_context_examples",
    "Module",
    "MultimodalLLMCall",
    "OrderedFieldsMultimodalLLMCall",
    "StringBasedFunction",
    "aggregate",
]
