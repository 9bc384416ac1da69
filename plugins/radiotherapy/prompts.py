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

SIMULATOR_PURPOSE = (
    "Plans a prostate IMRT treatment ({beams}, 70.2 Gy prescription). It finds the "
    "beamlet fluences that minimise w_PTV * sum over PTV voxels of (dose - 70.2 Gy)^2 plus, for each "
    "organ, w_organ * sum over its voxels of (dose - level)^2 where the dose exceeds the level "
    "(bladder and rectum: 0 Gy, femoral heads and body: 30 Gy), then scales the plan so that 95% of "
    "the PTV gets 70.2 Gy. Only the ratios between the weights matter. Raising the PTV weight makes "
    "the target dose more uniform (lower hot spot and mean, better near-minimum dose) and lets organ "
    "doses rise; raising an organ's weight lowers that organ's dose at the expense of target "
    "uniformity. Changes of a factor 2 to 10 are often needed to move a metric noticeably."
)

BEAMS = "{count} coplanar 6 MV beams at gantry angles {angles} degrees"

# ---------------------------------------------------------------- the plan report

REPORT = (
    "Dose-volume report of an optimised plan (doses in Gy; Vx = % of the structure receiving at "
    "least x Gy; 'outside PTV' and 'ring 20-50 mm' are evaluation regions of the body).\n\n"
    "DVH table:\n"
    "{table}\n\n"
    "PTV statistics: mean dose {ptv_mean:.1f} Gy ({ptv_offset:+.1f} Gy from the prescription), "
    "near-maximum D2 {ptv_d2:.1f} Gy ({ptv_d2_pct:.0f}% of prescription), near-minimum D98 "
    "{ptv_d98:.1f} Gy ({ptv_d98_pct:.0f}%), homogeneity index (D2-D98)/D50 = {hi:.3f}, "
    "Paddick conformity index = {ci:.3f}.\n\n"
    "Clinical goals ({protocol}): {met} of {total} met.\n"
    "{goals}\n\n"
    "Plan for: {weights}\n"
    "Fluences optimised, then scaled by {scale:.3f} so that PTV D95 = {prescription:g} Gy."
)

GOAL_LINE = "- [{status}] {goal}: {value:.1f}{unit}"
GOAL_MET = "met"
GOAL_MISSED = "MISSED"

# ---------------------------------------------------------------- the judge (loss)

LOSS_SYSTEM = (
    "You are an experienced radiation oncologist reviewing a prostate IMRT plan against the "
    "treatment protocol below. The plan is optimised from five weights; you only see its "
    "dose-volume results.\n\n"
    "Protocol ({protocol}), prescription {prescription:g} Gy:\n{goals}\n\n"
    "Good plans meet every goal, keep the PTV dose close to the prescription (small hot spot, "
    "high near-minimum dose) and keep rectum and bladder doses as low as achievable.\n\n"
    "Answer in this structure, concisely:\n"
    "Evidence: the numbers that matter, goal by goal.\n"
    "Interpretation: what they mean clinically.\n"
    "Analysis: which trade-off is unbalanced and in which direction the plan should move.\n"
    "<FINAL> Decision: approve or revise. Reasons: the specific changes needed. </FINAL>\n"
    "If the report is an ERROR instead of a plan, say what is wrong with the weights text."
)

PROTOCOL_GOAL = "- {goal} ({source})"

# ---------------------------------------------------------------- the optimizer (TGD)

CONSTRAINTS = (
    "Write exactly: weight for PTV: <number>, weight for bladder: <number>, weight for rectum: "
    "<number>, weight for femoral heads: <number>, weight for body: <number>. Nothing else.",
    "Every weight is a plain non-negative number no larger than 1000000, and at least one is positive.",
)

CLINICIAN_EXAMPLE = "Clinician plan: {weights} -> {outcome}"

CLINICIAN_OUTCOME = (
    "PTV D98 {ptv_d98:.1f} Gy, Dmax {ptv_max:.1f} Gy; rectum mean {rectum_mean:.1f} Gy, V70 "
    "{rectum_v70:.1f}%; bladder mean {bladder_mean:.1f} Gy; {met} of {total} goals met"
)

CLINICIAN_WEIGHTS = (
    {"PTV": 2000, "bladder": 100, "rectum": 150, "femoral heads": 100, "body": 60},
    {"PTV": 5000, "bladder": 80, "rectum": 300, "femoral heads": 80, "body": 100},
    {"PTV": 10000, "bladder": 120, "rectum": 200, "femoral heads": 100, "body": 80},
)
"""Weight settings in the style of a planner's: the PTV weighted one to two orders above the organs."""
