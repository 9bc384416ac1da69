"""Every text tg_code sends to a model, in one place.

Order (issue 13, the convention of every plugin): what many calls share comes
first and what is specific to one call last, both in this module and inside
each template. Shared: the system prompts, the problem as the solver and the
reviewer read it, the roles of the variables, the test report; specific: the
code of one iteration, its test results, the request. The loss template puts
the instruction and the problem (the same at every iteration) before the code
and its test results (new each time), so a prefix cache reuses the start of
every call. Field names in braces are filled with ``str.format``.
"""

# ---------------------------------------------------------------- shared by every call of a run

INITIAL_SOLUTION_SYSTEM = (
    "You are an expert Python programmer. You write correct, efficient Python 3 code that uses "
    "only the standard library."
)

CODE_LOSS_SYSTEM = (
    "You are a careful code reviewer. You do not solve problems and do not write new code: you "
    "evaluate a proposed solution critically and give concise, concrete feedback."
)

PROBLEM_DESCRIPTION = (
    "{statement}\n\n"
    "The function to write has this signature:\n{signature}\n\n"
    "Visible tests (assert statements run against your code):\n{examples}"
)

PROBLEM_ROLE = "the coding problem (statement, signature and visible tests)"

INSTRUCTION_ROLE = "instruction for the code reviewer"

CODE_ROLE = "Python code solving the problem: complete source defining {signature}"

CODE_FIELD_ROLE = "the code"

TEST_RESULTS_FIELD_ROLE = "the test report"

CODE_CONSTRAINTS = (
    "Keep the function's name and signature exactly as required: {signature}",
    "Do not add assert statements, tests or example calls to the code.",
    "Send the complete code (imports, helpers and the function), not a fragment or a diff.",
)

COMPILES_CONSTRAINT = "The code must be valid Python 3 that compiles."

SYNTAX_PROBLEM = "the code does not compile: {error}: {message}{where}"

SYNTAX_PROBLEM_LINE = " (line {line})"

SYNTAX_PROBLEM_TEXT = ": {text}"

# ---------------------------------------------------------------- the test report (the simulator's output)

TEST_REPORT_PURPOSE = (
    "runs the code in a sandbox against the problem's {which} tests (Python assert statements) and "
    "reports the status of every test (passed, failed, error, timeout, memory, crashed) and, for every "
    "test that does not pass, the input, the expected and the actual value, output and a traceback. "
    "Better code passes more tests; all tests passing is the goal."
)

TEST_REPORT_ROLE = "results of running the code on the problem's {which} tests"

REPORT_COUNTS = "{passed}/{total} tests passed ({summary})."

REPORT_NOT_LOADED = "The code could not be loaded ({status}): {message}"

REPORT_STATUS_HEADER = "Status of every test, computed by running the code (facts, not to be checked again):"

REPORT_STATUS_ROW = "- Test {number}: {status}: {test}"

REPORT_DETAILS_HEADER = "The tests that did not pass, in detail:"

REPORT_MORE_FAILING = "... and {count} more tests that did not pass."

SIGNATURE_NOTE = "Signature check: {problem}"

LIMIT_NOTE = (
    "Test {number} is the limit test, a call at the largest inputs the problem allows: it passes when "
    "the code returns within the time limit of {timeout:g} s and the memory limit of {memory} MB (its "
    "answer is not checked). It fails when the algorithm is too slow or uses too much memory for inputs "
    "of that size."
)

# ---------------------------------------------------------------- the loss (TextGrad's code refinement)

CODE_LOSS_INSTRUCTION = (
    "The test results below were computed by running the code: which tests pass and which do not "
    "is known, do not check it again. For each test that did not pass, explain why the code fails "
    "it (follow its input through the code) and say what to change. Then say whether the code "
    "handles every valid input, edge cases included, within the input sizes the problem allows."
)

CODE_LOSS_TEMPLATE = (
    "{instruction}\n\n"
    "<PROBLEM>\n{problem}\n</PROBLEM>\n\n"
    "<CODE>\n{code}\n</CODE>\n\n"
    "<TEST_RESULTS>\n{test_results}\n</TEST_RESULTS>"
)

CODE_LOSS_ROLE = "evaluation of the code against the problem and its test results"

# ---------------------------------------------------------------- one call: the first solution

INITIAL_SOLUTION_REQUEST = (
    "Solve this problem.\n\n{description}\n\n"
    "Answer with the complete code (imports, helper functions and the function itself) in one "
    "```python block. Do not include tests or example calls."
)

# ---------------------------------------------------------------- one call: the limit test

LIMIT_SYSTEM = (
    "You are an expert competitive programmer. You write stress tests: calls at the largest inputs a "
    "problem's constraints allow."
)

LIMIT_REQUEST = (
    "Here is a problem.\n\n{description}\n\n"
    "Read its constraints and write one call of {entry_point} whose arguments are as large as the "
    "constraints allow: the worst case for running time and memory. Build big arguments with "
    "expressions such as [1] * 10**5, never by writing the values out. Answer "
    "with the call alone, on one line, in one ```python block:\n```python\n{entry_point}(...)\n```"
)

LIMIT_REQUEST_ROLE = "request for a call at the largest inputs the problem allows"

LIMIT_ANSWER_ROLE = "a call at the largest inputs the problem allows"
