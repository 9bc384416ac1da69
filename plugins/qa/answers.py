"""Reading the final answer out of a model's response.

Models answer in prose, and a score must not depend on phrasing: numbers are
compared as numbers ("3", "3.0", "three", "The answer is 3." are all 3), text
answers as word sequences ("apple, banana." equals "apple banana"), and
multiple-choice answers are read only from the line the prompt asked for
("Answer: $LETTER"), because a letter mentioned while reasoning is not a choice.

Decisions for multiple choice (documented because graders differ):

- the last line starting with "Answer:" counts (a model may revise itself);
  text after it is tolerated but reported as a format problem;
- a line naming several letters ("A or C", "A, C") chooses nothing: hedging
  is not rewarded;
- no answer line means no choice, even if a letter appears elsewhere;
- a lone lowercase letter ("answer: c") is accepted; a lowercase letter
  followed by more text is read as a word, not a choice.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}

_NUMBER_WORD = "(?:" + "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True)) + ")"
_NUMBER_WORDS_RUN = re.compile(
    rf"\b{_NUMBER_WORD}(?:(?:[ \t]+and[ \t]+|[ \t]+|-){_NUMBER_WORD})*\b", re.IGNORECASE
)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?(?!\w)")
_THOUSANDS_COMMA = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LATEX_WRAPPERS = re.compile(r"\\(?:boxed|text|textbf|mathrm)\{([^{}]*)\}")
_LATEX_FRACTION = re.compile(r"\\d?frac\{([^{}]*)\}\{([^{}]*)\}")
_DECORATION = re.compile(r"\*\*|__|`|\$|\\[()\[\]]")

# "Answer: 3", "**Final answer:** 3", "The answer is 3."
_ANSWER_MARKER = re.compile(r"\banswer\b[\s*_]*(?::|\bis\b:?)", re.IGNORECASE)
# A line that starts with "Answer:" (after markdown decoration): the multiple-choice format.
_ANSWER_LINE = re.compile(r"^[ \t>*_#-]*(?:final[ \t]+)?answer[ \t*_]*:(.*)$", re.IGNORECASE | re.MULTILINE)
# The last line's "Answer: 3" (or "... is 3. **Answer:** 3"), to its end.
_FINAL_ANSWER_TAIL = re.compile(r"\s*\**answer\**\s*:[^\n]*\s*$", re.IGNORECASE)
_LEAD_IN = re.compile(
    r"^(?:(?:the\s+)?(?:correct\s+|final\s+)?(?:answer|option|choice)\s*(?:is\s*)?:?\s*)+",
    re.IGNORECASE,
)
_LETTER_TOKEN = r"[(\[]?([A-Za-z])[)\]]?(?=$|[\s).:,;/])"
_FIRST_LETTER = re.compile("^" + _LETTER_TOKEN)
_MORE_LETTERS = re.compile(r"^\s*(?:(?:,|/|&|\bor\b|\band\b)\s*)+[(\[]?([A-Z])[)\]]?(?=$|[\s).:,;/])")


def _clean(text: str) -> str:
    """Remove markdown and LaTeX decoration that hides a plain answer."""
    text = _LATEX_FRACTION.sub(r"\1/\2", text)
    text = _LATEX_WRAPPERS.sub(r"\1", text)
    return _DECORATION.sub("", text)


def _words_value(run: str) -> int:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", run.lower()):
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
    return total + current


def _with_digits(text: str) -> str:
    """Number words as digits ("twenty-one" -> "21") and no thousands commas."""
    text = _NUMBER_WORDS_RUN.sub(lambda m: str(_words_value(m.group(0))), _clean(text))
    return _THOUSANDS_COMMA.sub("", text)


def _value(token: str) -> float | None:
    if "/" in token:
        numerator, denominator = token.split("/")
        return float(numerator) / float(denominator) if float(denominator) else None
    return float(token)


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``, in order, digits or words."""
    values = (_value(m.group(0)) for m in _NUMBER.finditer(_with_digits(text)))
    return [v for v in values if v is not None]


def as_number(answer: str) -> float | None:
    """The value of an expected answer that is just a number ("7", "7.0", "seven", "$1,000")."""
    text = _with_digits(answer).strip().rstrip(".").strip()
    match = _NUMBER.fullmatch(text)
    return _value(match.group(0)) if match else None


def _number_in_segment(segment: str) -> float | None:
    """The number an answer segment states: one value, the result after '=', or the first."""
    text = _with_digits(segment)
    values = numbers_in(text)
    if not values:
        return None
    if len(set(values)) == 1:
        return values[0]
    if "=" in text:
        after = numbers_in(text.rsplit("=", 1)[1])
        if after:
            return after[0]
    return values[0]


def _segments(text: str) -> list[str]:
    """What follows each answer marker, last marker first: its line, or the next lines if empty."""
    segments = []
    for match in reversed(list(_ANSWER_MARKER.finditer(text))):
        rest = text[match.end():]
        line = rest.split("\n", 1)[0].strip()
        segments.append(line or rest.strip())
    return segments


@dataclass(frozen=True)
class NumberReading:
    value: float | None
    marked: bool  # read after an answer marker, not guessed from the last number


def read_number(prediction: str) -> NumberReading:
    """The final numeric answer: after the last answer marker that states one, else the last number."""
    for segment in _segments(prediction):
        value = _number_in_segment(segment)
        if value is not None:
            return NumberReading(value, True)
    values = numbers_in(prediction)
    return NumberReading(values[-1] if values else None, False)


