"""What a sandbox run produced: one result per test, and the run as a whole.

The text rendering is what an LLM reads as the test report, so it leads with
the counts and the status of every test as the program computed it (a model
judging the code is told which tests pass, not asked), details only the tests
that did not pass, and stays bounded however much the code printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from . import prompts

STATUSES = ("passed", "failed", "error", "timeout", "memory", "crashed")
DETAILED_TESTS = 8  # non-passing tests shown in full in the text report
FIELD_CHARS = 600  # per field in the text report
STATUS_TEST_CHARS = 160  # per test in the status table


def shorten(text: str | None, limit: int) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


@dataclass
class TestResult:
    """One test: its status and what is known about why."""

    __test__ = False  # not a pytest test class

    index: int
    test: str
    status: str
    message: str = ""
    input: str | None = None
    expected: str | None = None
    actual: str | None = None
    stdout: str = ""
    stderr: str = ""
    traceback: str = ""
    runtime_s: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_text(self) -> str:
        lines = [f"Test {self.index + 1}: {self.status.upper()}" + (f" - {self.message}" if self.message else "")]
        lines.append("  test: " + shorten(self.test, FIELD_CHARS).replace("\n", "\n        "))
        for name in ("input", "expected", "actual"):
            value = getattr(self, name)
            if value is not None and not (name == "input" and value == self.test):
                lines.append(f"  {name}: {shorten(value, FIELD_CHARS)}")
        for name in ("stdout", "stderr", "traceback"):
            value = getattr(self, name)
            if value:
                body = shorten(value.rstrip(), FIELD_CHARS).replace("\n", "\n    ")
                lines.append(f"  {name}:\n    {body}")
        return "\n".join(lines)


@dataclass
class SandboxResult:
    """A whole run: ``passed`` only when the code loaded and every test passed."""

    tests: list[TestResult]
    isolation: str
    python: str = ""
    load_status: str = "passed"
    load_message: str = ""
    load_traceback: str = ""
    load_stdout: str = ""
    load_stderr: str = ""
    stdout: str = ""
    stderr: str = ""
    runtime_s: float = 0.0
    interpreters: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.load_status == "passed"

    @property
    def passed(self) -> bool:
        return self.loaded and all(t.passed for t in self.tests)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(t.status for t in self.tests)
        return {status: counted[status] for status in STATUSES if counted[status]}

    @property
    def pass_rate(self) -> float:
        if not self.tests:
            return 1.0 if self.loaded else 0.0
        return sum(t.passed for t in self.tests) / len(self.tests)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(passed=self.passed, pass_rate=self.pass_rate, counts=self.counts)
        return data

    def to_text(self) -> str:
        n_passed = sum(t.passed for t in self.tests)
        summary = ", ".join(f"{n} {status}" for status, n in self.counts.items()) or "no tests"
        lines = [prompts.REPORT_COUNTS.format(passed=n_passed, total=len(self.tests), summary=summary)]
        if not self.loaded:
            lines.append(prompts.REPORT_NOT_LOADED.format(status=self.load_status, message=self.load_message))
            for name in ("load_traceback", "load_stdout", "load_stderr"):
                value = getattr(self, name).rstrip()
                if value:
                    label = name.removeprefix("load_")
                    lines.append(f"  {label}:\n    " + shorten(value, FIELD_CHARS * 2).replace("\n", "\n    "))
        lines.extend(self.notes)
        failing = [t for t in self.tests if not t.passed]
        if self.loaded:
            lines.append(prompts.REPORT_STATUS_HEADER)
            lines.extend(prompts.REPORT_STATUS_ROW.format(number=t.index + 1, status=t.status if t.passed else
                                                          t.status.upper(), test=shorten(t.test, STATUS_TEST_CHARS))
                         for t in self.tests)
            if failing:
                lines.append(prompts.REPORT_DETAILS_HEADER)
            for test in failing[:DETAILED_TESTS]:
                lines.append(test.to_text())
            if len(failing) > DETAILED_TESTS:
                lines.append(prompts.REPORT_MORE_FAILING.format(count=len(failing) - DETAILED_TESTS))
        return "\n".join(lines)
