import asyncio
import itertools
import sys

import pytest

import tg_core as tg
from tg_core import prompts as core_prompts
from tg_qa import ExactMatchLoss, PromptTrainer, datasets
from tg_qa import prompts as qa_prompts
from tg_qa.answers import reasoning_of
from tg_qa.trainer import MAX_SOLUTION_CHARS

START = "Count the items."
SPLITS = datasets.object_counting(seed=0, sizes=(6, 10, 10))
ANSWERS = {e.question: e.answer for e in (*SPLITS.train, *SPLITS.validation, *SPLITS.test)}
TRAIN = {e.question for e in SPLITS.train}


def model_answer(system, question):
    """'careful' prompts always count right, 'sloppy' ones never, 'overfit' ones only on the training
    split, 'lucky' ones only on the questions in ``LUCKY``; prompts showing examples with their answers
    count right if ``demonstrations_help``; others get even answers right."""
    answer = int(ANSWERS[question])
    right = ("careful" in system or ("overfit" in system and question in TRAIN)
             or ("lucky" in system and question in LUCKY)
             or (DEMONSTRATIONS_HELP and qa_prompts.DEMONSTRATIONS_HEADER in system)
             or (not any(word in system for word in ("sloppy", "overfit", "lucky")) and answer % 2 == 0))
    return f"Counting...\nAnswer: {answer if right else answer + 1}"


DEMONSTRATIONS_HELP = False
LUCKY = {SPLITS.validation[i].question for i in (0, 1, 5)}  # the questions step 1 ranks on (seed 0)


@pytest.fixture
def demonstrations_help(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "DEMONSTRATIONS_HELP", True)


def scripted(proposals, recorder=None):
    """Forward answers by model_answer; the optimizer proposes ``proposals`` in order (None: an
    answer without the tags; an exception: the engine fails)."""
    queue = iter(proposals)

    async def reply(messages, **params):
        if recorder is not None:
            recorder.enter(messages, params)
        try:
            await asyncio.sleep(0.01)
            system = messages[0]["content"]
            if system == core_prompts.OPTIMIZER_SYSTEM:
                proposal = next(queue)
                if proposal is None:
                    return "I would rather not."
                if isinstance(proposal, Exception):
                    raise proposal
                return f"{core_prompts.IMPROVED_START} {proposal} {core_prompts.IMPROVED_END}"
            if system == core_prompts.BACKWARD_SYSTEM:
                return "Ask the model to count each item carefully."
            return model_answer(system, messages[-1]["content"])
        finally:
            if recorder is not None:
                recorder.leave()

    return tg.FunctionEngine(reply)


def baseline_accuracy(examples):
    return sum(int(e.answer) % 2 == 0 for e in examples) / len(examples)


def test_a_step_that_lowers_validation_accuracy_is_reverted_and_one_that_raises_it_is_kept():
    engine = scripted([f"{START} Be lucky.", f"{START} Be careful."])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, batch_size=3, demonstrations=0)
    trainer.train(2)
    worse, better = trainer.history
    start = trainer.versions[0]
    assert start.validation == baseline_accuracy(SPLITS.validation)
    assert trainer.ranking_for(1) == [0, 1, 5] and worse.ranked_on == [SPLITS.validation[i].id for i in (0, 1, 5)]
    assert worse.candidate == f"{START} Be lucky." and worse.source == "feedback"
    assert [c.batch_accuracy for c in worse.candidates] == [1.0]  # right on the ranking questions only
    assert (worse.accepted, worse.candidate_validation, worse.version) == (False, 0.3, 0)
    assert (better.accepted, better.candidate_validation, better.version) == (True, 1.0, 1)
    assert trainer.prompt.value == f"{START} Be careful."
    assert [v.prompt for v in trainer.versions] == [START, f"{START} Be careful."]
    assert trainer.versions[1].test == 1.0 and start.test == baseline_accuracy(SPLITS.test)
    assert "count each item carefully" in better.feedback


