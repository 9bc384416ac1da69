"""TextGrad's prompt optimization tutorial on tg_qa's datasets: load_task, DataLoader, eval_fn.

The tutorial's code runs with the import line and the engines changed. The
scripted test model answers each question right only once its system prompt
asks it to count each kind of object (it knows the answers, as a capable
model would); the evaluation function is the real program check, so the
accuracies below are measured, not scripted.
"""

import concurrent.futures
import json
import random

import pytest

import tg_core as tg
from tg_core import prompts

IMPROVED_PROMPT = "Count each kind of object separately, then add the counts. End with 'Answer: N'."


def engines(answers):
    def test_model(messages, **params):
        system, question = messages[0]["content"], messages[-1]["content"]
        if "Count each kind" in system and question in answers:
            return f"Counting each kind... Answer: {answers[question]}"
        return "Answer: 0"

    def eval_model(messages, **params):
        system = messages[0]["content"]
        if system == prompts.OPTIMIZER_SYSTEM:
            return f"{prompts.IMPROVED_START} {IMPROVED_PROMPT} {prompts.IMPROVED_END}"
        return "The answer is wrong: the objects of each kind were not counted."

    return tg.FunctionEngine(eval_model, model="eval"), tg.FunctionEngine(test_model, model="test")


def eval_sample(item, eval_fn, model):
    x, y = item
    x = tg.Variable(x, requires_grad=False, role_description="query to the language model")
    y = tg.Variable(y, requires_grad=False, role_description="correct answer for the query")
    response = model(x)
    eval_output_variable = eval_fn(inputs=dict(prediction=response, ground_truth_answer=y))
    return int(eval_output_variable.value)


def eval_dataset(test_set, eval_fn, model, max_samples=None):
    max_samples = len(test_set) if max_samples is None else max_samples
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as executor:
        futures = [executor.submit(eval_sample, test_set[i], eval_fn, model) for i in range(max_samples)]
        return [f.result() for f in concurrent.futures.as_completed(futures)]


def run_validation_revert(system_prompt, results, model, eval_fn, val_set):
    val_performance = sum(eval_dataset(val_set, eval_fn, model, 20)) / 20
    previous_performance = results["validation_acc"][-1]
    if val_performance < previous_performance:
        system_prompt.set_value(results["prompt"][-1])
        val_performance = previous_performance
    results["validation_acc"].append(val_performance)


def test_prompt_optimization_tutorial():
    random.seed(12)
    train_set, val_set, test_set, eval_fn = tg.tasks.load_task("BBH_object_counting", evaluation_api=None)
    assert (len(train_set), len(val_set), len(test_set)) == (50, 100, 100)
    answers = dict(train_set[i] for i in range(len(train_set)))
    answers.update(val_set[i] for i in range(len(val_set)))
    answers.update(test_set[i] for i in range(len(test_set)))
    llm_api_eval, llm_api_test = engines(answers)
    tg.set_backward_engine(llm_api_eval, override=True)
    starting_system_prompt = train_set.get_task_description()
    assert "Answer: $VALUE" in starting_system_prompt

    train_loader = tg.tasks.DataLoader(train_set, batch_size=3, shuffle=True)
    system_prompt = tg.Variable(starting_system_prompt, requires_grad=True,
                                role_description="structured system prompt to a somewhat capable language model "
                                                 "that specifies the behavior and strategies for the QA task")
    model = tg.BlackboxLLM(llm_api_test, system_prompt)
    optimizer = tg.TextualGradientDescent(engine=llm_api_eval, parameters=[system_prompt])
    results = {"test_acc": [], "prompt": [], "validation_acc": []}
    results["test_acc"].append(sum(eval_dataset(test_set, eval_fn, model, 20)) / 20)
    results["validation_acc"].append(sum(eval_dataset(val_set, eval_fn, model, 20)) / 20)
    results["prompt"].append(system_prompt.get_value())

    for steps, (batch_x, batch_y) in enumerate(train_loader):
        optimizer.zero_grad()
        losses = []
        for x, y in zip(batch_x, batch_y, strict=True):
            x = tg.Variable(x, requires_grad=False, role_description="query to the language model")
            y = tg.Variable(y, requires_grad=False, role_description="correct answer for the query")
            response = model(x)
            losses.append(eval_fn(inputs=dict(prediction=response, ground_truth_answer=y)))
        total_loss = tg.sum(losses)
        total_loss.backward()
        optimizer.step()
        run_validation_revert(system_prompt, results, model, eval_fn, val_set)
        results["test_acc"].append(sum(eval_dataset(test_set, eval_fn, model, 20)) / 20)
        results["prompt"].append(system_prompt.get_value())
        if steps == 1:
            break

    assert results["test_acc"][0] == 0.0 and results["test_acc"][-1] == 1.0
    assert results["validation_acc"] == [0.0, 1.0, 1.0]
    assert system_prompt.value == IMPROVED_PROMPT


def test_word_sorting_and_a_user_file(tmp_path):
    train_set, _, _, eval_fn = tg.tasks.load_task("BBH_word_sorting", sizes=(3, 2, 1), seed=4)
    question, answer = train_set[0]
    prediction = tg.Variable(f"Sorted: ... Answer: {answer}", role_description="prediction")
    truth = tg.Variable(answer, role_description="answer", requires_grad=False)
    assert eval_fn(inputs=dict(prediction=prediction, ground_truth_answer=truth)).value == "1"

    path = tmp_path / "mine.jsonl"
    rows = [{"question": f"Which is {i} + {i}?", "answer": "B", "choices": [str(2 * i + 1), str(2 * i)]}
            for i in range(7)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    train_set, val_set, test_set, eval_fn = tg.tasks.load_task(str(path), sizes=(3, 2, 2))
    assert (len(train_set), len(val_set), len(test_set)) == (3, 2, 2)
    x, y = test_set[0]
    assert "A) " in x and "B) " in x and y == "B"
    assert train_set.get_task_description().startswith("You will answer multiple-choice")
    truth = tg.Variable(y, role_description="answer", requires_grad=False)
    for prediction, correct in (("Answer: A", "0"), ("I think so.\nAnswer: B", "1")):
        guess = tg.Variable(prediction, role_description="prediction")
        assert eval_fn(inputs=dict(prediction=guess, ground_truth_answer=truth)).value == correct


@pytest.mark.parametrize("name", ["GSM8K_DSPy", "BBH_date_understanding", "MMLU_machine_learning"])
def test_datasets_that_need_a_download_name_the_offline_way(name):
    with pytest.raises(ValueError, match=rf"load_task\('{name}'\): this dataset is downloaded.*JSONL or CSV"):
        tg.tasks.load_task(name)


def test_unknown_task_and_missing_file_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown task"):
        tg.tasks.load_task("no_such_task")
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        tg.tasks.load_task(str(tmp_path / "nope.jsonl"))
    with pytest.raises(ValueError, match="task_name"):
        tg.tasks.load_task("  ")
