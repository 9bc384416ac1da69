"""Every prompt and feedback template of tg_qa, in one place.

Prompts are data: datasets, evaluators, the trainer and the solution optimizer
only fill these templates with ``str.format``, so everything a language model
is told (and every feedback text an evaluator writes) can be read here.

Order (issue 13): what many calls share comes first (the system prompt, the
task's instruction, the check or judge and its rules), what is specific to one
call comes last (the question, the expected answer, then the response being
judged or rewritten). Calls that differ only in their last part then share a
prefix that llama.cpp's and the providers' prompt caches reuse.
"""

# ---------------------------------------------------------------- starting system prompts

# The task description TextGrad starts from for BBH object counting, kept
# word for word so that results compare with the paper.
OBJECT_COUNTING_SYSTEM = (
    "You will answer a reasoning question. Think step by step. The last line of your "
    "response should be of the following format: 'Answer: $VALUE' where VALUE is a "
    "numerical value."
)

WORD_SORTING_SYSTEM = (
    "You will sort a list of words alphabetically. Think step by step. The last line of "
    "your response should be of the following format: 'Answer: $WORDS' where WORDS are "
    "the sorted words separated by single spaces."
)

MULTIPLE_CHOICE_SYSTEM = (
    "You will answer multiple-choice questions. Think step by step. The last line of "
    "your response should be of the following format: 'Answer: $LETTER' where LETTER is "
    "the letter of the correct choice."
)

FREE_ANSWER_SYSTEM = (
    "You will answer a question. Think step by step. The last line of your response "
    "should be of the following format: 'Answer: $ANSWER' where ANSWER is the final "
    "answer only."
)

PROMPT_ROLE = (
    "structured system prompt to a somewhat capable language model that specifies the "
    "behavior and strategies for the QA task"
)

QUERY_ROLE = "query to the language model"
ANSWER_ROLE = "correct answer for the query"
PREDICTION_ROLE = "reasoning and prediction from the language model"
EVALUATION_ROLE = "evaluation of the response against the correct answer"
SUM_ROLE = "sum of the evaluations of a minibatch of answers"

VALIDATION_OUTCOME = "validation accuracy {accuracy:.2f} ({correct} of {total} answers correct)"

# A prompt candidate made of training examples with their correct answers
# (DSPy's labeled few-shot): the current prompt, then these. A small model
# copies a shown example better than it follows a rule, and the optimizer it
# would need to write the rule is the same small model.
# When the model itself answered a training question right, its reasoning is
# shown too (DSPy's bootstrapped few-shot): an answer alone shows a model
# told to think step by step a reply without steps, and it copies that.
DEMONSTRATIONS_HEADER = "Examples with their correct answers:"
DEMONSTRATION = "{question}\nAnswer: {answer}"
WORKED_DEMONSTRATION = "{question}\n{reasoning}\nAnswer: {answer}"

# ---------------------------------------------------------------- rendering questions

# After openai/simple-evals, as used by the TextGrad paper for MMLU and GPQA.
MULTIPLE_CHOICE_QUERY = (
    "Answer the following multiple choice question. The last line of your response "
    "should be of the following format: 'Answer: $LETTER' (without quotes) where LETTER "
    "is one of {letters}. Think step by step before answering.\n\n{question}\n\n{choices}"
)

CHOICE_LINE = "{letter}) {text}"

# ---------------------------------------------------------------- generated datasets

OBJECT_COUNTING_QUESTION = "I have {items}. How many {category} do I have?"

WORD_SORTING_QUESTION = "Sort the following words alphabetically: List: {words}"

# ---------------------------------------------------------------- evaluator feedback

EXACT_MATCH_CORRECT = "Correct: the final answer {extracted} matches the correct answer {answer}."

EXACT_MATCH_WRONG = (
    "Incorrect: the final answer read from the response is {extracted}, but the correct "
    "answer is {answer}."
)

EXACT_MATCH_NO_MARKER = (
    " The response has no final line 'Answer: ...', so the answer was guessed from its "
    "last {what}."
)

EXACT_MATCH_NOTHING = (
    "Incorrect: no final answer could be read from the response (no 'Answer: ...' line "
    "and no {what} in it); the correct answer is {answer}."
)

MULTIPLE_CHOICE_CORRECT = "Correct: the answer line chooses {letter}, the correct choice."