def test_a_step_that_keeps_validation_accuracy_equal_is_kept():
    engine = scripted([f"{START} Also say hello."])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(1)
    assert trainer.history[0].accepted and trainer.prompt.value.endswith("hello.")
    assert trainer.versions[1].scores == trainer.versions[0].scores  # per question, in split order
    start = len(SPLITS.validation) + len(SPLITS.test)
    # the batch, backward per example, the proposal, then its validation: the three ranking answers count
    # towards it, so only the other seven are asked; then the kept prompt's test
    assert engine.usage.calls == start + 3 + 3 + 1 + len(SPLITS.validation) + len(SPLITS.test)


def test_the_same_prompt_proposed_again_is_asked_again_with_another_seed_and_never_validated():
    seen = []

    class Seeds:
        def enter(self, messages, params):
            if messages[0]["content"] == core_prompts.OPTIMIZER_SYSTEM:
                seen.append(params["seed"])

        def leave(self):
            pass

    engine = scripted([START, START, f"{START} Be careful."], Seeds())
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(1)
    (record,) = trainer.history
    assert record.accepted and record.candidate == f"{START} Be careful." and record.note == ""
    assert len(set(seen)) == 3  # each re-ask its own seed, so a deterministic model can answer otherwise


def test_with_demonstrations_to_rank_a_copied_prompt_is_not_asked_again():
    engine = scripted([START])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START)
    trainer.train(1)
    (record,) = trainer.history
    assert [c.source for c in record.candidates] == ["demonstrations"] and record.accepted
    assert record.note == "the optimizer gave no new usable prompt (rejected answers: tried)"
    # the start's validation and test, the batch, backward per example, one proposal, the validation
    # (the ranking answers count towards it) and the kept prompt's test: TextGrad's calls for a step
    assert engine.usage.calls == 2 * (len(SPLITS.validation) + len(SPLITS.test)) + 3 + 3 + 1


def test_a_step_whose_every_answer_was_already_tried_is_recorded_without_validation():
    engine = scripted([START] * 3)
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(1)
    record = trainer.history[0]
    assert record.candidate is None and not record.accepted
    assert record.note == "the optimizer gave no new usable prompt (rejected answers: tried)"
    forward_calls = 3 + len(SPLITS.validation) + len(SPLITS.test)
    assert engine.usage.calls == forward_calls + 3 + 3  # + backward per example + three optimizer answers


def test_the_optimizer_sees_every_validated_prompt_with_its_accuracy_worst_first():
    prompts_sent = []

    class Prompts:
        def enter(self, messages, params):
            if messages[0]["content"] == core_prompts.OPTIMIZER_SYSTEM:
                prompts_sent.append(messages[-1]["content"])

        def leave(self):
            pass

    engine = scripted([f"{START} Be lucky.", f"{START} Be careful."], Prompts())
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(2)
    assert "<EVALUATED>" not in prompts_sent[0]  # one prompt measured: nothing to compare yet
    second = prompts_sent[1]
    total = len(SPLITS.validation)
    start = round(baseline_accuracy(SPLITS.validation) * total)
    assert second.index(f"<EVALUATED> {START} Be lucky. </EVALUATED> measured: validation accuracy 0.30 (3 of {total}") \
        < second.index(f"<EVALUATED> {START} </EVALUATED> measured: validation accuracy "
                       f"{start / total:.2f} ({start} of {total}")


def test_an_unparsable_optimizer_answer_keeps_the_prompt_and_training_goes_on():
    engine = scripted([None] * 3 + [f"{START} Be careful."])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(2)
    assert "no new usable prompt (rejected answers: malformed)" in trainer.history[0].note
    assert trainer.history[0].candidate is None and trainer.history[1].accepted


def test_a_budget_spent_during_the_update_ends_training_instead_of_counting_as_a_step():
    engine = scripted([tg.BudgetExceededError("max_calls reached")])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START)
    trainer.train(2)
    assert trainer.history == [] and trainer.prompt.value == START
    assert trainer.stopped.startswith("out of budget in step 1 (max_calls reached)")
    assert trainer.optimizer.state() == PromptTrainer(SPLITS, ExactMatchLoss(), engine, START).optimizer.state()


def test_another_engine_failure_during_the_update_still_stops_training_with_the_error():
    engine = scripted([tg.EngineCallError("outage")])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START)
    with pytest.raises(tg.EngineCallError, match="outage"):
        trainer.train(1)
    assert trainer.history == [] and not trainer.stopped


