"""Every text an LLM reads in the radiotherapy plugin: roles, purpose, report, judge, examples.

Templates are filled with ``str.format``; logic elsewhere only fills them.

Convention (issue 13), for llama.cpp's and providers' prefix caches: what many
calls share comes first (the judge's system prompt with the protocol, the
simulator's purpose, the fixed header of a report) and what is specific to one
call last (the plan's numbers, then the weights that made it).
"""

WEIGHTS_ROLE = (
    "objective weights of the fluence optimization of a prostate IMRT plan, written exactly as "
    "'weight for PTV: <number>, weight for bladder: <number>, weight for rectum: <number>, "
    "weight for femoral heads: <number>, weight for body: <number>'"
)

REPORT_ROLE = "dose-volume report of the optimized treatment plan"

WEIGHTS_EFFECT = (
    "Only the ratios between the weights matter: multiplying every weight by the same factor gives "
    "the same plan. Raising the PTV weight makes the target dose more "
    "uniform (lower hot spot and mean, better near-minimum dose) and lets organ doses rise; raising "
    "an organ's weight lowers that organ's dose at the expense of target uniformity. Hot spots (PTV "
    "Dmax, the maximum dose of organs touching the PTV, outside PTV, ring 20-50 mm) come from a "
    "non-uniform target dose scaled up to cover the PTV: raising the PTV weight against all the others "
    "lowers them. Changes of a factor 2 to 10 are often needed to move a metric noticeably."
)

SIMULATOR_PURPOSE = (
    "Plans a prostate IMRT treatment ({beams}, 70.2 Gy prescription). It finds the "
    "beamlet fluences that minimise w_PTV * sum over PTV voxels of (dose - 70.2 Gy)^2 plus, for each "
    "organ, w_organ * sum over its voxels of (dose - level)^2 where the dose exceeds the level "
    "(bladder and rectum: 0 Gy, femoral heads and body: 30 Gy), then scales the plan so that 95% of "
    "the PTV gets 70.2 Gy. " + WEIGHTS_EFFECT
)

BEAMS = "{count} coplanar 6 MV beams at gantry angles {angles} degrees"

# ---------------------------------------------------------------- the plan report

REPORT = (
    "Dose-volume report of an optimised plan (doses in Gy; Vx = % of the structure receiving at "
    "least x Gy; 'outside PTV' and 'ring 20-50 mm' are evaluation regions of the body).\n\n"
    "Clinical goals ({protocol}), checked by the program: {met} of {total} met. {missed}\n"
    "{goals}\n\n"
    "DVH table:\n"
    "{table}\n\n"
    "PTV statistics: mean dose {ptv_mean:.1f} Gy ({ptv_offset:+.1f} Gy from the prescription), "
    "near-maximum D2 {ptv_d2:.1f} Gy ({ptv_d2_pct:.0f}% of prescription), near-minimum D98 "
    "{ptv_d98:.1f} Gy ({ptv_d98_pct:.0f}%), homogeneity index (D2-D98)/D50 = {hi:.3f}, "
    "Paddick conformity index = {ci:.3f}.\n\n"
    "Plan for: {weights}\n"
    "Fluences optimised, then scaled by {scale:.3f} so that PTV D95 = {prescription:g} Gy."
)

GOALS_HEADER = "| goal | value | threshold | status |\n|---|---|---|---|"
GOALS_ROW = "| {goal} | {value:.1f}{unit} | {op} {limit:.1f}{unit}{relative} | {status} |"
GOALS_RELATIVE = " ({percent:g}% of prescription)"
GOALS_MISSED_BY = "MISSED by {gap:.1f}{unit}"

MISSED_LIST = "Missed: {items}."
MISSED_ITEM = "{goal} (by {gap:.1f}{unit})"
MISSED_NONE = "Every goal is met."

# How a weight set did, in the optimizer's list of weight sets already planned.
OUTCOME = "{met} of {total} goals met. {missed}"
OUTCOME_NO_PLAN = "no plan (the weights could not be read)"

GOAL_LINE = "- [{status}] {goal}: {value:.1f}{unit}"
GOAL_MET = "met"
GOAL_MISSED = "MISSED"

# ---------------------------------------------------------------- the judge (loss)

LOSS_SYSTEM = (
    "You are an experienced radiation oncologist and treatment planner reviewing a prostate IMRT "
    "plan against the treatment protocol below. The plan is optimised from five weights (PTV, "
    "bladder, rectum, femoral heads, body): unitless factors, not doses. " + WEIGHTS_EFFECT + "\n\n"
    "Protocol ({protocol}), prescription {prescription:g} Gy:\n{goals}\n\n"
    "The report opens with a table of every goal: its value, its threshold and its status. The "
    "program computed that table exactly from the dose: take it as fact. Do not recompute it, do "
    "not compare numbers yourself, and never call a met goal missed.\n\n"
    "Your task is what the program cannot do: for each MISSED goal, explain why the plan misses it "
    "(which weight is too low or too high against the others), then say how the weights should "
    "change: which weights go up or down, and by roughly what factor (for example 'PTV weight x10'; "
    "never in Gy), without breaking the goals that are met. If every goal is met, say so and "
    "suggest no change.\n\n"
    "Answer concisely in this structure:\n"
    "Missed goals: one line per missed goal, with its reason.\n"
    "Changes: only the one or two weights to change against the others, each with its direction and "
    "a factor.\n"
    "If the report is an ERROR instead of a plan, say what is wrong with the weights text."
)

PROTOCOL_GOAL = "- {goal} ({source})"

# ---------------------------------------------------------------- the optimizer (TGD)

CONSTRAINTS = (
    "Write exactly: weight for PTV: <number>, weight for bladder: <number>, weight for rectum: "
    "<number>, weight for femoral heads: <number>, weight for body: <number>. Nothing else.",
    "Every weight is a plain non-negative number no larger than 1000000, and at least one is positive.",
)
"""The weights' format and range, shown to the optimizer; the parser checks both (``objective.weights_constraints``)."""

SAME_RATIOS_CONSTRAINT = (
    "Only the ratios between the weights matter: weights proportional to a set already planned in "
    "this run give the same plan, so change the ratios."
)

SAME_RATIOS_REASON = (
    "these weights are {factor:g} times '{planned}', which was already planned: only the ratios "
    "matter, so they give the same plan; change the ratios between the weights"
)

CLINICIAN_EXAMPLE = "Clinician plan: {weights} -> {outcome}"

CLINICIAN_OUTCOME = (
    "PTV D98 {ptv_d98:.1f} Gy, Dmax {ptv_max:.1f} Gy; rectum mean {rectum_mean:.1f} Gy, V70 "
    "{rectum_v70:.1f}%; bladder mean {bladder_mean:.1f} Gy; {met} of {total} goals met (missed: {missed})"
)

CLINICIAN_WEIGHTS = (
    {"PTV": 2000, "bladder": 100, "rectum": 150, "femoral heads": 100, "body": 60},
    {"PTV": 5000, "bladder": 80, "rectum": 300, "femoral heads": 80, "body": 100},
    {"PTV": 10000, "bladder": 120, "rectum": 200, "femoral heads": 100, "body": 80},
)
"""Weight settings in the style of a planner's: the PTV weighted one to two orders above the organs."""
