"""Loading the user's own QA files (JSONL or CSV), and the demo set shipped here.

No benchmark dataset (GSM8K, MMLU, GPQA) can be downloaded at run time, so
users bring theirs as files with this schema, one example per JSONL line or
CSV row:

- ``question`` (text, required);
- ``answer`` (required): the final answer as text or a number. GSM8K-style
  answers that end in ``#### 72`` keep only what follows the last ``####``.
  With choices, the answer is a letter ("B") or the exact text of a choice;
- ``choices`` (optional): a list of at least two strings (in CSV, a JSON
  array in the cell, e.g. ``["3 m", "4 m"]``); choices are lettered A, B, C...;
- ``split`` (optional): ``train``, ``validation`` (or ``val``/``dev``) or
  ``test``. If any row has a split, every row must have one;
- ``id`` (optional): defaults to the file name and line or row number.

Other fields are ignored. Files are UTF-8, or UTF-8/16/32 with a byte-order
mark. Errors name the file and the line (for CSV, the line a record starts on).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from .examples import DEFAULT_SIZES, Example, Splits, split_examples

SPLIT_NAMES = {"train": "train", "validation": "validation", "val": "validation", "dev": "validation", "test": "test"}
DEMO_FILE = "data/science_mc.jsonl"


BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
NEWLINE = "\n"  # the only line end: JSON strings may hold U+2028, which str.splitlines() breaks at
SAVE_AS = "save it as UTF-8 (or UTF-16 with a byte-order mark)"


def decode(data: bytes, source: str) -> str:
    """The text of a data file: UTF-8, or UTF-8/16/32 with a byte-order mark.

    A byte-order mark makes the encoding certain; without one the file must be
    UTF-8 (Excel and Windows tools write UTF-16 with one, so those files load).
    A NUL character never occurs in a question file but fills BOM-less UTF-16
    and binary files, so it is refused with a hint instead of a JSON error.
    """
    encoding, label = next(((enc, name) for bom, enc, name in BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].decode(encoding, errors="replace").count(NEWLINE) + 1
        raise ValueError(
            f"{source} line {line}: not {label} text (cannot decode byte 0x{data[exc.start]:02x}); "
            f"is it a binary file? If not, {SAVE_AS}"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise ValueError(
            f"{source} line {text.count(NEWLINE, 0, nul) + 1}: a NUL character, as in a binary file "
            f"or UTF-16 without a byte-order mark; {SAVE_AS}"
        )
    return text


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"{where}: JSON nested too deeply to read") from None


def _jsonl_rows(text: str, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.split(NEWLINE), 1):
        if not line.strip():
            continue
        row = _json(line, f"{source} line {number}")
        if not isinstance(row, dict):
            raise ValueError(f"{source} line {number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def _csv_records(text: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank record with the line it starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text))
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            detail = str(exc)
            if "field larger than field limit" in detail:
                detail = (
                    f"a cell longer than {csv.field_size_limit()} characters, most likely an unclosed "
                    "double quote running on through the file (use JSONL for cells this long)"
                )
            raise ValueError(f"{source} line {start}: unreadable CSV: {detail}") from None
        if cells:
            yield start, cells


def _csv_rows(text: str, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    records = _csv_records(text, source)
    _, header = next(records, (1, []))
    missing = {"question", "answer"} - set(header)
    if missing:
        raise ValueError(f"{source}: the CSV header lacks the column(s) {sorted(missing)}")
    for start, cells in records:
        yield start, dict(zip(header, cells, strict=False))


def _choices(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = _json(value, f"{where}: 'choices' (a JSON array of strings)")
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(c, str) and c.strip() for c in value):
        raise ValueError(f"{where}: 'choices' must be a list of at least two non-empty strings")
    if len(value) > 26:
        raise ValueError(f"{where}: at most 26 choices (A-Z), got {len(value)}")
    return tuple(c.strip() for c in value)


def _answer(value: Any, choices: tuple[str, ...] | None, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{where}: 'answer' must be text or a number, got {value!r}")
    answer = str(value).strip()
    if "####" in answer:
        answer = answer.rsplit("####", 1)[1].strip()
    if not answer:
        raise ValueError(f"{where}: 'answer' is empty")
    if not choices:
        return answer
    letters = "".join(chr(ord("A") + i) for i in range(len(choices)))
    if len(answer) == 1 and answer.upper() in letters:
        return answer.upper()
    if answer in choices:
        return letters[choices.index(answer)]
    raise ValueError(f"{where}: 'answer' {answer!r} is neither a letter in {letters} nor one of the choices")


def _example(row: dict[str, Any], where: str, default_id: str) -> tuple[Example, str | None]:
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: 'question' is missing or empty")
    if row.get("answer") is None:
        raise ValueError(f"{where}: 'answer' is missing")
    choices = _choices(row.get("choices"), where)
    answer = _answer(row["answer"], choices, where)
    split = row.get("split")
    if split is not None and split != "":
        if not isinstance(split, str) or split.strip().lower() not in SPLIT_NAMES:
            raise ValueError(f"{where}: 'split' must be train, validation or test, got {split!r}")
        split = SPLIT_NAMES[split.strip().lower()]
    else:
        split = None
    example_id = str(row.get("id") or default_id)
    return Example(question.strip(), answer, choices, example_id), split


def _parse(text: str, source: str, kind: str) -> list[tuple[Example, str | None]]:
    stem = Path(source).stem
    rows = _jsonl_rows(text, source) if kind == "jsonl" else _csv_rows(text, source)
    parsed = [_example(row, f"{source} line {number}", f"{stem}:{number}") for number, row in rows]
    if not parsed:
        raise ValueError(f"{source}: no examples in the file")
    return parsed


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(f"{path}: unknown file type {suffix or '(none)'}; use .jsonl or .csv")


def _read(path: str | os.PathLike) -> list[tuple[Example, str | None]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"QA data file {path} does not exist")
    kind = _kind(path)
    return _parse(decode(path.read_bytes(), str(path)), str(path), kind)


def load_examples(path: str | os.PathLike) -> list[Example]:
    """Every example of a JSONL or CSV file (schema in this module's docstring)."""
    return [example for example, _ in _read(path)]


def _splits_of(rows: list[tuple[Example, str | None]], source: str, sizes: Sequence[int], seed: int) -> Splits:
    named = [split for _, split in rows if split is not None]
    if not named:
        return split_examples([e for e, _ in rows], sizes, seed, source)
    if len(named) != len(rows):
        raise ValueError(f"{source}: some rows have a 'split' and others do not; give every row one")
    by_split = {name: tuple(e for e, split in rows if split == name) for name in ("train", "validation", "test")}
    for name in ("train", "validation"):
        if not by_split[name]:
            raise ValueError(f"{source}: no rows with split '{name}'")
    return Splits(by_split["train"], by_split["validation"], by_split["test"])


def load_splits(path: str | os.PathLike, sizes: Sequence[int] = DEFAULT_SIZES, seed: int = 0) -> Splits:
    """Train/validation/test from a file: its ``split`` column, else a seeded split of ``sizes``."""
    return _splits_of(_read(path), str(path), sizes, seed)


def multiple_choice_demo() -> tuple[Example, ...]:
    """24 four-choice science and arithmetic questions written for this project's tests and demos."""
    text = resources.files(__package__).joinpath(DEMO_FILE).read_text(encoding="utf-8")
    return tuple(example for example, _ in _parse(text, DEMO_FILE, "jsonl"))
