"""TextGrad's ``load_task``: tg_qa's datasets and the user's files under TextGrad's call.

``load_task("BBH_object_counting")`` returns train, validation and test sets
whose items are ``(question, answer)`` pairs, and an evaluation function
called as ``eval_fn(inputs=dict(prediction=..., ground_truth_answer=...))``
that returns 1 or 0, as TextGrad's tutorials expect. The BBH tasks are
generated offline (``tg_qa.datasets``); a path to a JSONL or CSV file loads
the user's data (schema in ``tg_qa.files``). Every check is computed by the
program, so ``evaluation_api`` is accepted and not used (TextGrad asked an
LLM whether the answer was right for some tasks). Datasets that would have to
be downloaded are refused with the offline way to use them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tg_core.string_function import StringBasedFunction
from tg_core.variable import Variable

from . import prompts
from .answers import exact_match, multiple_choice
from .examples import DEFAULT_SIZES, Example, Splits
from .files import load_splits
from .generators import object_counting, word_sorting

GENERATED = {
    "BBH_object_counting": (object_counting, prompts.OBJECT_COUNTING_SYSTEM),
    "BBH_word_sorting": (word_sorting, prompts.WORD_SORTING_SYSTEM),
}
DOWNLOADED = ("BBH_", "GSM8K", "MMLU", "GPQA", "LeetCode")
OFFLINE = (
    "save the data as a JSONL or CSV file (fields question, answer, optional choices and split; "
    "see tg_qa.files) and call load_task('path/to/file.jsonl'), or use the generated tasks "
    f"{', '.join(GENERATED)}"
)


class TaskDataset:
    """One split as TextGrad's datasets are: ``ds[i]`` is ``(question, answer)``."""

    def __init__(self, examples: Sequence[Example], task_description: str) -> None:
        self.examples = tuple(examples)
        self.task_description = task_description

    def __getitem__(self, index: int) -> tuple[str, str]:
        example = self.examples[index]
        return example.render(), example.answer

    def __len__(self) -> int:
        return len(self.examples)

    def get_task_description(self) -> str:
        return self.task_description


def _correct(prediction: Variable, ground_truth_answer: Variable) -> int:
    """1 if the prediction's final answer is the ground truth (a letter for multiple choice)."""
    answer = ground_truth_answer.value.strip()
    if len(answer) == 1 and answer.isalpha() and answer.isupper():
        return int(multiple_choice(prediction.value, answer))
    return int(exact_match(prediction.value, answer))


def evaluation_function() -> StringBasedFunction:
    return StringBasedFunction(_correct, function_purpose=prompts.TEXTGRAD_EVAL_PURPOSE)


def _splits(task_name: str, seed: int, sizes: Sequence[int]) -> tuple[Splits, str]:
    if task_name in GENERATED:
        make, description = GENERATED[task_name]
        return make(seed=seed, sizes=sizes), description
    path = Path(task_name)
    if path.suffix.lower() in (".jsonl", ".json", ".csv") or path.is_file():
        splits = load_splits(path, sizes, seed)
        multiple = any(e.choices for e in splits.train)
        return splits, prompts.MULTIPLE_CHOICE_SYSTEM if multiple else prompts.FREE_ANSWER_SYSTEM
    if task_name.startswith(DOWNLOADED):
        raise ValueError(f"load_task({task_name!r}): this dataset is downloaded by TextGrad and is not "
                         f"available offline here; {OFFLINE}")
    raise ValueError(f"load_task({task_name!r}): unknown task; {OFFLINE}")


def load_task(
    task_name: str | os.PathLike, evaluation_api: Any = None, *, seed: int = 0,
    sizes: Sequence[int] = DEFAULT_SIZES,
) -> tuple[TaskDataset, TaskDataset, TaskDataset, StringBasedFunction]:
    """``train_set, val_set, test_set, eval_fn`` for a generated task name or a data file."""
    if not isinstance(task_name, (str, os.PathLike)) or not str(task_name).strip():
        raise ValueError(f"load_task: task_name must be a task name or a file path, got {task_name!r}")
    splits, description = _splits(str(task_name), seed, sizes)
    sets = (TaskDataset(split, description) for split in (splits.train, splits.validation, splits.test))
    return (*sets, evaluation_function())
