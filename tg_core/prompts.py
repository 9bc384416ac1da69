"""Every prompt the core sends, in one place.

Prompts are data: graph and optimizer logic only fill these templates, so a
reviewer can read (and a user can audit) everything an LLM is told without
reading control flow. Field names in braces are filled with ``str.format``.

Order convention (the same in every plugin's prompts module): what many calls
share comes first and what is specific to one call comes last. A message is
laid out as system prompt, then the task's fixed context (constraints,
examples, the role), then what changes slowly (past iterations, the report,
the judgement), then the variable and the request. llama.cpp reuses the
key/value cache of the longest prefix it has seen and API providers bill a
cached prefix at a discount, so calls that share a long head pay only for
their tail: the k candidates of one step share everything but the seed, and
a re-ask extends the previous conversation.
"""

IMPROVED_START = "<IMPROVED_VARIABLE>"
IMPROVED_END = "</IMPROVED_VARIABLE>"

# ---------------------------------------------------------------- backward

BACKWARD_SYSTEM = (
    "You are part of an optimization system that improves text (variables) through "
    "feedback. You are the gradient (feedback) engine. Your only job is to give "
    "specific, actionable criticism of one variable so that a downstream objective "
    "improves. Do not rewrite the variable and do not propose a full new version; "
    "explain what should change and why. Variables are enclosed in tags such as "
    "<VARIABLE> </VARIABLE>. Be concise and concrete."
)

LLM_CALL_CONVERSATION = (
    "<LM_SYSTEM_PROMPT> {system_prompt} </LM_SYSTEM_PROMPT>\n\n"
    "<LM_INPUT> {prompt} </LM_INPUT>\n\n"
    "<LM_OUTPUT> {response} </LM_OUTPUT>"
)

LLM_CALL_CONTEXT = (
    "A language model was called as follows:\n\n{conversation}\n\n"
    "The output is used as: {response_role}."
)

FEEDBACK_ON_OUTPUT = (
    "Here is the feedback we got for the {response_role} in the conversation:\n\n"
    "<FEEDBACK> {feedback} </FEEDBACK>"
)

OUTPUT_IS_OBJECTIVE = (
    "The output above is an evaluation (the objective we want to improve). Read it "
    "carefully: its criticisms are what the feedback must address."
)

BACKWARD_REQUEST = (
    "{context}\n\n{downstream}\n\n"
    "We are interested in giving feedback to the {variable_role} "
    "for this conversation. Specifically, give feedback to the following span of "
    "text:\n\n<VARIABLE> {variable_value} </VARIABLE>\n\n"
    "Given the above history, describe how the {variable_role} could be improved "
    "to improve the {objective}. Be very creative, critical, and intelligent."
)

SIMULATOR_CONTEXT = (
    "A deterministic function named '{name}' was run. Its purpose: {purpose}\n\n"
    "Its inputs were:\n{inputs}\n\n"
    "It returned ({output_role}):\n<FUNCTION_OUTPUT> {output} </FUNCTION_OUTPUT>"
)

SIMULATOR_INPUT = "<INPUT role=\"{role}\"> {value} </INPUT>"

AGGREGATE_SECTION = "<{tag} index=\"{index}\" role=\"{role}\">\n{value}\n</{tag}>"

AGGREGATE_CONTEXT = (
    "This variable was part {index} of {count} ({role}) in an aggregate "
    "({aggregate_role}). The feedback below was written on the whole aggregate; "
    "apply what concerns this part."
)

ANSWER_TOO_LONG = (
    "Your answer was cut at {max_tokens} tokens or kept repeating itself. Give it again, complete, "
    "in at most half that length: only the essential points."
)

SUM_CONTEXT = "This variable was one of {count} terms summed into: {sum_role}."

IN_CONTEXT_EXAMPLES_CONTEXT = (
    "{context}\n\nExamples of good outputs for this call, to judge the output against:\n"
    "<EXAMPLES>\n{examples}\n</EXAMPLES>"
)

EXAMPLE_ITEM = "<EXAMPLE> {example} </EXAMPLE>"

STRING_FUNCTION_INPUT = "<INPUT name=\"{name}\" role=\"{role}\"> {value} </INPUT>"