def test_minibatch_answers_and_feedback_are_concurrent(recorder):
    engine = scripted([f"{START} Be careful."], recorder)
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, batch_size=6, max_concurrency=4)
    asyncio.run(trainer.ainitialize())
    recorder.max_in_flight = 0
    asyncio.run(trainer.astep(1))
    assert recorder.max_in_flight == 4


def test_batches_follow_the_seed_cover_the_split_each_epoch_and_reshuffle():
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START, batch_size=4, seed=7)
    assert trainer.batches_per_epoch == 2
    epoch_one = [trainer.batch_for(s) for s in (1, 2)]
    epoch_two = [trainer.batch_for(s) for s in (3, 4)]
    assert [epoch for epoch, _ in epoch_one + epoch_two] == [1, 1, 2, 2]
    ids = [[e.id for e in batch] for _, batch in epoch_one + epoch_two]
    assert sorted(itertools.chain(*ids[:2])) == sorted(e.id for e in SPLITS.train)
    assert ids[:2] != ids[2:]
    again = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START, batch_size=4, seed=7)
    assert [e.id for e in again.batch_for(3)[1]] == ids[2]


def test_state_round_trips_and_restores_the_kept_prompt():
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([f"{START} Be careful."]), START)
    trainer.train(1)
    fresh = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START)
    fresh.load_state(trainer.state())
    assert fresh.prompt.value == f"{START} Be careful." and fresh.history == trainer.history
    assert [c.source for c in fresh.history[0].candidates] == ["feedback", "demonstrations"]
    assert fresh.versions == trainer.versions
    with pytest.raises(ValueError, match="not a trainer state"):
        fresh.load_state({"versions": []})


def test_constructor_rejects_bad_inputs_naming_them():
    engine = scripted([])
    with pytest.raises(ValueError, match="batch_size"):
        PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, batch_size=0)
    with pytest.raises(ValueError, match="starting system prompt"):
        PromptTrainer(SPLITS, ExactMatchLoss(), engine, "  ")
    with pytest.raises(TypeError, match="evaluator"):
        PromptTrainer(SPLITS, "exact_match", engine, START)
    with pytest.raises(ValueError, match="splits"):
        PromptTrainer(datasets.Splits((), (), ()), ExactMatchLoss(), engine, START)
    with pytest.raises(ValueError, match="demonstrations must be an integer >= 0, got -1"):
        PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=-1)


def test_a_candidate_fitted_to_the_training_examples_is_stopped_by_the_ranking_questions():
    engine = scripted([f"{START} Just overfit."])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    trainer.train(1)
    (record,) = trainer.history
    assert record.candidate is None and not record.accepted and record.candidates[0].batch_accuracy == 0.0
    assert record.note == ("no candidate did as well as the kept prompt on 3 validation questions "
                           "(0.00 against 0.67); none was validated further")
    forward_calls = 3 + len(SPLITS.validation) + len(SPLITS.test)
    assert engine.usage.calls == forward_calls + 3 + 1 + 3  # backward per example, the proposal, its ranking answers
    _, batch = trainer.batch_for(1)  # ranked on the minibatch the feedback was written from, it would have won
    assert [e.score for e in asyncio.run(trainer.ascore(f"{START} Just overfit.", batch))] == [1.0, 1.0, 1.0]


def test_a_state_saved_without_per_question_scores_resumes_and_validation_alone_decides():
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START, demonstrations=0)
    asyncio.run(trainer.ainitialize())
    state = trainer.state()
    del state["versions"][0]["scores"]  # as tg-core wrote it before the ranking questions
    engine = scripted([f"{START} Be sloppy."])
    resumed = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, demonstrations=0)
    resumed.load_state(state)
    resumed.train(1)
    (record,) = resumed.history
    assert record.candidates[0].batch_accuracy == 0.0 and record.note == ""
    assert (record.candidate, record.candidate_validation, record.accepted) == (f"{START} Be sloppy.", 0.0, False)
    assert engine.usage.calls == 3 + 3 + 1 + len(SPLITS.validation)


