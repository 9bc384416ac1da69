"""Quality benchmark, QA domain: object counting prompt optimization, as the TextGrad paper's table.

The data is tg_qa's seeded object-counting generator with the bench seed as
its seed: a small train set, a validation set that gates every update, and
100 test examples kept apart (tg-core's run gets a test split of 0, so the
calls it makes are training and validation only, like the other arms). Every
arm trains the same starting system prompt over the same minibatches (the
order ``PromptTrainer.batch_for`` uses); the metric is the test accuracy of
the final prompt, answered at temperature 0 and checked with tg_qa's
``exact_match``, the same for every arm (and computed once per distinct prompt).
"""

from __future__ import annotations

import argparse
import math
import random
from pathlib import Path
from typing import Any

from quality_common import Context, Domain, read_checkpoints

TASK = "object_counting"


def batches(train_size: int, batch_size: int, seed: int, steps: int) -> list[list[int]]:
    """The training indices of steps 1..steps, as tg_qa's PromptTrainer.batch_for orders them."""
    per_epoch = math.ceil(train_size / batch_size)
    out = []
    for step in range(1, steps + 1):
        epoch, index = divmod(step - 1, per_epoch)
        order = list(range(train_size))
        random.Random(f"{seed}:{epoch + 1}").shuffle(order)
        out.append(order[index * batch_size: (index + 1) * batch_size])
    return out


class QADomain(Domain):
    name = "qa"
    task = "qa"
    metric = "object counting test accuracy"
    reconstructed = (
        "textgrad: the loop of its prompt-optimization tutorial (BlackboxLLM with a trainable system prompt, "
        "the object-counting StringBasedFunction loss of textgrad.tasks, tg.sum over the minibatch, backward, "
        "TGD, validation with revert); the minibatches are the ones tg-core uses, not its DataLoader's."
    )

    def __init__(self) -> None:
        self._measured: dict[tuple[int, str], dict[str, Any]] = {}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("qa domain")
        group.add_argument("--qa-train", type=int, default=9, help="training examples (default 9)")
        group.add_argument("--qa-validation", type=int, default=30, help="validation examples (default 30)")
        group.add_argument("--qa-test", type=int, default=100, help="test examples (default 100)")
        group.add_argument("--qa-batch-size", type=int, default=3, help="examples per step (default 3)")

    def check(self, options: argparse.Namespace) -> None:
        for name in ("qa_train", "qa_validation", "qa_test", "qa_batch_size"):
            if getattr(options, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(options, name)}")

    def settings(self, options: argparse.Namespace) -> dict[str, Any]:
        return {"task": TASK, "train": options.qa_train, "validation": options.qa_validation,
                "test": options.qa_test, "batch_size": options.qa_batch_size,
                "data_seed": "the bench seed", "metric_sampling": "temperature 0"}

    def cases(self, options: argparse.Namespace) -> list[dict[str, Any]]:
        return [{"id": TASK, "sizes": (options.qa_train, options.qa_validation, options.qa_test),
                 "batch_size": options.qa_batch_size}]

    @staticmethod
    def splits(case: dict[str, Any], seed: int) -> Any:
        from tg_qa import datasets

        return datasets.object_counting(seed=seed, sizes=tuple(case["sizes"]))

    def start(self, ctx: Context, case: dict[str, Any], engine: Any) -> dict[str, Any]:
        from tg_qa import prompts

        return {"value": prompts.OBJECT_COUNTING_SYSTEM}

    # -------------------------------------------------------------- arms

    def tg_core_args(self, ctx: Context, case: dict[str, Any], start: dict[str, Any], folder: Path) -> list[str]:
        train, validation, _ = case["sizes"]
        return ["--task", TASK, "--sizes", f"{train},{validation},0", "--seed", str(ctx.seed),
                "--batch-size", str(case["batch_size"]), "--system-prompt", start["value"], "--steps", str(ctx.steps)]

    def tg_core_outcome(self, run_dir: Path, case: dict[str, Any]) -> dict[str, Any]:
        prompts = read_checkpoints(run_dir, "system_prompt")
        return {"value": prompts[-1], "trajectory": prompts}

    def textgrad_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        splits = self.splits(case, ctx.seed)
        return {"program": "qa", "start": start["value"],
                "train": [[e.render(), e.answer] for e in splits.train],
                "validation": [[e.render(), e.answer] for e in splits.validation],
                "batches": batches(len(splits.train), case["batch_size"], ctx.seed, ctx.steps)}

    def gepa_spec(self, ctx: Context, case: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        train, validation, _ = case["sizes"]
        return {"candidate": {"system_prompt": start["value"]}, "component": "system_prompt",
                "train": [f"train:{i}" for i in range(train)], "val": [f"validation:{i}" for i in range(validation)],
                "minibatch_size": case["batch_size"], "perfect_score": 1.0,
                "objective": "A system prompt that makes the model answer object-counting questions correctly; "
                             "the answer's final number is checked against the true count."}

    # -------------------------------------------------------------- evaluation

    @staticmethod
    def answer(prompt: str, question: str, engine: Any) -> str:
        return engine.generate([{"role": "system", "content": prompt}, {"role": "user", "content": question}])

    def evaluate(self, ctx: Context, case: dict[str, Any], name: str, payload: dict[str, Any],
                 engine: Any) -> dict[str, Any]:
        from tg_qa.answers import exact_match

        if name != "gepa":
            raise KeyError(f"qa domain: no evaluator {name!r}")
        splits = self.splits(case, ctx.seed)
        prompt = payload["candidate"]["system_prompt"]
        out: dict[str, list[Any]] = {"scores": [], "outputs": [], "inputs": [], "feedback": []}
        for item in payload["batch"]:
            split, index = item.split(":")
            example = getattr(splits, split)[int(index)]
            reply = self.answer(prompt, example.render(), engine)
            correct = exact_match(reply, example.answer)
            out["scores"].append(1.0 if correct else 0.0)
            out["outputs"].append(reply)
            out["inputs"].append(example.render())
            out["feedback"].append("The final answer is correct." if correct
                                   else f"The final answer is wrong: the correct answer is {example.answer}.")
        return out

    def measure(self, ctx: Context, case: dict[str, Any], outcome: dict[str, Any], engine: Any) -> dict[str, Any]:
        from tg_qa.answers import exact_match

        key = (ctx.seed, outcome["value"])
        if key not in self._measured:
            test = self.splits(case, ctx.seed).test
            correct = sum(exact_match(self.answer(outcome["value"], e.render(), engine), e.answer) for e in test)
            self._measured[key] = {"test_accuracy": correct / len(test), "test_examples": len(test)}
        return dict(self._measured[key])

    def summarize(self, measured: list[dict[str, Any]]) -> dict[str, Any]:
        (only,) = measured
        return {"test_accuracy": only["test_accuracy"]}

    def key(self, summary: dict[str, Any]) -> tuple[float, ...]:
        return (summary["test_accuracy"],)

    def cell(self, summary: dict[str, Any]) -> str:
        return f"{summary['test_accuracy']:.3f}"


DOMAIN = QADomain()