@dataclass(frozen=True)
class TextReading:
    text: str | None
    marked: bool


def read_text(prediction: str) -> TextReading:
    """The final text answer: after the last answer marker with content, else the last line."""
    for segment in _segments(prediction):
        if normalized_words(segment):
            return TextReading(segment, True)
    lines = [line.strip() for line in prediction.splitlines() if line.strip()]
    return TextReading(lines[-1] if lines else None, False)


def normalized_words(text: str) -> list[str]:
    """Lowercase words without surrounding punctuation; commas and semicolons separate words."""
    words = re.split(r"[\s,;]+", _clean(text).lower())
    return [w for w in (word.strip(".:!?\"'()[]{}") for word in words) if w]


def format_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


@dataclass(frozen=True)
class AnswerMatch:
    """The outcome of comparing a response's final answer with the expected one."""

    correct: bool
    extracted: str | None  # the final answer as read, None if nothing could be read
    marked: bool  # read after an answer marker rather than guessed
    numeric: bool  # compared as numbers rather than as words


def match_answer(prediction: str, answer: str) -> AnswerMatch:
    """Compare the final answer of ``prediction`` with ``answer``: as numbers when ``answer``
    is one, else as word sequences."""
    _check_text(prediction, "prediction")
    _check_text(answer, "answer")
    expected = as_number(answer)
    if expected is not None:
        number = read_number(prediction)
        if number.value is None:
            return AnswerMatch(False, None, False, True)
        correct = math.isclose(number.value, expected, rel_tol=1e-9, abs_tol=1e-9)
        return AnswerMatch(correct, format_number(number.value), number.marked, True)
    text = read_text(prediction)
    if text.text is None:
        return AnswerMatch(False, None, False, False)
    return AnswerMatch(normalized_words(text.text) == normalized_words(answer), text.text, text.marked, False)


def reasoning_of(response: str) -> str:
    """``response`` without its final 'Answer: ...' (a worked example states the true answer itself)."""
    return _FINAL_ANSWER_TAIL.sub("", response.strip()).strip()


def exact_match(prediction: str, answer: str) -> bool:
    """True when the final answer of ``prediction`` equals ``answer`` (see ``match_answer``)."""
    return match_answer(prediction, answer).correct


@dataclass(frozen=True)
class ChoiceReading:
    """What the answer line of a multiple-choice response says."""

    letter: str | None  # the one valid letter chosen, else None
    line: str | None  # the answer line it was read from
    named: tuple[str, ...]  # the letters named on that line
    trailing: bool  # text follows the answer line
    problem: str | None  # None, "no_answer_line", "several_letters" or "no_letter"


def _letters_named(segment: str) -> tuple[str, ...]:
    segment = _LEAD_IN.sub("", _clean(segment).strip())
    first = _FIRST_LETTER.match(segment)
    if not first:
        return ()
    rest = segment[first.end():]
    if first.group(1).islower() and re.search(r"\w", rest):
        return ()
    named = [first.group(1).upper()]
    while more := _MORE_LETTERS.match(rest):
        named.append(more.group(1))
        rest = rest[more.end():]
    return tuple(dict.fromkeys(named))


def read_choice(prediction: str, letters: str = "ABCD") -> ChoiceReading:
    """The choice made on the last 'Answer:' line of ``prediction`` (see the module notes)."""
    _check_text(prediction, "prediction")
    matches = list(_ANSWER_LINE.finditer(prediction))
    if not matches:
        return ChoiceReading(None, None, (), False, "no_answer_line")
    last = matches[-1]
    line = last.group(0).strip()
    trailing = bool(prediction[last.end():].strip())
    named = _letters_named(last.group(1))
    if len(named) > 1:
        return ChoiceReading(None, line, named, trailing, "several_letters")
    if not named or named[0] not in letters:
        return ChoiceReading(None, line, named, trailing, "no_letter")
    return ChoiceReading(named[0], line, named, trailing, None)


def choice_letters(answer_letter: str, letters: str | None = None) -> str:
    """The valid letters: ``letters`` if given, else A-D extended to reach ``answer_letter``."""
    if letters is not None:
        if not letters or not letters.isalpha() or not letters.isupper():
            raise ValueError(f"letters must be upper-case letters such as 'ABCD', got {letters!r}")
        return letters
    last = max("D", answer_letter)
    return "".join(chr(c) for c in range(ord("A"), ord(last) + 1))


def check_answer_letter(answer_letter: str) -> str:
    if not isinstance(answer_letter, str) or not re.fullmatch(r"[A-Za-z]", answer_letter.strip()):
        raise ValueError(f"answer_letter must be one letter such as 'B', got {answer_letter!r}")
    return answer_letter.strip().upper()


def multiple_choice(prediction: str, answer_letter: str, letters: str | None = None) -> bool:
    """True when the last 'Answer: $LETTER' line of ``prediction`` chooses ``answer_letter``."""
    expected = check_answer_letter(answer_letter)
    valid = choice_letters(expected, letters)
    if expected not in valid:
        raise ValueError(f"answer_letter {expected!r} is not one of the letters {valid!r}")
    return read_choice(prediction, valid).letter == expected


def _check_text(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text (str), got {type(value).__name__}")
