import asyncio

import pytest

import tg_core as tg
from tg_core import prompts as core_prompts
from tg_qa import Example, majority_vote, optimize_solution
from tg_qa import prompts as qa_prompts
from tg_qa.solution import AnswerReview, accuracy, asolve

QUESTION = Example("Which is the largest?", "C", ("1", "2", "9", "4"), id="largest")


def solver(updates, seen=None):
    """Zero-shot answers A; each optimizer call returns the next of ``updates`` (None: no tags)."""
    queue = iter(updates)

    def reply(messages, **params):
        if seen is not None:
            seen.append(messages)
        system = messages[0]["content"]
        if system == core_prompts.OPTIMIZER_SYSTEM:
            update = next(queue)
            return "no tags" if update is None else f"{core_prompts.IMPROVED_START} {update} {core_prompts.IMPROVED_END}"
        if system == core_prompts.BACKWARD_SYSTEM:
            return "The reasoning compares the wrong numbers."
        if system == qa_prompts.TEST_TIME_SYSTEM:
            return "9 is larger than 1, so A is a mistake."
        return "1 looks big.\nAnswer: A"

    return tg.FunctionEngine(reply)


def test_majority_vote_ignores_unreadable_answers_and_breaks_ties_by_recency():
    assert majority_vote(["A", "B", "B", None]) == "B"
    assert majority_vote(["A", "B"]) == "B"
    assert majority_vote(["B", "A", None, None, None]) == "A"
    assert majority_vote(["C", "A", "C", "A", "D"]) == "A"
    assert majority_vote([None, None]) is None
    assert majority_vote([]) is None


def test_the_answer_is_improved_under_the_format_constraint_and_voted():
    seen = []
    engine = solver(["Compare: 9 is largest.\nAnswer: C", "Still 9.\nAnswer: C", "Hmm.\nAnswer: D"], seen)
    result = optimize_solution(QUESTION, engine, iterations=3)
    assert result.letters == ("A", "C", "C", "D")
    assert result.vote == "C" and result.vote_correct and not result.final_correct and not result.zero_shot_correct
    assert engine.usage.calls == 1 + 3 * 3  # zero-shot, then per iteration: critic, backward, update
    update_requests = [m[1]["content"] for m in seen if m[0]["content"] == core_prompts.OPTIMIZER_SYSTEM]
    constraint = qa_prompts.ANSWER_FORMAT_CONSTRAINT.format(letters="ABCD")
    assert len(update_requests) == 3 and all(constraint in r for r in update_requests)
    critic_requests = [m[1]["content"] for m in seen if m[0]["content"] == qa_prompts.TEST_TIME_SYSTEM]
    assert "A) 1\nB) 2\nC) 9\nD) 4" in critic_requests[0] and "Answer: A" in critic_requests[0]
    assert QUESTION.answer not in critic_requests[0].split("Answer: A")[-1]  # the critic never sees the key


def test_an_answer_line_naming_no_letter_is_asked_again_with_what_was_read():
    seen = []
    engine = solver(["I think it is big.\nAnswer: maybe", "9 is largest.\nAnswer: C"], seen)
    result = optimize_solution(QUESTION, engine, iterations=1)
    assert result.letters == ("A", "C")
    reask = [m for m in seen if m[0]["content"] == core_prompts.OPTIMIZER_SYSTEM][1][-1]["content"]
    assert "breaks the constraints" in reask and "Answer: maybe" in reask


def test_an_iteration_without_a_usable_answer_does_not_vote():
    engine = solver([None, None, None, "Answer: C"])
    result = optimize_solution(QUESTION, engine, iterations=2)
    assert result.optimizer_failures == 1 and result.letters == ("A", "C") and result.vote == "C"


def by_question(messages, **params):
    """The optimizer fixes the 'largest' question; the 'smallest' one is right from the start."""
    system, request = messages[0]["content"], messages[-1]["content"]
    if system == core_prompts.OPTIMIZER_SYSTEM:
        letter = "C" if "largest" in request else "A"
        return f"{core_prompts.IMPROVED_START} Answer: {letter} {core_prompts.IMPROVED_END}"
    if system in (core_prompts.BACKWARD_SYSTEM, qa_prompts.TEST_TIME_SYSTEM):
        return "Check the comparison."
    return "Answer: A"


def test_many_questions_are_solved_concurrently_and_scored():
    second = Example("Which is the smallest?", "A", ("1", "2", "9", "4"), id="smallest")
    results = asyncio.run(asolve([QUESTION, second], tg.FunctionEngine(by_question), iterations=1))
    assert [r.example.id for r in results] == ["largest", "smallest"]
    # "smallest" was right from the start: the optimizer's identical answer is not a new one
    assert [r.letters for r in results] == [("A", "C"), ("A",)]
    assert results[1].optimizer_failures == 1
    assert accuracy(results) == {"zero_shot": 0.5, "final_iteration": 1.0, "majority_vote": 1.0}


def test_optimize_solution_rejects_questions_without_choices_and_bad_iterations():
    with pytest.raises(ValueError, match="'q1' has no choices"):
        optimize_solution(Example("2+2?", "4", id="q1"), solver([]))
    with pytest.raises(ValueError, match="iterations"):
        optimize_solution(QUESTION, solver([]), iterations=-1)


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        ("9 is largest.\nAnswer: C", "The answer line 'Answer: C' chooses C."),
        ("Answer: C\nI hope.", "chooses C. Text follows it, but 'Answer: $LETTER' must be the last line."),
        ("9 is largest.", "no line 'Answer: $LETTER', so it chooses none of ABCD."),
        ("Answer: B or C", "names several letters (B, C); it must name exactly one of ABCD."),
        ("Answer: F", "The answer line 'Answer: F' names none of the letters ABCD."),
    ],
)
def test_an_answer_review_gives_no_score_and_states_the_answer_line_then_the_critique(answer, line):
    seen = []
    score, feedback = AnswerReview(QUESTION, solver([], seen)).evaluate(answer)
    assert score is None
    assert line in feedback.split("\n\n")[0]
    assert feedback.endswith("Review of the reasoning:\n9 is larger than 1, so A is a mistake.")
    assert len(seen) == 1 and seen[0][0]["content"] == qa_prompts.TEST_TIME_SYSTEM
    assert answer in seen[0][-1]["content"] and "A) 1\nB) 2\nC) 9\nD) 4" in seen[0][-1]["content"]


def test_an_answer_review_checks_its_question_and_answer():
    with pytest.raises(ValueError, match="'q1' has no choices"):
        AnswerReview(Example("2+2?", "4", id="q1"), solver([]))
    with pytest.raises(TypeError, match="answer must be text, got int"):
        AnswerReview(QUESTION, solver([])).evaluate(3)
