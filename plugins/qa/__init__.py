"""tg_qa: offline QA datasets, evaluators, prompt optimization and test-time answer optimization.

``tg_qa.datasets`` generates BBH-style tasks and loads your files;
evaluators are losses that return a score and feedback; ``PromptTrainer``
optimizes a system prompt over a dataset; ``optimize_solution`` improves one
multiple-choice answer at test time and votes, and ``AnswerReview`` is one
question's objective for any optimization loop. Names load on first use.
"""

from tg_core.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "AnswerReview": "solution",
        "Evaluation": "functions",
        "Evaluator": "functions",
        "ExactMatchLoss": "functions",
        "Example": "examples",
        "JudgeLoss": "functions",
        "MultipleChoiceLoss": "functions",
        "PromptTrainer": "trainer",
        "PromptVersion": "trainer",
        "SolutionResult": "solution",
        "Splits": "examples",
        "StepRecord": "trainer",
        "StringFunctionLoss": "functions",
        "TaskDataset": "textgrad_tasks",
        "aoptimize_solution": "solution",
        "asolve": "solution",
        "exact_match": "answers",
        "load_task": "textgrad_tasks",
        "majority_vote": "voting",
        "multiple_choice": "answers",
        "optimize_solution": "solution",
        "read_choice": "answers",
        "read_number": "answers",
    },
    submodules=("datasets",),
)