# One turn of a conversation given to a single-turn engine (TextGrad's EngineLM).
TRANSCRIPT_TURN = "<{role}> {content} </{role}>"

# ---------------------------------------------------------------- images

# Where an image sits in a prompt's text; the image itself follows the text as
# a content part after IMAGE_LABEL with the same index.
IMAGE_PLACEHOLDER = "<IMAGE index=\"{index}\" role=\"{role}\"/>"

IMAGE_LABEL = "IMAGE {index}:"

IMAGE_NOT_SHOWN = "[an image was here; it is not shown because {model} reads text only]"

MULTIMODAL_FIELD = "{name}: "

MULTIMODAL_CONVERSATION = (
    "<LM_SYSTEM_PROMPT> {system_prompt} </LM_SYSTEM_PROMPT>\n\n"
    "<LM_INPUT> {prompt} </LM_INPUT>\n\n"
    "<LM_OUTPUT> {response} </LM_OUTPUT>\n\n"
    "The images the input shows are attached below, labelled by index."
)

# ---------------------------------------------------------------- losses

MULTI_FIELD_FIELD = "<{tag}> {value} </{tag}>"

MULTI_FIELD_INPUT = "{instruction}\n\n{fields}"

TEST_TIME_SYSTEM = (
    "You review a solution to a multiple-choice question as part of an optimization "
    "system. Check the reasoning step by step and the final choice. Do not solve the "
    "problem yourself and do not give a new answer: point out every mistake, gap or "
    "doubtful step, critically and from several angles."
)

TEST_TIME_INPUT = "{instruction}\nQuestion: {{question}}\nAnswer by the language model: {{prediction}}"

IMAGE_QA_SYSTEM = "You evaluate answers to questions about images. Judge the answer against the image."

# ---------------------------------------------------------------- optimizer

OPTIMIZER_SYSTEM = (
    "You are part of an optimization system that improves text (variables). "
    "You will be given a variable, the role it plays, and feedback (criticism) "
    "written about it in the contexts where it was used. Rewrite the variable to "
    "address the feedback. The feedback may be noisy: identify what matters. "
    "Send the improved variable in the format "
    + IMPROVED_START
    + " {{the improved variable}} "
    + IMPROVED_END
    + ". Text outside these tags is discarded, so put nothing else between them."
    " The improved variable must be complete and usable as is."
)

OPTIMIZER_VARIABLE = (
    "Here is the role of the variable you will improve: <ROLE> {role} </ROLE>.\n\n"
    "The variable is the text within the following span (shown in full): "
    "<VARIABLE> {value} </VARIABLE>\n\n"
    "Here are the context and the feedback for the variable:\n\n{feedback}"
)

OPTIMIZER_FEEDBACK_ITEM = "<CONTEXT> {context} </CONTEXT>\n<FEEDBACK> {text} </FEEDBACK>"

# copies inside the feedback of the variable's value and of values already evaluated (tg_core.echoes)
ECHOED_VALUE = "[the value in <VARIABLE>, repeated unchanged]"
ECHOED_EVALUATED = "[a value already evaluated (listed above), repeated unchanged; it measured: {outcome}]"

OPTIMIZER_FEEDBACK_NO_CONTEXT = "<FEEDBACK> {text} </FEEDBACK>"

OPTIMIZER_FEEDBACK_CONDENSED = (
    "The feedback was too long to show in full ({pieces} pieces, about {tokens} tokens); "
    "here it is condensed:\n\n<FEEDBACK> {text} </FEEDBACK>"
)

OPTIMIZER_IMAGES = "The contexts above refer to these images:"

# Condensing feedback that is over its token budget (one call per variable and step).
CONDENSE_SYSTEM = (
    "You condense feedback for an optimization system. You will get many pieces of "
    "criticism about one variable, grouped by the context each was written in. Write one "
    "condensed feedback that keeps every distinct, actionable point, merges points that "
    "repeat (say how often a point came up: it shows what matters most), names the "
    "context when a point only applies there, and drops nothing that disagrees with the "
    "rest. Do not rewrite the variable. Stay under {max_words} words."
)

CONDENSE_GROUP = "<GROUP index=\"{index}\" pieces=\"{count}\">\n<CONTEXT> {context} </CONTEXT>\n{items}\n</GROUP>"

