"""Exceptions a user can meet, each naming what to fix."""


class TGError(Exception):
    """Base class of tg-core's own errors."""


class EngineNotSetError(TGError):
    """No engine was passed and no default engine is set."""


class EngineConfigError(TGError, ValueError):
    """An engine spec, key or server setting is wrong.

    Also a ``ValueError``, as TextGrad raised for the same mistakes, so code
    written against TextGrad catches it.
    """


class EngineCallError(TGError):
    """An engine call failed for good (after any retries)."""


class BudgetExceededError(TGError):
    """The next call would go over the configured budget."""


class OptimizerError(TGError):
    """The optimizer could not produce a usable new value for some variables.

    The variables keep their old values; ``failures`` maps each variable's
    role description to the reason.
    """

    def __init__(self, message: str, failures: dict[str, str]) -> None:
        super().__init__(message)
        self.failures = failures


class PluginError(TGError):
    """A plugin is malformed or asks for something that is not there."""