MULTIPLE_CHOICE_WRONG = (
    "Incorrect: the answer line chooses {letter}, but the correct choice is {answer}."
)

MULTIPLE_CHOICE_NO_LINE = (
    "Incorrect: the response has no line of the form 'Answer: $LETTER', so no choice "
    "was made; the correct choice is {answer}."
)

MULTIPLE_CHOICE_SEVERAL = (
    "Incorrect: the answer line '{line}' names several choices ({letters}); exactly one "
    "letter is required. The correct choice is {answer}."
)

MULTIPLE_CHOICE_NO_LETTER = (
    "Incorrect: the answer line '{line}' does not name one of the choices {valid}; the "
    "correct choice is {answer}."
)

MULTIPLE_CHOICE_TRAILING = (
    " Format problem: text follows the answer line, but 'Answer: $LETTER' must be the "
    "last line."
)

STRING_FUNCTION_PURPOSE = "a string check of the response"
SAME_TEXT_PURPOSE = "the whole response must be the answer"

STRING_FUNCTION_FEEDBACK = (
    "The check '{name}' ({purpose}) scored the response {score:.3g} on a scale from 0 "
    "(worst) to 1 (best); the expected answer is {answer}."
)

CHECK_CONTEXT = (
    "The check '{name}' compared a response with the expected answer.\n"
    "<EXPECTED_ANSWER> {answer} </EXPECTED_ANSWER>\n<RESPONSE> {prediction} </RESPONSE>"
)

DOWNSTREAM_FEEDBACK = "Further feedback on this evaluation: {feedback}"

# ---------------------------------------------------------------- LLM judge

VERDICT_START = "<VERDICT>"
VERDICT_END = "</VERDICT>"

JUDGE_INSTRUCTION = (
    "Below are a question, the correct answer and a response with reasoning and a final "
    "prediction. Decide whether the final prediction is correct, i.e. means the same as "
    "the correct answer. First explain briefly what is right or wrong in the response, "
    "then give your verdict as " + VERDICT_START + "correct" + VERDICT_END + " or "
    + VERDICT_START + "incorrect" + VERDICT_END + "."
)

JUDGE_ROLES = ("question for the task", "correct answer", PREDICTION_ROLE)

JUDGE_NO_VERDICT = (
    "\n\n(The judge gave no " + VERDICT_START + " verdict; the response counts as incorrect.)"
)

# ---------------------------------------------------------------- test-time solution optimization

SOLUTION_SYSTEM = (
    "You are a careful expert. Reason step by step, check your work, and follow the "
    "requested answer format exactly."
)

SOLUTION_ROLE = "creative and precise solution and the prediction for the multiple choice question"

SOLUTION_QUESTION_ROLE = "multiple choice question"

TEST_TIME_SYSTEM = (
    "You are a critical reviewer of answers to hard multiple-choice questions. You do not "
    "rewrite the answer; you find its mistakes."
)

TEST_TIME_INSTRUCTION = (
    "Below are a multiple-choice question and an answer to it. You are an expert "
    "scientist. Investigate the answer: go critically through its reasoning steps, use "
    "your knowledge, and say whether the answer is correct or has critical mistakes."
)

TEST_TIME_ROLES = (SOLUTION_QUESTION_ROLE, "answer by the language model")

# What the program reads on an answer's last line, stated in its review (no answer key).
ANSWER_LINE_CHOSEN = "The answer line '{line}' chooses {letter}."
ANSWER_LINE_MISSING = "The answer has no line 'Answer: $LETTER', so it chooses none of {letters}."
ANSWER_LINE_SEVERAL = "The answer line '{line}' names several letters ({named}); it must name exactly one of {letters}."
ANSWER_LINE_NO_LETTER = "The answer line '{line}' names none of the letters {letters}."
ANSWER_LINE_TRAILING = " Text follows it, but 'Answer: $LETTER' must be the last line."

ANSWER_REVIEW = "{answer_line}\n\nReview of the reasoning:\n{review}"

ANSWER_FORMAT_CONSTRAINT = (
    "The last line of your response should be of the following format: 'Answer: $LETTER' "
    "(without quotes) where LETTER is one of {letters}."
)

# ---------------------------------------------------------------- TextGrad's load_task

TEXTGRAD_EVAL_PURPOSE = (
    "checks, by program, whether the final answer of the prediction equals the ground truth "
    "answer; returns 1 when it does and 0 when it does not"
)