CONDENSE_REQUEST = (
    "The variable ({role}):\n<VARIABLE> {value} </VARIABLE>\n\n"
    "Condense the feedback above into one feedback for this variable."
)

OPTIMIZER_MOMENTUM = (
    "Here are the past iterations of this variable with the feedback each "
    "received, oldest first. Do not go back to a version that was criticised; keep "
    "what was learned:\n\n{history}"
)

OPTIMIZER_MOMENTUM_ITEM = (
    "<PAST_ITERATION index=\"{index}\">\n<VALUE> {value} </VALUE>\n"
    "<FEEDBACK> {feedback} </FEEDBACK>\n</PAST_ITERATION>"
)

OPTIMIZER_GRADIENT_MEMORY = (
    "Here is feedback this variable received in earlier steps, oldest first. "
    "Take it into account too:\n\n{memory}"
)

OPTIMIZER_GRADIENT_MEMORY_ITEM = "<PAST_FEEDBACK index=\"{index}\"> {text} </PAST_FEEDBACK>"

OPTIMIZER_CONSTRAINTS = (
    "You must follow these constraints when improving the variable:\n"
    "<CONSTRAINTS>\n{constraints}\n</CONSTRAINTS>"
)

# The values the loop has measured (OPRO's solution-score pairs): a small model
# sees what moved the score and can interpolate between near misses.
OPTIMIZER_SCORED = (
    "Values of this variable already evaluated, with what the program measured, worst first "
    "and best last. Learn from them: combine what made the best ones good, and do not "
    "propose any of them again:\n{items}"
)
SCORED_ITEM = "<EVALUATED> {value} </EVALUATED> measured: {outcome}"

OPTIMIZER_EXAMPLES = (
    "Here are examples of variables like this one, for reference:\n"
    "<EXAMPLES>\n{examples}\n</EXAMPLES>"
)

OPTIMIZER_REQUEST = (
    "Improve the variable ({role}) using the feedback above. Send the improved "
    "variable between " + IMPROVED_START + " and " + IMPROVED_END + " tags."
)

# Repeated right before the answer: small models follow what they read last.
OPTIMIZER_REQUEST_CONSTRAINTS = " The improved variable must follow every constraint: {constraints}"

OPTIMIZER_REASK = (
    "Your answer could not be used: {problem}. Answer again with the complete "
    "improved variable between exactly one " + IMPROVED_START + " tag and one "
    + IMPROVED_END + " tag."
)

# Why an answer is asked again (filled into OPTIMIZER_REASK as {problem}).
PROBLEM_CUT = (
    "it was cut at the limit of {max_tokens} tokens before it ended; send only the improved "
    "variable, complete and no longer than needed"
)
PROBLEM_REPEATING = "it repeats the same text over and over; send the improved variable once"
PROBLEM_CONSTRAINT = "the improved variable breaks the constraints: {reason}. Write a new one that follows them"
PROBLEM_TRIED = (
    "the improved variable is identical to a value already tried, which did not improve the "
    "objective. Values tried so far:\n{tried}\nPropose a clearly different improvement that "
    "addresses the feedback"
)
TRIED_ITEM = "<TRIED> {value} </TRIED>"
# Logged, not sent: why an answer was cut to what its constraints allow.
PROBLEM_REPAIRED = "{reason}; projected by the constraints' repair to: {repaired}"

# ---------------------------------------------------------------- tg run text

TEXT_SCORE_REQUEST = (
    "\n\nThe counts below the text are exact (counted by a program) and cover only those limits: "
    "judge everything else the goal asks for yourself. First say what is missing or wrong, then finish "
    "with a last line 'SCORE: N', where N is a whole number from 0 (misses the goal) to 10 (meets it fully)."
)

TEXT_SCORE_FOLLOWUP = "Now give only your score for this text, as one line: SCORE: N (N from 0 to 10)."

TEXT_REPORT = "<TEXT> {text} </TEXT>\n\nExact counts:\n{checks}"

TEXT_CHECKS_NONE = "(no checks were set)"

TEXT_PURPOSE = (
    "shows the text with every constraint the program checks (value, limit, met or missed); "
    "a better text meets every check and the goal"
)
