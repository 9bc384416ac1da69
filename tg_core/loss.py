"""TextGrad's ``textgrad.loss`` names, pointing at tg-core's own losses."""

from .losses import (
    MultiChoiceTestTime,
    MultiFieldEvaluation,
    MultiFieldTokenParsedEvaluation,
    TextLoss,
)
from .multimodal import ImageQALoss

__all__ = [
    "ImageQALoss",
    "MultiChoiceTestTime",
    "MultiFieldEvaluation",
    "MultiFieldTokenParsedEvaluation",
    "TextLoss",
]
