"""tg_code: run generated code in a real sandbox and optimize it by text."""

from tg_core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "COMMON_MODULES": "sandbox",
        "LEVELS": "isolation",
        "LimitTest": "limits",
        "CodeRefinement": "refinement",
        "CodeTests": "functions",
        "Problem": "problems",
        "Sandbox": "sandbox",
        "SandboxError": "isolation",
        "SandboxResult": "results",
        "TestResult": "results",
        "UnknownProblemError": "problems",
        "code_refinement_loss": "functions",
        "code_tests": "functions",
        "extract_code": "extract",
        "get_problem": "problems",
        "initial_solution": "refinement",
        "limit_test": "limits",
        "problem_ids": "problems",
    },
    submodules=("prompts",),
)