def test_when_the_optimizer_only_copies_the_prompt_labeled_training_examples_make_the_candidate(
    demonstrations_help,
):
    engine = scripted([START, f"{START} Be careful."])
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), engine, START, batch_size=2, demonstrations=2)
    trainer.train(2)
    first, second = trainer.history
    assert first.accepted and first.source == "demonstrations" and first.candidate_validation == 1.0
    assert "no new usable prompt (rejected answers: tried)" in first.note
    kept = trainer.versions[1].prompt
    assert kept.startswith(f"{START}\n\n{qa_prompts.DEMONSTRATIONS_HEADER}\n\n")
    shown = [e for e in (*SPLITS.train, *SPLITS.validation, *SPLITS.test) if e.render() in kept]
    assert len(shown) == 2 and {e.question for e in shown} <= TRAIN  # training examples only
    # the start answered both minibatch questions right (even answers): they are shown worked out
    assert {e.id for e in shown} == {e.id for e in trainer.batch_for(1)[1]}
    assert all(f"{e.render()}\nCounting...\nAnswer: {e.answer}" in kept for e in shown)
    # step 2: the optimizer's proposal and two more examples, ranked on validation questions; a tie goes
    # to the demonstrations, which keep the prompt whole
    assert [c.source for c in second.candidates] == ["feedback", "demonstrations"]
    assert [c.batch_accuracy for c in second.candidates] == [1.0, 1.0]
    assert second.candidates[1].prompt.startswith(kept) and second.candidates[1].prompt.count("\nAnswer: ") == 4
    assert second.source == "demonstrations"


def test_without_a_right_minibatch_answer_the_demonstrations_show_labeled_answers_then_worked_ones(
    demonstrations_help,
):
    sloppy = f"{START} Be sloppy."
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([sloppy, sloppy]), sloppy, batch_size=2,
                            demonstrations=2)
    trainer.train(1)
    (first,) = trainer.history
    assert trainer.solutions == {} and first.accepted and first.source == "demonstrations"
    kept = trainer.versions[1].prompt
    labeled = [e for e in SPLITS.train if f"{e.render()}\nAnswer: {e.answer}" in kept]
    assert len(labeled) == 2 and "Counting..." not in kept
    trainer.train(range(2, 3))  # the kept prompt answers its minibatch right: those come worked out
    second = trainer.history[1]
    batch = trainer.batch_for(2)[1]
    assert set(trainer.solutions) == {e.id for e in batch}
    added = second.candidates[-1].prompt.removeprefix(kept)
    assert second.candidates[-1].source == "demonstrations" and added.count("Counting...") == 2
    assert all(f"{e.render()}\nCounting...\nAnswer: {e.answer}" in added for e in batch if e.render() not in kept)


def test_only_short_right_answers_become_worked_examples_without_their_own_answer_line():
    assert reasoning_of("1 + 4 = 5.\nAnswer: 5") == "1 + 4 = 5."
    assert reasoning_of("So the total is 5. **Answer:** 5\n") == "So the total is 5."
    assert reasoning_of("First, 2.\nThe answer is 2.") == "First, 2.\nThe answer is 2."
    assert reasoning_of("Answer: 5") == ""
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START)
    batch = list(SPLITS.train[:4])
    replies = [f"Counting.\nAnswer: {batch[0].answer}", "Answer: " + batch[1].answer,
               "x" * (MAX_SOLUTION_CHARS + 1) + f"\nAnswer: {batch[2].answer}", "Counting.\nAnswer: 999"]
    responses = [tg.Variable(r, role_description="response") for r in replies]
    evaluations = [ExactMatchLoss().check(r, e.answer) for r, e in zip(replies, batch, strict=True)]
    trainer._keep_solutions(batch, responses, evaluations)
    assert trainer.solutions == {batch[0].id: "Counting."}  # not bare, not too long, not wrong


def test_worked_examples_survive_a_resume_and_a_state_without_them_still_loads():
    trainer = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([f"{START} Be careful."]), START)
    trainer.train(1)
    assert trainer.solutions
    fresh = PromptTrainer(SPLITS, ExactMatchLoss(), scripted([]), START)
    fresh.load_state(trainer.state())
    assert fresh.solutions == trainer.solutions
    old = trainer.state()
    del old["solutions"]
    fresh.load_state(old)
    assert fresh.solutions == {}
    with pytest.raises(ValueError, match="not a trainer state"):
        fresh.load_state({**trainer.state(), "solutions": 5})
