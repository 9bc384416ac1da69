"""TextGrad's data helpers: ``tg.tasks.load_task`` and ``tg.tasks.DataLoader``.

Datasets are domain knowledge, so they live in a plugin (``tg_qa``), reached
through the ``tg_task_loader`` hook: the core never imports a plugin, and
``load_task`` says how to get one when none is installed. ``DataLoader`` is plain
Python (TextGrad's needed numpy): batches of ``(xs, ys)`` tuples, shuffled by
``random`` (seeded with ``seed=``, else by the global ``random.seed``, as a
TextGrad notebook's ``set_seed`` expects).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sequence
from typing import Any

OFFLINE_HINT = (
    "the datasets live in the QA plugin: pip install 'tg-core[qa]' (it generates the BBH tasks "
    "offline and loads your JSONL/CSV files), then call tg_core.tasks.load_task again"
)


def load_task(task_name: str | os.PathLike, evaluation_api: Any = None, **options: Any) -> tuple[Any, ...]:
    """``train_set, val_set, test_set, eval_fn`` by TextGrad's task name or for a data file.

    With tg_qa: ``BBH_object_counting`` and ``BBH_word_sorting`` are generated
    offline; a ``.jsonl``/``.csv`` path loads your own data.
    """
    from .plugins import get_plugins

    loader = get_plugins().manager.hook.tg_task_loader()
    if loader is None:
        raise ImportError(f"load_task({str(task_name)!r}): {OFFLINE_HINT}")
    return loader(task_name, evaluation_api, **options)


class DataLoader:
    """Iterate ``data`` (indexable, items ``(x, y)``) in batches, each ``(xs, ys)``."""

    def __init__(self, data: Sequence[Any], batch_size: int = 32, shuffle: bool = True, seed: int | None = None):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if len(data) == 0:
            raise ValueError("DataLoader: data is empty")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self._rng = random.Random(seed) if seed is not None else random

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        order = list(range(len(self.data)))
        if self.shuffle:
            self._rng.shuffle(order)
        for start in range(0, len(order), self.batch_size):
            batch = [self.data[i] for i in order[start : start + self.batch_size]]
            yield tuple(zip(*batch, strict=True)) if isinstance(batch[0], tuple) else tuple(batch)
